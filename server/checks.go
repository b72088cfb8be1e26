package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/VictoriaMetrics/metrics"
	"os"
	"strings"
	"time"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/checker"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/heartbeat"
	"github.com/watchpost/watchpost/internal/wallclock"
	"github.com/watchpost/watchpost/uptime"
)

// CompileChecks compiles the configuration's probes; every error names
// its own place in the file (a condition's line, the target's), all of
// them at once. `config check` runs it too.
func CompileChecks(cfg *config.Config) ([]*checker.Probe, error) {
	var probes []*checker.Probe
	var errs []error
	registry := domainRegistry(cfg)
	for i, c := range cfg.Checks {
		at := func(key string, err error) {
			path := fmt.Sprintf("checks[%d]", i)
			if key != "" {
				path += "." + key
			}
			errs = append(errs, fmt.Errorf("%s: %s (%s): %w", cfg.Pos(path), path, c.Name, err))
		}
		opts, err := probeOptions(c)
		if err != nil {
			at("", err)
			continue
		}
		opts.Registry = registry
		p, err := checker.Compile(c, opts)
		if err != nil {
			for _, fe := range checker.FieldErrors(err) {
				at(fe.Key, fe.Err)
			}
			continue
		}
		probes = append(probes, p)
	}
	return probes, errors.Join(errs...)
}

// probeOptions turns a check's TLS and connection keys into the probe's.
func probeOptions(c config.Check) (checker.Options, error) {
	o := checker.Options{InsecureSkipVerify: c.TLSSkipVerify, ServerName: c.TLSServerName, IPVersion: c.IPVersion,
		RequireSTARTTLS: c.RequireSTARTTLS}
	if c.FollowRedirects != nil && !*c.FollowRedirects {
		o.NoFollowRedirects = true
	}
	if c.TLSCAFile != "" {
		b, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return o, fmt.Errorf("tls_ca_file: %w", err)
		}
		o.RootCAs = x509.NewCertPool()
		if !o.RootCAs.AppendCertsFromPEM(b) {
			return o, fmt.Errorf("tls_ca_file %s: no PEM certificate", c.TLSCAFile)
		}
	}
	if c.TLSClientCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSClientCertFile, c.TLSClientKeyFile)
		if err != nil {
			return o, fmt.Errorf("tls_client_cert_file: %w", err)
		}
		o.ClientCert = &cert
	}
	return o, nil
}

// ValidateChecks is CompileChecks for `config check`.
func ValidateChecks(cfg *config.Config) error {
	_, err := CompileChecks(cfg)
	return err
}

// schedule parses a cron expression validated at load, read in the
// configuration's time zone as cron reads it.
func schedule(expr string, loc *time.Location) (uptime.Schedule, error) {
	return wallclock.Parse(expr, loc)
}

// maintenanceWindows turns the configuration's windows into the
// tracker's: one-off or recurring, over named checks and checks whose
// labels match.
func maintenanceWindows(cfg *config.Config) []uptime.Window {
	var ws []uptime.Window
	for _, m := range cfg.Maintenance {
		if w, ok := maintenanceWindow(cfg, m); ok {
			ws = append(ws, w)
		}
	}
	return ws
}

// maintenanceWindow builds one configured window; ok is false for one the
// validation let through but that cannot be read (it is then ignored).
func maintenanceWindow(cfg *config.Config, m config.Maintenance) (uptime.Window, bool) {
	var w uptime.Window
	if m.Schedule != "" {
		sch, err := schedule(m.Schedule, cfg.Location())
		if err != nil {
			return w, false
		}
		w = uptime.Window{Every: sch, Duration: time.Duration(m.Duration)}
	} else {
		start, err1 := config.ParseTime(m.Start, cfg.Location())
		end, err2 := config.ParseTime(m.End, cfg.Location())
		if err1 != nil || err2 != nil {
			return w, false
		}
		w = uptime.Window{Start: start, End: end}
	}
	if len(m.Checks) > 0 || len(m.Labels) > 0 {
		w.Checks = map[string]bool{}
		for _, c := range m.Checks {
			w.Checks[c] = true
		}
		if len(m.Labels) > 0 {
			for _, c := range cfg.Checks {
				if labelsMatch(c.Labels, m.Labels) {
					w.Checks[c.Name] = true
				}
			}
		}
	}
	return w, true
}

// maintenanceFunc tells alerting which alerts a maintenance window covers
// now: the windows the uptime tracker uses, by check name or the checks'
// labels, and by host for alerts that name one (rules, metrics, silent
// hosts); a window naming none of these covers every alert.
func maintenanceFunc(cfg *config.Config) alerting.MaintenanceFunc {
	type hostWindow struct {
		w     uptime.Window
		hosts map[string]bool
	}
	var ws []hostWindow
	for _, m := range cfg.Maintenance {
		w, ok := maintenanceWindow(cfg, m)
		if !ok {
			continue
		}
		hw := hostWindow{w: w}
		if len(m.Hosts) > 0 {
			hw.hosts = map[string]bool{}
			for _, h := range m.Hosts {
				hw.hosts[h] = true
			}
		}
		ws = append(ws, hw)
	}
	if len(ws) == 0 {
		return nil
	}
	return func(check string, labels map[string]string, at time.Time) bool {
		for _, hw := range ws {
			scoped := hw.w.Checks != nil || hw.hosts != nil
			covers := !scoped || (check != "" && hw.w.Checks[check]) || (labels["host"] != "" && hw.hosts[labels["host"]])
			if covers && windowActive(hw.w, at) {
				return true
			}
		}
		return false
	}
}

// windowActive: a one-off window holds [Start, End); a recurring one
// holds [s, s+Duration) for each start s, so at is inside one when the
// first start after at-Duration is not after at.
func windowActive(w uptime.Window, at time.Time) bool {
	if w.Every == nil {
		return !at.Before(w.Start) && at.Before(w.End)
	}
	return !w.Every.Next(at.Add(-w.Duration)).After(at)
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// heartbeatEvery is how often heartbeats are checked for lateness.
const heartbeatEvery = 30 * time.Second

// checkIndex is what the tracker and the probes' sink need to know about
// the configuration in force: it is replaced on reload, while the tracker
// (and the pauses it keeps) lives as long as the loghost.
type checkIndex struct {
	probes     map[string]*checker.Probe
	thresholds map[string][2]int // fail, success
	feeds      map[string]string // check → the heartbeat its results ping
	beats      map[string]config.Heartbeat
}

func newCheckIndex(cfg *config.Config, probes []*checker.Probe) *checkIndex {
	x := &checkIndex{probes: map[string]*checker.Probe{}, thresholds: map[string][2]int{}, feeds: map[string]string{},
		beats: map[string]config.Heartbeat{}}
	for _, p := range probes {
		x.probes[p.Name] = p
	}
	for _, c := range cfg.Checks {
		x.thresholds[c.Name] = [2]int{c.FailThreshold, c.SuccessThreshold}
		if c.Heartbeat != "" {
			x.feeds[c.Name] = c.Heartbeat
		}
	}
	for _, b := range cfg.Heartbeats {
		x.beats[b.Name] = b
	}
	return x
}

// heartbeats turns the configuration's heartbeats into the service's.
func heartbeats(cfg *config.Config) ([]heartbeat.Heartbeat, error) {
	var hbs []heartbeat.Heartbeat
	for _, h := range cfg.Heartbeats {
		hb := heartbeat.Heartbeat{Name: h.Name, ID: string(h.ID), Period: time.Duration(h.Period), Grace: time.Duration(h.Grace),
			MinRuntime: time.Duration(h.MinRuntime), MaxRuntime: time.Duration(h.MaxRuntime)}
		if h.Schedule != "" {
			sch, err := schedule(h.Schedule, cfg.Location())
			if err != nil {
				return nil, fmt.Errorf("heartbeat %s: %w", h.Name, err)
			}
			hb.Schedule = sch
		}
		hbs = append(hbs, hb)
	}
	return hbs, nil
}

// startTracking makes what outlives a reload: the uptime tracker (states,
// pauses, maintenance), the heartbeat service with its lateness checks,
// the feed of heartbeat results from rules, and uptime pruning. A reload
// gives them the new configuration (reloadTracking).
func (l *loghost) startTracking(ctx context.Context, cfg *config.Config, set *metrics.Set) error {
	probes, err := CompileChecks(cfg)
	if err != nil {
		return err
	}
	hbs, err := heartbeats(cfg)
	if err != nil {
		return err
	}
	l.index.Store(newCheckIndex(cfg, probes))
	index := func() *checkIndex { return l.index.Load() }
	tr := uptime.New(l.store.DB(), uptime.Config{
		Location: cfg.Location(),
		// One transaction (one fsync) for the results of 200 ms: with a
		// thousand checks this halved the loghost's CPU for probing.
		// A heartbeat ping's answer waits for it too, at most that long.
		BatchWindow: 200 * time.Millisecond,
		MaxGap: func(check string) time.Duration {
			if p := index().probes[check]; p != nil {
				// Two missed probes and their timeouts: the loghost was
				// not watching.
				return 2*p.Interval + 2*p.Timeout
			}
			return 3 * heartbeatEvery
		},
		// A missed or failed backup is down at once; a probe after two
		// failures in a row.
		FailThresholdFor: func(check string) int {
			x := index()
			if _, ok := x.beats[check]; ok {
				return 1
			}
			return x.thresholds[check][0]
		},
		SuccessThresholdFor: func(check string) int { return index().thresholds[check][1] },
		Public: func(check string) bool {
			x := index()
			if p := x.probes[check]; p != nil {
				return p.Public
			}
			return x.beats[check].Public
		},
		Maintenance: maintenanceWindows(cfg),
	})
	// Paused checks stay paused across restarts; the console's windows
	// join the configuration's.
	if err := tr.LoadPauses(ctx); err != nil {
		return err
	}
	l.tracker = tr
	if l.console != nil {
		l.console.maint.OnChange = tr.SetMaintenance
		l.console.maint.SetConfig(cfg)
		paused := func(check string) bool { _, p := tr.Paused(check, l.o.Now()); return p }
		l.console.paused.Store(&paused)
	}
	// The service runs with no heartbeat too: a reload may add some.
	svc, err := heartbeat.New(l.store.DB(), changeNotifier{tr, l.statusChanged}, hbs, l.o.Now, set, l.o.Logger.With("component", "heartbeat"))
	if err != nil {
		return err
	}
	svc.Pauses = tr
	svc.Redactor = l.st.redactor
	l.beats = svc
	l.wg.Add(1)
	go func() { defer l.wg.Done(); svc.Run(ctx, heartbeatEvery) }()
	l.feeds = make(chan heartbeatFeed, 256)
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.forwardFeeds(ctx) }()
	if _, err := l.startVantages(ctx, cfg, tr, set); err != nil {
		return err
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := tr.Prune(ctx, l.o.Now()); err != nil {
					l.o.Logger.Warn("prune uptime", "err", err)
				}
			}
		}
	}()
	return nil
}

// reloadTracking gives the tracker, the heartbeats and the vantages a
// new configuration; the probes restart with the new generation
// (startProbes), which must find the vantages' new plan in force: its
// sink asks them which checks they decide.
func (l *loghost) reloadTracking(cfg *config.Config, probes []*checker.Probe) error {
	hbs, err := heartbeats(cfg)
	if err != nil {
		return err
	}
	if err := l.beats.SetBeats(hbs); err != nil {
		return err
	}
	if e := l.vantage.Load(); e != nil {
		if err := e.SetConfig(cfg.Checks, cfg.Vantages); err != nil {
			return err
		}
	}
	l.index.Store(newCheckIndex(cfg, probes))
	return nil
}

// startProbes runs the probes of h's configuration and feeds their
// results to the tracker.
func (l *loghost) startProbes(ctx context.Context, h *hot) error {
	probes, err := CompileChecks(h.cfg)
	if err != nil {
		return err
	}
	var local []*checker.Probe // what the loghost probes itself
	for i, p := range probes {
		if config.RunsOnLoghost(h.cfg.Checks[i]) {
			local = append(local, p)
		}
	}
	if len(local) == 0 {
		return nil
	}
	tr := l.tracker
	eng := l.vantage.Load()
	feeds := newCheckIndex(h.cfg, probes).feeds
	sink := func(r checker.Result) {
		if !r.Inconclusive && eng != nil && eng.Handles(r.Check) {
			// Seen from several places: the vantages decide.
			eng.Local(ctx, r)
			l.feedHeartbeat(ctx, feeds[r.Check], r, resultDetail(r))
			return
		}
		if r.Inconclusive {
			// The probe could not tell (a domain's registry did not
			// answer): the check keeps its state; a long silence shows as
			// unknown time, as a gap does.
			l.o.Logger.Warn("check inconclusive", "check", r.Check, "err", r.Error)
			return
		}
		detail := resultDetail(r)
		conds := make([]uptime.Condition, len(r.ConditionResults))
		for i, c := range r.ConditionResults {
			conds[i] = uptime.Condition{Condition: c.Condition, OK: c.OK, Warn: c.Warn, Detail: c.Detail}
		}
		ch, err := tr.Observe(ctx, uptime.Observation{Check: r.Check, Time: r.Time, OK: r.Success, Degraded: r.Degraded,
			Duration: r.Duration, Detail: detail, Error: r.Error, Conditions: conds})
		if err != nil {
			if ctx.Err() == nil {
				l.o.Logger.Error("record check result", "check", r.Check, "err", err)
			}
			return
		}
		if ch != nil {
			l.o.Logger.Info("check state changed", "check", ch.Check, "from", ch.From.String(), "to", ch.To.String(), "detail", ch.Detail)
			if l.statusChanged != nil {
				l.statusChanged()
			}
		}
		l.feedHeartbeat(ctx, feeds[r.Check], r, detail)
	}
	s := checker.NewScheduler(local, l.o.Now, sink, h.set, l.o.Logger.With("component", "checker"))
	// A paused check runs no probe.
	s.Skip = func(check string) bool { _, paused := tr.Paused(check, l.o.Now()); return paused }
	h.sched = s
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := s.Run(ctx); err != nil && ctx.Err() == nil {
			l.o.Logger.Error("check scheduler stopped", "err", err)
		}
	}()
	return nil
}

// resultDetail is why a result failed: the probe's error and the
// conditions that failed.
func resultDetail(r checker.Result) string {
	var why []string
	if r.Error != "" {
		why = append(why, r.Error)
	}
	for _, c := range r.Failed() {
		why = append(why, c.Condition+" ("+c.Detail+")")
	}
	return strings.Join(why, "; ")
}

// feedHeartbeat pings the heartbeat a check's results feed, if any.
func (l *loghost) feedHeartbeat(ctx context.Context, hb string, r checker.Result, detail string) {
	if hb == "" || l.beats == nil {
		return
	}
	if err := l.beats.Feed(ctx, hb, r.Success, "check "+r.Check, detail); err != nil && ctx.Err() == nil {
		l.o.Logger.Warn("heartbeat fed by a check", "check", r.Check, "heartbeat", hb, "err", err)
	}
}

// statusSource builds the public page from the public checks only; note
// (nil: none) words a check seen down from some places only.
func statusSource(current func() *config.Config, rd *uptime.Reader, now func() time.Time, note func(check string) string) dashboard.StatusSource {
	return func(ctx context.Context) (dashboard.StatusPage, error) {
		cfg := current()
		// Every time on the page is in the configured zone, as the
		// monthly report's are, and shown with its name.
		loc := cfg.Location()
		t := now().In(loc)
		page := dashboard.StatusPage{Title: cfg.StatusPage.Title, Description: cfg.StatusPage.Description, Generated: t, Overall: "operational"}
		if page.Title == "" {
			page.Title = "Status"
		}
		groups := map[string]int{}
		for _, g := range cfg.StatusPage.Groups {
			groups[g] = len(page.Groups)
			page.Groups = append(page.Groups, dashboard.StatusGroup{Name: g})
		}
		public := map[string]bool{}
		down, total, unknown := 0, 0, 0
		type entry struct{ name, group string }
		var entries []entry
		for _, c := range cfg.Checks {
			if c.Public {
				entries = append(entries, entry{c.Name, c.Group})
			}
		}
		for _, h := range cfg.Heartbeats {
			if h.Public {
				entries = append(entries, entry{h.Name, h.Group})
			}
		}
		for _, c := range entries {
			public[c.name] = true
			comp, err := component(ctx, rd, c.name, t)
			if err != nil {
				return page, err
			}
			if note != nil {
				comp.Note = note(c.name)
			}
			comp.Since = comp.Since.In(loc)
			for i := range comp.Samples {
				comp.Samples[i].Time = comp.Samples[i].Time.In(loc)
			}
			total++
			switch comp.Status {
			case "unknown":
				unknown++
			case "down":
				down++
			case "degraded":
				if page.Overall == "operational" {
					page.Overall = "degraded"
				}
			}
			gi, ok := groups[c.group]
			if !ok {
				gi = len(page.Groups)
				groups[c.group] = gi
				page.Groups = append(page.Groups, dashboard.StatusGroup{Name: c.group})
			}
			page.Groups[gi].Components = append(page.Groups[gi].Components, comp)
		}
		switch {
		case total == 0 || unknown == total:
			page.Overall = "unknown"
		case down == total:
			page.Overall = "major_outage"
		case down > 0:
			page.Overall = "partial_outage"
		}
		var kept []dashboard.StatusGroup
		for _, g := range page.Groups {
			if len(g.Components) > 0 {
				kept = append(kept, g)
			}
		}
		page.Groups = kept
		ins, err := rd.Incidents(ctx, true, 20)
		if err != nil {
			return page, err
		}
		for _, in := range ins {
			if !public[in.Check] && in.Source != "manual" {
				continue // public once, private now: not shown
			}
			si := dashboard.StatusIncident{Title: in.Title, Started: in.Started.In(loc), Components: in.Components}
			if !in.Resolved.IsZero() {
				r := in.Resolved.In(loc)
				si.Resolved = &r
			}
			for _, u := range in.Updates {
				si.Updates = append(si.Updates, dashboard.StatusUpdate{Time: u.Time.In(loc), Status: u.Status, Message: u.Message})
			}
			page.Incidents = append(page.Incidents, si)
		}
		return page, nil
	}
}

func component(ctx context.Context, rd *uptime.Reader, name string, now time.Time) (dashboard.StatusComponent, error) {
	comp := dashboard.StatusComponent{Name: name}
	cur, err := rd.Current(ctx, name)
	if err != nil {
		return comp, err
	}
	comp.Status, comp.Since = cur.Status.String(), cur.Since
	days, err := rd.Days(ctx, name, 90, now)
	if err != nil {
		return comp, err
	}
	for i, n := range []int{1, 7, 30, 90} {
		comp.Uptime[i] = -1
		if r, ok := uptime.Ratio(days[90-n:]); ok {
			comp.Uptime[i] = r
		}
	}
	for _, d := range days {
		sd := dashboard.StatusDay{Day: d.Day, Uptime: -1, DownMS: d.Down}
		if r, ok := d.Ratio(); ok {
			sd.Uptime = r
		}
		comp.Days = append(comp.Days, sd)
	}
	samples, err := rd.Samples(ctx, name, now.Add(-24*time.Hour))
	if err != nil {
		return comp, err
	}
	comp.Samples = bucketSamples(samples, 5*time.Minute)
	return comp, nil
}

// bucketSamples gives the response-time graph one point per bucket (the
// mean of its good probes; failed if any probe in it failed): a day of
// 10-second probes is 8,640 points, more than the 540-pixel graph shows
// and most of a public page's weight.
func bucketSamples(samples []uptime.Sample, bucket time.Duration) []dashboard.StatusSample {
	var out []dashboard.StatusSample
	var sum float64
	var n int
	flush := func(at time.Time, ok, degraded bool) {
		ms := 0.0
		if n > 0 {
			ms = sum / float64(n)
		}
		out = append(out, dashboard.StatusSample{Time: at, MS: ms, OK: ok, Degraded: ok && degraded})
	}
	var cur time.Time
	ok, degraded := true, false
	for i, s := range samples {
		b := s.Time.Truncate(bucket)
		if i > 0 && !b.Equal(cur) {
			flush(cur, ok, degraded)
			sum, n, ok, degraded = 0, 0, true, false
		}
		cur = b
		if s.OK {
			sum += float64(s.Duration.Microseconds()) / 1000
			n++
			degraded = degraded || s.Degraded
		} else {
			ok = false
		}
	}
	if len(samples) > 0 {
		flush(cur, ok, degraded)
	}
	return out
}

// heartbeatFeed is a heartbeat result from a log rule.
type heartbeatFeed struct {
	name, from, detail string
	ok                 bool
}

// changeNotifier passes heartbeat observations to the tracker and tells
// the public page when one changed a state.
type changeNotifier struct {
	tr      *uptime.Tracker
	changed func()
}

func (n changeNotifier) Observe(ctx context.Context, o uptime.Observation) (*uptime.Change, error) {
	ch, err := n.tr.Observe(ctx, o)
	if ch != nil && n.changed != nil {
		n.changed()
	}
	return ch, err
}
