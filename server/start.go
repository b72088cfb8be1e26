package server

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/enroll"
	"github.com/watchpost/watchpost/explorer"
	"github.com/watchpost/watchpost/ingest"
	"github.com/watchpost/watchpost/internal/connguard"
	"github.com/watchpost/watchpost/logapi"
	"github.com/watchpost/watchpost/maintenance"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/subscribe"
	"github.com/watchpost/watchpost/uptime"
	"github.com/watchpost/watchpost/vantage"
)

func start(parent context.Context, o Options, cfg *config.Config, st settings) (*loghost, error) {
	ctx, cancel := context.WithCancel(parent)
	l := &loghost{o: o, st: st, errc: make(chan error, 4), cancel: cancel}
	fail := func(err error) (*loghost, error) {
		cancel()
		l.wg.Wait()
		if h := l.hot.Load(); h != nil {
			h.wg.Wait()
		}
		if l.store != nil {
			l.store.Close()
		}
		return nil, err
	}
	newSet := func() *metrics.Set {
		s := metrics.NewSet()
		l.sets = append(l.sets, s)
		return s
	}
	var err error
	var vlSeq vlConfirmed
	sopts := store.Options{
		Path: st.dbPath, Retention: st.retention, MaxSize: st.maxSize, HostQuotaPerDay: st.hostQuota,
		Location: st.loc, Now: o.Now, Metrics: newSet(), Logger: o.Logger.With("component", "store"),
		BlockCache: 64 << 20,
	}
	if vlPrimary(cfg) {
		sopts.Retention, sopts.KeepAfter = localRetention(cfg), vlSeq.seq
	}
	l.store, err = store.Open(ctx, sopts)
	if err != nil {
		return fail(err)
	}
	logSearch, err := l.startVictoriaLogs(ctx, cfg, &vlSeq, newSet())
	if err != nil {
		return fail(err)
	}
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.store.Maintain(ctx, time.Minute) }()
	hs := &hostStats{loc: st.loc, set: newSet()}
	wsLog := o.Logger.With("component", "webstats")
	ws0, err := newWebStats(cfg, st.loc, o.Now, wsLog, nil)
	if err != nil {
		return fail(err)
	}
	// SIGHUP swaps in new sites and definitions; a batch uses the one it
	// started with.
	var ws atomic.Pointer[webStats]
	ws.Store(ws0)
	// One reader for both: every consumer decompresses every block it
	// reads, and on two cores a fourth full reader cost ingest a tenth of
	// its rate (bench/collect-e2e.sh).
	l.startConsumer(ctx, hostStatsConsumer, func(ctx context.Context, tx *sql.Tx, recs []store.Record) error {
		if err := hs.consume(ctx, tx, recs); err != nil {
			return err
		}
		return ws.Load().consume(ctx, tx, recs)
	})
	wsReader := &webStatsReader{db: l.store.ReadDB(), opts: ws0.opts}

	tokens := ingest.NewTokens(st.hostTokens, st.enrollTokens)
	l.tokens = tokens
	// Names claimed with the shared collector token: never a host's that
	// has its own token, nor the loghost's.
	enrolled, err := enroll.New(ctx, l.store.DB(), o.Now, o.Logger.With("component", "enroll"))
	if err != nil {
		return fail(err)
	}
	enrolled.Reserve(slices.Collect(maps.Keys(st.hostTokens)), st.hostname)
	ing := ingest.New(ingest.Options{Store: l.store, Tokens: tokens, Enroll: enrolled, Location: st.loc, Now: o.Now, Redactor: st.redactor,
		HostZone: func(host string) *time.Location { return l.currentConfig().HostZone(host) },
		Metrics:  newSet(), Logger: o.Logger.With("component", "ingest")})
	authCfg := dashboard.AuthConfig{AdminTokens: st.adminTokens, Users: users(cfg), SessionKey: st.sessionKey,
		SecureCookies: st.tlsCert != "", SessionTTL: 12 * time.Hour, Revocations: dashboard.SQLRevocations{DB: l.store.DB()}}
	auth, err := dashboard.NewAuth(authCfg, o.Now, newSet(), o.Logger.With("component", "auth"))
	if err != nil {
		return fail(err)
	}
	logs := &logapi.Handler{Store: l.store, Search: logSearch, Location: st.loc, Now: o.Now, Logger: o.Logger.With("component", "logapi"),
		Principal: func(r *http.Request) string { name, _ := dashboard.PrincipalFrom(r.Context()); return name }}
	explore, err := explorer.New(st.loc, o.Logger.With("component", "explorer"))
	if err != nil {
		return fail(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/api/v1/ingest", ing)
	mux.Handle("GET /api/v1/logs", auth.API(http.HandlerFunc(logs.Logs)))
	mux.Handle("GET /api/v1/logs/tail", auth.API(http.HandlerFunc(logs.Tail)))
	for path, h := range map[string]http.HandlerFunc{"page": logs.Page, "histogram": logs.Histogram, "fields": logs.Fields, "count": logs.Count, "context": logs.Context} {
		mux.Handle("GET /api/v1/logs/"+path, auth.API(h))
	}
	metricsHandler := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		l.writeMetrics(w)
	}))
	if !st.metricsPublic {
		metricsHandler = auth.API(metricsHandler)
	}
	mux.Handle("GET /metrics", metricsHandler)
	mux.Handle("GET /healthz", dashboard.Healthz(func() error {
		if l.store.DiskFull() {
			return dashboard.Degraded("disk full, new data is refused")
		}
		return l.store.ReadDB().PingContext(ctx)
	}))
	metricsSrc, err := l.startMetrics(ctx, cfg, st, newSet())
	if err != nil {
		return fail(err)
	}
	uiDeps := dashboard.UIDeps{Logs: explore, WebStats: wsReader, Enrolled: func() []dashboard.EnrolledHost {
		var out []dashboard.EnrolledHost
		for _, h := range enrolled.List() {
			addr := h.LastAddress
			if h.State == enroll.Pinned {
				addr = h.PinnedAddress
			}
			out = append(out, dashboard.EnrolledHost{Name: h.Name, State: h.State, Address: addr, Since: h.FirstSeen})
		}
		return out
	}}
	if metricsSrc != nil {
		uiDeps.Metrics = metricsSrc
		(&dashboard.MetricsAPI{Source: metricsSrc, Now: o.Now}).Register(mux, auth.API)
	}
	(&dashboard.WebStatsAPI{Source: wsReader}).Register(mux, auth.API)
	enrolled.Register(mux, auth.API)
	ui := dashboard.NewUI(auth, uiDeps, o.Logger)
	ui.Register(mux)
	explore.RegisterStatic(mux)
	reader := uptime.NewReader(l.store.ReadDB(), st.loc)
	l.console = &consoleState{maint: maintenance.NewSet(l.store.DB(), cfg.Location()),
		subs: &subscribe.Store{DB: l.store.DB(), Key: subscribeKey(st.sessionKey)}}
	l.console.cfg.Store(cfg)
	l.console.maint.SetConfig(cfg)
	if err := l.console.maint.Reload(ctx, o.Now()); err != nil {
		return fail(err)
	}
	// One build of the public page every 5 s serves every visitor, the
	// JSON and the live websocket; a state change rebuilds it at once.
	statusCache := dashboard.NewStatusCache(l.console.statusSource(statusSource(l.currentConfig, reader, o.Now, l.publicNote), l.store.ReadDB(), o.Now), 5*time.Second, o.Logger.With("component", "status"))
	l.statusChanged = statusCache.Invalidate
	if err := l.startTracking(ctx, cfg, newSet()); err != nil {
		return fail(err)
	}
	h, err := l.startHot(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	l.hot.Store(h)
	rr, err := l.startRules(ctx, cfg, newSet())
	if err != nil {
		return fail(err)
	}
	silences := auth.API(alerting.SilencesHandler(l.store.DB(), o.Now))
	mux.Handle("/api/v1/silences", silences)
	mux.Handle("/api/v1/silences/", silences)
	mux.Handle("/ping/", l.beats)
	statusPage, statusAPI := dashboard.PublicStatus(statusCache)
	mux.Handle("GET /feed.atom", feedHandler(l.currentConfig, reader, l.console.feedMaintenance(o.Now)))
	mux.Handle("GET /badge/{file}", badgeHandler(l.currentConfig, reader, o.Now))
	// Every kind of incident (checks, heartbeats, rules, metrics, hosts,
	// the loghost's disk): the list, the admin page and its actions.
	mux.Handle("GET /api/v1/incidents", auth.API(incidentsListHandler(l.store.DB(), l.console.listOptions)))
	registerIncidents(mux, auth, l.store.DB(), o.Now, l.console.listOptions, o.Logger.With("component", "incidents"))
	if e := l.vantage.Load(); e != nil {
		e.Register(mux) // the collectors that probe: assignments and results
		e.RegisterAdmin(mux, auth.API)
	}
	if err := l.startConsole(ctx, mux, auth, cfg, st, reader, l.tracker, uiDeps.Metrics, newSet()); err != nil {
		return fail(err)
	}
	mux.Handle("POST /api/v1/incidents/{id}/updates", auth.API(incidentUpdateAPI(l.store.DB(), reader, l.tracker, o.Now, statusCache.Invalidate)))
	mux.Handle("POST /api/v1/incidents/{id}/ack", auth.API(ackHandler(l.store.DB(), o.Now)))
	mux.Handle("GET /{$}", statusPage) // the server-wide SecurityHeaders wrap covers it
	mux.Handle("GET /api/v1/status", statusAPI)
	hub := dashboard.NewStatusHub(statusCache, 5*time.Second, 1000, newSet(), o.Logger.With("component", "status"))
	l.wg.Add(1)
	go func() { defer l.wg.Done(); hub.Run(ctx) }()
	mux.Handle("GET /api/v1/status/live", hub)
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dashboard.WriteError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	}))

	var tlsCfg *tls.Config
	if st.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(st.tlsCert, st.tlsKey)
		if err != nil {
			return fail(fmt.Errorf("load TLS certificate: %w", err))
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	var guard *connguard.Listener
	ln, err := listen(st.listen, tlsCfg, func(ln net.Listener) net.Listener {
		guard = connguard.NewListener(ln, st.httpLimits(), newSet())
		return guard
	})
	if err != nil {
		return fail(err)
	}
	l.httpSrv = &http.Server{
		Handler:           connguard.Guard(dashboard.SecurityHeaders(mux), st.httpDeadlines(), connguard.Rule{Read: st.bodyTimeout, Write: time.Minute}, priorityRequest),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ConnState:         guard.ConnState,
		ConnContext:       guard.ConnContext,
		ErrorLog:          nil,
	}
	addrs := Addrs{HTTP: ln.Addr().String()}

	if err := l.startSyslog(ctx, st, tlsCfg, newSet(), &addrs); err != nil {
		return fail(err)
	}
	if st.selfEnabled {
		if err := l.startSelf(ctx, st, newSet()); err != nil {
			return fail(err)
		}
	}
	l.reload = func(c *config.Config) {
		ns, err := resolve(c, o)
		if err != nil {
			o.Logger.Error("reload: keeping the old configuration", "err", err)
			return
		}
		// Everything that cannot take effect fails before anything
		// changes: the old configuration then stays in force whole.
		if _, err := CompileChecks(c); err != nil {
			o.Logger.Error("reload: the new configuration has errors; keeping the old one", "err", err)
			return
		}
		if err := vantage.Validate(c.Checks, c.Vantages); err != nil {
			o.Logger.Error("reload: the new vantages have errors; keeping the old configuration", "err", err)
			return
		}
		if err := ValidateRules(c); err != nil {
			o.Logger.Error("reload: the new rule files have errors; keeping the old configuration", "err", err)
			return
		}
		old := l.currentConfig()
		l.console.cfg.Store(c)
		l.console.maint.SetConfig(c)
		tokens.Update(ns.hostTokens, ns.enrollTokens)
		enrolled.Reserve(slices.Collect(maps.Keys(ns.hostTokens)), st.hostname)
		authCfg.AdminTokens, authCfg.Users = ns.adminTokens, users(c)
		auth.Update(authCfg)
		if rr != nil {
			rr.reload(c)
		}
		if w, err := newWebStats(c, st.loc, o.Now, wsLog, ws.Load()); err != nil {
			o.Logger.Error("reload: keeping the old web statistics sites", "err", err)
		} else {
			ws.Store(w)
		}
		if l.thresholds != nil {
			if err := l.thresholds.reload(c); err != nil {
				o.Logger.Error("reload: keeping the old thresholds", "err", err)
			}
		}
		if err := l.swapHot(ctx, c); err != nil {
			o.Logger.Error("reload: checks, heartbeats and alerting could not restart", "err", err)
			return
		}
		if keys := needRestart(old, c); len(keys) > 0 {
			o.Logger.Warn("configuration reloaded, but these keys take effect only at the next restart", "keys", strings.Join(keys, ", "))
		}
		o.Logger.Info("configuration reloaded", "checks", len(c.Checks), "heartbeats", len(c.Heartbeats), "rule_files", len(c.Rules))
	}
	if o.Reload != nil && o.ConfigPath != "" {
		l.wg.Add(1)
		go func() { defer l.wg.Done(); l.reloadLoop(ctx) }()
	}
	fmt.Fprint(o.Out, st.banner())
	// Served last: the listener is bound (clients wait in its queue), and
	// a client that gets an answer — /healthz, a collector — finds syslog,
	// the banner and everything else already in place.
	go func() {
		if err := l.httpSrv.Serve(ln); err != nil && err != http.ErrServerClosed {
			l.errc <- fmt.Errorf("http: %w", err)
		}
	}()
	o.Logger.Info("loghost started", "http", addrs.HTTP, "syslog_udp", addrs.SyslogUDP, "syslog_tcp", addrs.SyslogTCP, "store", st.dbPath)
	if o.Ready != nil {
		o.Ready(addrs)
	}
	return l, nil
}

func (l *loghost) writeMetrics(w io.Writer) {
	metrics.WriteProcessMetrics(w)
	for _, s := range l.sets {
		s.WritePrometheus(w)
	}
	if h := l.hot.Load(); h != nil {
		h.set.WritePrometheus(w)
	}
}

func users(cfg *config.Config) []dashboard.User {
	var us []dashboard.User
	for _, u := range cfg.Server.Users {
		us = append(us, dashboard.User{Name: u.Name, PasswordHash: string(u.PasswordHash)})
	}
	return us
}
