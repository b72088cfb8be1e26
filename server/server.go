// Package server wires the loghost (`watchpost serve`): configuration,
// store, ingest API, syslog listener, self collection, stream consumers,
// dashboard and metrics; and it shuts them down in order.
package server

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/heartbeat"
	"github.com/watchpost/watchpost/ingest"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/uptime"
	"github.com/watchpost/watchpost/vantage"
)

// Options are the command line's part of `watchpost serve`.
type Options struct {
	ConfigPath string // "" runs on the embedded defaults
	DataDir    string // flag -data; wins over the config file
	Listen     string // flag -listen; wins over the config file
	Argv0      string // how the program was started (os.Args[0]), for the banner's hints
	// SyslogListen, when set, is flag -syslog-listen ("" turns syslog
	// off); it wins over the config file.
	SyslogListen *string
	Out          io.Writer
	Logger       *slog.Logger
	Now          func() time.Time
	// Reload receives a value for each SIGHUP.
	Reload <-chan os.Signal
	// Ready, when set, is called with the bound addresses once serving.
	Ready func(Addrs)
}

// Addrs are the addresses the loghost listens on (useful with port 0).
type Addrs struct {
	HTTP, SyslogUDP, SyslogTCP string
}

// Run serves until ctx ends, then stops intake, lets the writer commit
// what it accepted, and returns.
func Run(ctx context.Context, o Options) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	st, err := resolve(cfg, o)
	if err != nil {
		return err
	}
	lh, err := start(ctx, o, cfg, st)
	if err != nil {
		return err
	}
	return lh.wait(ctx)
}

func loadConfig(o Options) (*config.Config, error) {
	if o.ConfigPath == "" {
		dir := o.DataDir
		if dir == "" {
			dir = "watchpost-data"
		}
		return config.Default(dir), nil
	}
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// loghost is a running loghost.
type loghost struct {
	o       Options
	st      settings
	store   *store.Store
	sets    []*metrics.Set
	httpSrv *http.Server
	wg      sync.WaitGroup
	errc    chan error
	cancel  context.CancelFunc
	reload  func(*config.Config)
	// hot is the generation of probes and alerting in force; a reload
	// replaces it. tracker and beats live as long as the loghost and take
	// the new configuration (index) on reload.
	hot        atomic.Pointer[hot]
	index      atomic.Pointer[checkIndex]
	tracker    *uptime.Tracker
	beats      *heartbeat.Service
	thresholds *thresholdWatch
	// statusChanged tells the public page's cache that a check changed
	// state (nil in tools that run no page).
	statusChanged func()
	// feeds carries heartbeat results from log rules to a goroutine that
	// records them outside the rules consumer's transaction.
	feeds chan heartbeatFeed
	// console is the admin console's state (maintenance windows,
	// subscribers, the configuration in force).
	console *consoleState
	// tokens authenticate collectors; vantage decides checks run from
	// several places (package vantage).
	tokens  *ingest.Tokens
	vantage atomic.Pointer[vantage.Engine]
}

func (l *loghost) wait(ctx context.Context) error {
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-l.errc:
		l.o.Logger.Error("loghost stopping", "err", runErr)
	}
	l.o.Logger.Info("stopping: no new intake; committing what was accepted")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if l.httpSrv != nil {
		l.httpSrv.Shutdown(shutCtx)
	}
	l.cancel()
	l.wg.Wait()
	if h := l.hot.Load(); h != nil {
		h.wg.Wait()
	}
	if err := l.store.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	l.o.Logger.Info("stopped")
	return runErr
}

// startConsumer runs a stream consumer, restarting it after errors.
func (l *loghost) startConsumer(ctx context.Context, name string, fn func(context.Context, *sql.Tx, []store.Record) error) {
	l.startConsumerGated(ctx, name, nil, fn)
}

// startConsumerGated is startConsumer with a gate before each batch (see
// store.ConsumeGated).
func (l *loghost) startConsumerGated(ctx context.Context, name string, gate func(context.Context) error, fn func(context.Context, *sql.Tx, []store.Record) error) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			err := l.store.ConsumeGated(ctx, name, 0, gate, fn)
			if ctx.Err() != nil {
				return
			}
			l.o.Logger.Error("consumer failed; restarting from its cursor", "consumer", name, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
}

// listen binds addr; guard (when set) bounds the connections under the
// TLS layer, so a handshake takes a place too.
func listen(addr string, tlsCfg *tls.Config, guard func(net.Listener) net.Listener) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if guard != nil {
		ln = guard(ln)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	return ln, nil
}

func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	return nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

var errNoTLS = errors.New("tls_cert_file and tls_key_file go together")
