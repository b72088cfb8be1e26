package server

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/checker"
	"github.com/watchpost/watchpost/config"
)

// hot is the part of a running loghost that a SIGHUP replaces whole: the
// probes' scheduler, the alert dispatcher with its receivers and routes,
// the monthly report, Matrix acknowledgements, the watchdog and the
// munin-node polls. What they act on lives in the store and in the
// loghost's tracker, heartbeat service and vantages, which a reload reconfigures
// (reloadTracking), so a new generation goes on where the old one
// stopped; paused checks stay paused.
type hot struct {
	cfg    *config.Config
	sched  *checker.Scheduler // nil without checks
	set    *metrics.Set       // this generation's metrics (counters start again at a reload)
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (h *hot) stop() {
	h.cancel()
	h.wg.Wait()
}

// startHot starts a generation for cfg.
func (l *loghost) startHot(parent context.Context, cfg *config.Config) (*hot, error) {
	ctx, cancel := context.WithCancel(parent)
	h := &hot{cfg: cfg, set: metrics.NewSet(), cancel: cancel}
	if err := l.startProbes(ctx, h); err != nil {
		h.stop()
		return nil, err
	}
	if err := l.startAlerting(ctx, h); err != nil {
		h.stop()
		return nil, err
	}
	l.startMuninPolls(ctx, h)
	return h, nil
}

// startMuninPolls polls the configuration's munin-nodes.
func (l *loghost) startMuninPolls(ctx context.Context, h *hot) {
	polls := h.set.NewCounter("watchpost_munin_polls_total")
	pollErrors := h.set.NewCounter("watchpost_munin_poll_errors_total")
	for _, n := range h.cfg.MuninNodes {
		every := time.Duration(n.Interval)
		if every == 0 {
			every = muninPollDefault
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			for {
				now := l.o.Now()
				next := now.Truncate(every).Add(every)
				select {
				case <-ctx.Done():
					return
				case <-time.After(next.Sub(now)):
				}
				polls.Inc()
				if err := l.pollMunin(ctx, n); err != nil && ctx.Err() == nil {
					pollErrors.Inc()
					l.o.Logger.Warn("munin-node poll failed", "node", n.Name, "address", n.Address, "err", err)
				}
			}
		}()
	}
}

// swapHot replaces the running generation with one for cfg. The old one
// stops first: a check must never be probed by two schedulers at once.
func (l *loghost) swapHot(ctx context.Context, cfg *config.Config) error {
	probes, err := CompileChecks(cfg)
	if err != nil {
		return err
	}
	old := l.hot.Load()
	old.stop()
	h, err := (*hot)(nil), l.reloadTracking(cfg, probes)
	if err == nil {
		h, err = l.startHot(ctx, cfg)
	}
	if err != nil {
		// Checked before, so this is rare (a Matrix room address that
		// does not resolve, heartbeats or vantages the service refuses):
		// go on with the old configuration rather than none.
		l.o.Logger.Error("reload: cannot start the new checks and alerting; restarting the old ones", "err", err)
		oldProbes, _ := CompileChecks(old.cfg)
		if rerr := l.reloadTracking(old.cfg, oldProbes); rerr != nil {
			return rerr
		}
		if h, err = l.startHot(ctx, old.cfg); err != nil {
			return err
		}
	}
	l.hot.Store(h)
	if l.statusChanged != nil {
		l.statusChanged()
	}
	return nil
}

// currentConfig is the configuration in force (the last one loaded).
func (l *loghost) currentConfig() *config.Config { return l.console.cfg.Load() }

// hotRunner is the console's "probe now": the scheduler in force.
type hotRunner struct{ l *loghost }

func (r hotRunner) RunNow(check string) bool {
	if h := r.l.hot.Load(); h != nil && h.sched != nil {
		return h.sched.RunNow(check)
	}
	return false
}

// forwardFeeds hands heartbeat results from log rules to the heartbeats,
// outside the rules consumer's transaction.
func (l *loghost) forwardFeeds(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-l.feeds:
			if err := l.beats.Feed(ctx, f.name, f.ok, f.from, f.detail); err != nil && ctx.Err() == nil {
				l.o.Logger.Warn("heartbeat fed by a rule", "heartbeat", f.name, "err", err)
			}
		}
	}
}

// restartKeys are the keys a reload cannot apply: listeners, the store,
// the loghost's own collection, the time zone, redaction and the status
// page's subscription mailer. A reload
// that changes one says so in the log; docs/CONFIG.md marks them.
var restartKeys = []struct {
	key string
	get func(*config.Config) any
}{
	{"timezone", func(c *config.Config) any { return c.Timezone }},
	{"redact", func(c *config.Config) any { return c.Redact }},
	{"server.listen", func(c *config.Config) any { return c.Server.Listen }},
	{"server.tls_cert_file", func(c *config.Config) any { return c.Server.TLSCertFile }},
	{"server.tls_key_file", func(c *config.Config) any { return c.Server.TLSKeyFile }},
	{"server.syslog_listen", func(c *config.Config) any { return c.Server.SyslogListen }},
	{"server.syslog_tls_listen", func(c *config.Config) any { return c.Server.SyslogTLSListen }},
	{"server.metrics_public", func(c *config.Config) any { return c.Server.MetricsPublic }},
	{"server.max_connections", func(c *config.Config) any { return c.Server.MaxConnections }},
	{"server.max_connections_per_address", func(c *config.Config) any { return c.Server.MaxConnectionsPerAddress }},
	{"server.body_timeout", func(c *config.Config) any { return c.Server.BodyTimeout }},
	{"server.syslog_max_connections", func(c *config.Config) any { return c.Server.SyslogMaxConnections }},
	{"server.syslog_max_connections_per_address", func(c *config.Config) any { return c.Server.SyslogMaxConnectionsPerAddress }},
	{"storage", func(c *config.Config) any { return c.Storage }},
	{"self", func(c *config.Config) any { return c.Self }},
	// The subscription mailer and its links are set up once.
	{"server.public_url", func(c *config.Config) any { return c.Server.PublicURL }},
	{"status_page.subscriptions", func(c *config.Config) any { return c.StatusPage.Subscriptions }},
}

// needRestart lists the keys whose change a reload from old to cfg cannot
// apply.
func needRestart(old, cfg *config.Config) []string {
	var keys []string
	for _, k := range restartKeys {
		if !reflect.DeepEqual(k.get(old), k.get(cfg)) {
			keys = append(keys, k.key)
		}
	}
	return keys
}
