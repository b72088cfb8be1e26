package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/logapi"
	"github.com/watchpost/watchpost/vlogs"
)

// stallKey is the incident of VictoriaLogs not taking lines.
const stallKey = "victorialogs:unreachable"

// defaultLocalRetention is how long a loghost with VictoriaLogs as its
// primary log store keeps lines VictoriaLogs confirmed.
const defaultLocalRetention = 24 * time.Hour

// vlPrimary reports whether VictoriaLogs answers searches.
func vlPrimary(cfg *config.Config) bool {
	return cfg.Storage.VictoriaLogs != "" && cfg.Storage.VictoriaLogsOpts.Mode == "primary"
}

// localRetention is the embedded store's retention: in primary mode the
// shorter of storage.retention and storage.victorialogs.local_retention.
func localRetention(cfg *config.Config) time.Duration {
	r := time.Duration(cfg.Storage.Retention)
	if !vlPrimary(cfg) {
		return r
	}
	local := time.Duration(cfg.Storage.VictoriaLogsOpts.LocalRetention)
	if local == 0 {
		local = defaultLocalRetention
	}
	if r == 0 || local < r {
		return local
	}
	return r
}

// vlConfirmed holds the running shipper's confirmed seq for the store's
// retention (primary mode): lines VictoriaLogs has not confirmed stay.
type vlConfirmed struct{ sh atomic.Pointer[vlogs.Shipper] }

func (c *vlConfirmed) seq() int64 {
	if sh := c.sh.Load(); sh != nil {
		return sh.Confirmed()
	}
	return 0
}

// startVictoriaLogs ships every log line to VictoriaLogs when
// storage.victorialogs_url is set and returns what answers searches: the
// embedded store, or in primary mode VictoriaLogs with the lines it has
// not confirmed yet from the embedded store.
func (l *loghost) startVictoriaLogs(ctx context.Context, cfg *config.Config, confirmed *vlConfirmed, set *metrics.Set) (logapi.Searcher, error) {
	u := cfg.Storage.VictoriaLogs
	v := cfg.Storage.VictoriaLogsOpts
	mode := v.Mode
	if u != "" && mode == "" {
		mode = "mirror"
	}
	if err := vlogs.RecordMode(ctx, l.store.DB(), mode); err != nil {
		return nil, err
	}
	if u == "" {
		return l.store, nil
	}
	c, err := vlogs.NewClient(vlogs.ClientOptions{URL: u, AccountID: uint32(v.AccountID), ProjectID: uint32(v.ProjectID),
		Username: v.Username, Password: string(v.Password), BearerToken: string(v.BearerToken),
		TLSCAFile: v.TLSCAFile, TLSInsecureSkipVerify: v.TLSInsecureSkipVerify})
	if err != nil {
		return nil, err
	}
	log := l.o.Logger.With("component", "victorialogs")
	db := l.store.DB()
	newShipper := func() (*vlogs.Shipper, error) {
		return vlogs.NewShipper(vlogs.ShipperOptions{Store: l.store, Client: c, MaxLineBytes: int(v.MaxLineSize),
			Now: l.o.Now, Metrics: set, Logger: log,
			OnStall: func(ctx context.Context, ok bool, err error) {
				if ok {
					if err := vlogs.Resolve(ctx, db, stallKey, "VictoriaLogs takes log lines again", l.o.Now()); err != nil {
						log.Error("resolve incident", "err", err)
					}
					return
				}
				if err := vlogs.Raise(ctx, db, stallKey, "VictoriaLogs has not taken log lines for 10 minutes",
					fmt.Sprintf("The loghost keeps them and sends them when it answers again. Last error: %v", err), l.o.Now()); err != nil {
					log.Error("raise incident", "err", err)
				}
			},
			OnLoss: func(ctx context.Context, n int64, why string) {
				if err := vlogs.Raise(ctx, db, "victorialogs:lost", fmt.Sprintf("%d log line(s) did not reach VictoriaLogs", n), why, l.o.Now()); err != nil {
					log.Error("raise incident", "err", err)
				}
			}})
	}
	if _, err := newShipper(); err != nil {
		return nil, err
	}
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		for {
			sh, _ := newShipper()
			confirmed.sh.Store(sh)
			err := sh.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			log.Error("victorialogs shipper failed; restarting from its cursor", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
		}
	}()
	w := &vlogs.Watcher{Client: c, URLs: v.MetricsURLs, DB: db, Now: l.o.Now, Logger: log}
	go func() { defer l.wg.Done(); w.Run(ctx) }()
	if v.Mode != "primary" {
		return l.store, nil
	}
	return &vlogs.Searcher{Client: c, Local: l.store, Confirmed: confirmed.seq}, nil
}
