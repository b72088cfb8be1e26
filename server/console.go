package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/console"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/maintenance"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/subscribe"
	"github.com/watchpost/watchpost/uptime"
)

// consoleState is what the admin console changes and the rest of the
// loghost reads: the configuration in force (it changes on reload), the
// maintenance windows, the subscribers.
type consoleState struct {
	cfg   atomic.Pointer[config.Config]
	maint *maintenance.Set
	subs  *subscribe.Store
	// paused tells which checks are paused now (the tracker's, once the
	// checks run).
	paused atomic.Pointer[func(check string) bool]
}

// catalog is the configuration's checks and heartbeats for the console.
func catalog(cfg *config.Config) console.Catalog {
	var c console.Catalog
	for _, ch := range cfg.Checks {
		c.Checks = append(c.Checks, console.Check{Name: ch.Name, Kind: "check", Type: ch.Type, Target: redactTarget(ch.Target), Group: ch.Group,
			Public: ch.Public, Labels: ch.Labels, Interval: probeInterval(ch), Conditions: ch.Conditions, WarnConditions: ch.WarnConditions})
	}
	for _, h := range cfg.Heartbeats {
		c.Checks = append(c.Checks, console.Check{Name: h.Name, Kind: "heartbeat", Type: "heartbeat", Group: h.Group, Public: h.Public,
			Interval: time.Duration(h.Period), Schedule: h.Schedule, Grace: time.Duration(h.Grace)})
	}
	return c
}

func probeInterval(c config.Check) time.Duration {
	if c.Interval > 0 {
		return time.Duration(c.Interval)
	}
	return 60 * time.Second
}

// redactTarget keeps a password in a target URL off the screen.
func redactTarget(t string) string {
	if i := strings.Index(t, "://"); i >= 0 {
		rest := t[i+3:]
		if at := strings.IndexByte(rest, '@'); at >= 0 && !strings.ContainsAny(rest[:at], "/?#") {
			return t[:i+3] + "…@" + rest[at+1:]
		}
	}
	return t
}

// heartbeatNames tells heartbeats from checks in the configuration in
// force.
func (cs *consoleState) heartbeatNames(name string) bool {
	for _, h := range cs.cfg.Load().Heartbeats {
		if h.Name == name {
			return true
		}
	}
	return false
}

func (cs *consoleState) listOptions() alerting.ListOptions {
	return alerting.ListOptions{Heartbeat: cs.heartbeatNames, PublicURL: cs.cfg.Load().Server.PublicURL}
}

// subscribeKey signs subscription links; derived from the session key,
// so it survives restarts and rotates with it.
func subscribeKey(sessionKey []byte) []byte {
	m := hmac.New(sha256.New, sessionKey)
	m.Write([]byte("watchpost status subscriptions v1"))
	return m.Sum(nil)
}

// announceAhead is how long before a public maintenance window it is
// shown and announced.
func announceAhead(cfg *config.Config) time.Duration {
	if d := time.Duration(cfg.StatusPage.Subscriptions.Announce); d > 0 {
		return d
	}
	return 7 * 24 * time.Hour
}

// startConsole wires the admin console, the maintenance windows and the
// status page subscriptions.
func (l *loghost) startConsole(ctx context.Context, mux *http.ServeMux, auth *dashboard.Auth, cfg *config.Config, st settings,
	rd *uptime.Reader, tr *uptime.Tracker, metricsSrc dashboard.MetricsSource, set *metrics.Set) error {
	cs := l.console
	now := l.o.Now
	// Subscriptions: the sender always runs, so notices are marked as not
	// sent while they are off.
	sub := cfg.StatusPage.Subscriptions
	snd := &subscribe.Sender{Store: cs.subs, PublicURL: cfg.Server.PublicURL, Title: cfg.StatusPage.Title, Hostname: st.hostname,
		RateLimit: sub.RateLimit, Location: cfg.Location(), Now: now, Metrics: set, Logger: l.o.Logger.With("component", "subscribe")}
	if sub.Enabled {
		m := subscribe.SMTP{Addr: sub.SMTP, TLS: sub.TLS, From: sub.From, Username: sub.Username, Password: string(sub.Password), HELO: st.hostname}
		if e := cfg.Alerting.Email; e != nil {
			m.Addr, m.From = cmpOr(m.Addr, e.SMTP), cmpOr(m.From, e.From)
			if sub.SMTP == "" {
				m.TLS, m.Username, m.Password = cmpOr(m.TLS, e.TLS), cmpOr(m.Username, e.Username), cmpOr(m.Password, string(e.Password))
			}
		}
		snd.Mailer = m
		h := &subscribe.Handler{Store: cs.subs, Title: cfg.StatusPage.Title, Now: now, Logger: l.o.Logger.With("component", "subscribe"),
			Components: func() []string {
				var out []string
				for name := range publicNames(cs.cfg.Load()) {
					out = append(out, name)
				}
				return out
			}}
		h.Register(mux)
	}
	l.wg.Add(1)
	go func() { defer l.wg.Done(); snd.Run(ctx, 2*time.Second) }()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			if err := cs.maint.Notify(ctx, now(), announceAhead(cs.cfg.Load())); err != nil && ctx.Err() == nil {
				l.o.Logger.Warn("maintenance notices", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	d := console.Deps{Auth: auth, DB: l.store.DB(), ReadDB: l.store.ReadDB(), Reader: rd, Tracker: tr, Maintenance: cs.maint, Subscribers: cs.subs,
		Vantages: l.vantageView(),
		Metrics:  metricsSrc, Location: cfg.Location(), Now: now, Logger: l.o.Logger.With("component", "console"),
		Catalog:   func() console.Catalog { return catalog(cs.cfg.Load()) },
		PublicURL: func() string { return cs.cfg.Load().Server.PublicURL },
		Changed: func() {
			if l.statusChanged != nil {
				l.statusChanged()
			}
		},
		Logs: func(ctx context.Context, q string, since, until time.Time, limit int) ([]dashboard.LogRow, error) {
			qq, err := parseQuery(q)
			if err != nil {
				return nil, err
			}
			hits, _, err := l.store.Search(ctx, store.SearchOptions{Query: qq, Since: since, Until: until, Limit: limit})
			if err != nil {
				return nil, err
			}
			rows := make([]dashboard.LogRow, len(hits))
			for i := range hits {
				h := &hits[i]
				rows[i] = dashboard.LogRow{Time: h.Time, Host: h.Host, Program: h.Program, Line: strings.ToValidUTF8(h.Raw, "\uFFFD")}
			}
			return rows, nil
		}}
	// The probes restart with a reload; the console probes through the
	// scheduler in force.
	d.Runner = hotRunner{l}
	d.Beats = l.beats
	c := console.New(d)
	c.Register(mux)
	l.wg.Add(1)
	go func() { defer l.wg.Done(); c.Run(ctx) }()
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// maintenanceCovers is alerting's view of the maintenance windows: the
// configuration's and the console's.
func (l *loghost) maintenanceCovers(cfg *config.Config) alerting.MaintenanceFunc {
	if l.console != nil {
		return l.console.maint.Covers
	}
	return maintenanceFunc(cfg)
}

// statusSource adds what the console keeps to the public page: public
// maintenance windows (ahead and running), the subscription form, and
// heartbeats' pings in place of a response-time graph.
func (cs *consoleState) statusSource(base dashboard.StatusSource, db *sql.DB, now func() time.Time) dashboard.StatusSource {
	return func(ctx context.Context) (dashboard.StatusPage, error) {
		p, err := base(ctx)
		if err != nil {
			return p, err
		}
		cfg := cs.cfg.Load()
		t := now()
		loc := cfg.Location()
		p.Subscribe = cfg.StatusPage.Subscriptions.Enabled
		under := map[string]bool{}
		p.Maintenance = []dashboard.StatusMaintenance{}
		for _, a := range cs.maint.Public(t, announceAhead(cfg)) {
			p.Maintenance = append(p.Maintenance, dashboard.StatusMaintenance{Name: a.Name, Description: a.Description, Components: a.Components,
				Start: a.Start.UTC(), End: a.End.UTC(), Running: a.Running, When: spanText(a.Start, a.End, loc)})
			if a.Running {
				for _, c := range a.Components {
					under[c] = true
				}
			}
		}
		beats := map[string]bool{}
		for _, h := range cfg.Heartbeats {
			beats[h.Name] = true
		}
		paused := func(string) bool { return false }
		if f := cs.paused.Load(); f != nil {
			paused = *f
		}
		recount := false
		for gi := range p.Groups {
			for ci := range p.Groups[gi].Components {
				c := &p.Groups[gi].Components[ci]
				c.Kind, c.Maintenance = "check", under[c.Name]
				if paused(c.Name) && c.Status != "unknown" {
					// Not watched: neither up nor down.
					c.Status, recount = "unknown", true
				}
				if !beats[c.Name] {
					continue
				}
				c.Kind, c.Samples = "heartbeat", nil
				if c.Pings, err = statusPings(ctx, db, c.Name, t.Add(-60*24*time.Hour)); err != nil {
					return p, err
				}
			}
		}
		if recount {
			p.Overall = overall(p.Groups)
		}
		return p, nil
	}
}

// statusPings are a heartbeat's last 60 successes and failures, oldest
// first.
func statusPings(ctx context.Context, db *sql.DB, name string, since time.Time) ([]dashboard.StatusPing, error) {
	rows, err := db.QueryContext(ctx, `SELECT time, kind, duration_ms FROM heartbeat_pings WHERE name = ? AND time >= ? AND kind IN ('success', 'fail')
		ORDER BY time DESC LIMIT 60`, name, since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("pings: %w", err)
	}
	defer rows.Close()
	var out []dashboard.StatusPing
	for rows.Next() {
		var t int64
		var kind string
		var dur sql.NullInt64
		if err := rows.Scan(&t, &kind, &dur); err != nil {
			return nil, fmt.Errorf("pings: %w", err)
		}
		p := dashboard.StatusPing{Time: time.Unix(0, t).UTC(), OK: kind == "success"}
		if dur.Valid {
			ms := float64(dur.Int64)
			p.MS = &ms
		}
		out = append(out, p)
	}
	slices.Reverse(out)
	return out, rows.Err()
}

// spanText is a window as people read it: "Sat 5 Dec 02:00–04:00 CET",
// both days when it spans midnight.
func spanText(s, e time.Time, loc *time.Location) string {
	s, e = s.In(loc), e.In(loc)
	if s.Format("2006-01-02") == e.Format("2006-01-02") {
		return s.Format("Mon 2 Jan 15:04") + "–" + e.Format("15:04 MST")
	}
	return s.Format("Mon 2 Jan 15:04") + " – " + e.Format("Mon 2 Jan 15:04 MST")
}

// feedMaintenance is the public maintenance windows as feed entries.
func (cs *consoleState) feedMaintenance(now func() time.Time) func() []atomEntry {
	return func() []atomEntry {
		cfg := cs.cfg.Load()
		var out []atomEntry
		for _, a := range cs.maint.Public(now(), announceAhead(cfg)) {
			what := "Scheduled maintenance"
			if a.Running {
				what = "Under maintenance"
			}
			out = append(out, atomEntry{Title: what + ": " + a.Name, ID: fmt.Sprintf("urn:watchpost:maintenance:%s:%d", a.Key, a.Start.Unix()),
				Updated: a.Start.UTC().Format(time.RFC3339),
				Content: fmt.Sprintf("%s (%s)\n%s\n", spanText(a.Start, a.End, cfg.Location()), strings.Join(a.Components, ", "), a.Description)})
		}
		return out
	}
}

// overall is the page's headline from its components, as statusSource
// words it.
func overall(groups []dashboard.StatusGroup) string {
	down, total, unknown, degraded := 0, 0, 0, false
	for _, g := range groups {
		for _, c := range g.Components {
			total++
			switch c.Status {
			case "unknown":
				unknown++
			case "down":
				down++
			case "degraded":
				degraded = true
			}
		}
	}
	switch {
	case total == 0 || unknown == total:
		return "unknown"
	case down == total:
		return "major_outage"
	case down > 0:
		return "partial_outage"
	case degraded:
		return "degraded"
	}
	return "operational"
}
