// Package vantage decides a check's state from several places: the
// loghost and every collector with `probes: true` probe the checks
// assigned to them, and a check is down only when most of the vantages
// that can see (eligible ones) see it down. It is the loghost's side:
// the assignments collectors pull, the results they push (each stored
// once, by its id), each vantage's view of each check, the quorum, the
// canaries that tell a vantage's own network trouble from an outage,
// results that arrive late, and the summary after the loghost's own
// outage. The probes themselves are package checker's, on both sides;
// the collector's side is package collector/probes.
package vantage

import (
	"context"
	"database/sql"
	"errors"
	"github.com/watchpost/watchpost/vantage/wire"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/checker"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/uptime"
)

// Loghost is the loghost's own location name.
const Loghost = wire.Loghost

// Tracker is what the engine needs of the uptime tracker.
type Tracker interface {
	Observe(ctx context.Context, o uptime.Observation) (*uptime.Change, error)
	Gaps(ctx context.Context, check string, since time.Time) ([]uptime.Span, error)
	Fill(ctx context.Context, check string, spans []uptime.Span, samples []uptime.Sample) (time.Duration, error)
}

// Auth maps a collector's token to its host (ingest.Tokens.Lookup).
type Auth func(token string) (host string, enroll, ok bool)

// Config configures an Engine.
type Config struct {
	DB      *sql.DB // the store's write handle
	Tracker Tracker
	// Checks and Vantages (the configuration's vantages section:
	// canaries, public names) are those at start; SetConfig replaces
	// them.
	Checks   []config.Check
	Vantages config.Vantages
	Auth     Auth
	// RunLocal asks the loghost's own scheduler to probe a check now.
	RunLocal func(check string) bool
	// Changed tells the status page that a check's picture changed.
	Changed func()
	// Wait is how long a pull waits for news (25 s).
	Wait time.Duration
	// KeepResults is how long each vantage's results are kept (48 h).
	KeepResults time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
	// Version is the loghost's own, shown beside the collectors'.
	Version string
	Metrics *metrics.Set
}

// checkState is the engine's picture of one check.
type checkState struct {
	// feed serialises what the tracker is told of this check: results of
	// one check must reach it one after the other.
	feed sync.Mutex

	per map[string]*vstate // by location
	// dec is the latest decision; fed what the tracker was last told.
	dec       decision
	fed       uptime.Status
	fedAt     time.Time
	suspected bool // the tracker holds a pending failure of ours
	asked     map[string]time.Time
}

// round is one round of a vantage's canaries.
type round struct {
	at time.Time
	ok bool
}

// vantage is one place that probes.
type vantage struct {
	loc, host, version  string
	firstSeen, lastSeen time.Time
	skew                time.Duration
	queued, dropped     int64
	rounds              []round // newest last, a few kept
	canaryDetail        string
	impairedSince       time.Time // zero: not impaired
	noticed             bool      // its impairment was announced
	outageStart         time.Time // the loghost's own: when its canaries first failed
	runNow              map[string]bool
	wake                chan struct{} // a waiting pull's
	polling             bool
}

// impaired: its latest canary round failed; its votes do not count.
func (v *vantage) impaired() bool {
	return len(v.rounds) > 0 && !v.rounds[len(v.rounds)-1].ok
}

// vouched tells whether the vantage's canaries passed after a failure
// began at since: only then is its "down" the target's trouble rather
// than its own.
func (v *vantage) vouched(since time.Time, haveCanaries bool) bool {
	if !haveCanaries {
		return true
	}
	if len(v.rounds) == 0 || v.impaired() {
		return false
	}
	for i := len(v.rounds) - 1; i >= 0; i-- {
		if v.rounds[i].ok && !v.rounds[i].at.Before(since.Add(-time.Second)) {
			return true
		}
	}
	return false
}

// Engine is the loghost's side of probing from several places.
type Engine struct {
	cfg Config
	// plan is the configuration in force (SetConfig replaces it).
	plan   atomic.Pointer[plan]
	replan chan struct{} // the canaries changed

	mu       sync.Mutex
	vantages map[string]*vantage
	kick     chan time.Time // the loghost's canaries, now
	lastKick time.Time
	fills    map[string]time.Time // gap start filled (by check) → late data seen then

	m struct {
		stored, duplicates, rejected, late, runNow *metrics.Counter
	}
}

// New prepares the engine: it loads the vantages seen before and their
// recent results, so that a restart keeps who may vote.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewSet()
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 25 * time.Second
	}
	if cfg.KeepResults <= 0 {
		cfg.KeepResults = 48 * time.Hour
	}
	if cfg.Changed == nil {
		cfg.Changed = func() {}
	}
	p, err := newPlan(cfg.Checks, cfg.Vantages, cfg.Now)
	if err != nil {
		return nil, err
	}
	for name := range p.specs {
		p.checks[name] = newCheckState()
	}
	e := &Engine{cfg: cfg, vantages: map[string]*vantage{}, kick: make(chan time.Time, 1), replan: make(chan struct{}, 1),
		fills: map[string]time.Time{}}
	e.plan.Store(p)
	e.vantages[Loghost] = &vantage{loc: Loghost, host: Loghost, version: cfg.Version, firstSeen: cfg.Now(), lastSeen: cfg.Now(), runNow: map[string]bool{}}
	s := cfg.Metrics
	e.m.stored = s.NewCounter("watchpost_vantage_results_stored_total")
	e.m.duplicates = s.NewCounter("watchpost_vantage_results_duplicate_total")
	e.m.rejected = s.NewCounter("watchpost_vantage_results_rejected_total")
	e.m.late = s.NewCounter("watchpost_vantage_results_late_total")
	e.m.runNow = s.NewCounter("watchpost_vantage_run_now_total")
	s.NewGauge("watchpost_vantages", func() float64 { e.mu.Lock(); defer e.mu.Unlock(); return float64(len(e.vantages)) })
	if cfg.DB != nil {
		if err := e.load(ctx); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// haveCanaries tells whether a vantage's rounds say anything: the loghost
// needs configured canaries; a collector always has the loghost as one.
func (e *Engine) haveCanaries(loc string) bool {
	return loc != Loghost || len(e.plan.Load().canaries) > 0
}

// Handles tells whether the engine decides the check's state: when it
// runs anywhere but the loghost, or the loghost has canaries to doubt
// its own failures with. Otherwise the loghost's results go to the
// tracker as they always did.
func (e *Engine) Handles(check string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.handlesLocked(e.plan.Load(), check)
}

// handlesLocked is Handles under e.mu, for the plan p.
func (e *Engine) handlesLocked(p *plan, check string) bool {
	s := p.specs[check]
	if s == nil {
		return false
	}
	if !s.local || len(p.canaries) > 0 {
		return true
	}
	for loc := range e.vantages {
		if loc != Loghost && s.assigned(loc) {
			return true
		}
	}
	return false
}

// Local takes a result of the loghost's own probe of a check the engine
// Handles.
func (e *Engine) Local(ctx context.Context, r checker.Result) {
	if r.Inconclusive {
		return
	}
	l := wire.Line{Check: r.Check, Time: r.Time, DurationMS: float64(r.Duration.Microseconds()) / 1000, OK: r.Success,
		Degraded: r.Degraded, Error: r.Error}
	for _, c := range r.ConditionResults {
		if !c.OK {
			l.Conditions = append(l.Conditions, wire.Condition{Condition: c.Condition, OK: c.OK, Warn: c.Warn, Detail: c.Detail})
		}
	}
	// Not stored as collectors' results are: the loghost's own never
	// come late, and a store write per probe would cost what the
	// tracker's batching saves.
	now := e.cfg.Now()
	if !r.Success && len(e.plan.Load().canaries) > 0 {
		// Is it the target, or the loghost's own network? A canary round
		// after the failure tells.
		e.mu.Lock()
		e.kickCanaries(r.Time)
		e.mu.Unlock()
	}
	e.observe(ctx, Loghost, l, now)
}

// observe folds a live result into its vantage's view, asks the others
// for a second opinion on a new failure, and tells the tracker what the
// check's vantages now decide.
func (e *Engine) observe(ctx context.Context, loc string, l wire.Line, now time.Time) {
	cs := e.plan.Load().checks[l.Check]
	if cs == nil {
		return
	}
	cs.feed.Lock()
	defer cs.feed.Unlock()
	e.mu.Lock()
	// The plan in force now: a reload may have come since.
	s := e.current(l.Check, cs)
	if s == nil || !s.assigned(loc) {
		// Removed, or no longer run there: stored, but it counts for
		// nothing.
		e.mu.Unlock()
		return
	}
	st := cs.per[loc]
	if st == nil {
		st = &vstate{}
		cs.per[loc] = st
	}
	wasUnsettled := st.pending == uptime.Down
	st.observe(s.rule, l.Time, l.OK, l.Degraded)
	if v := e.vantages[loc]; v != nil && v.impaired() {
		// What an impaired vantage sees is its own trouble: it builds
		// no view until its canaries pass.
		st.forget()
	}
	st.lastDuration = time.Duration(l.DurationMS * float64(time.Millisecond))
	st.lastError = l.Error
	if st.lastError == "" && len(l.Conditions) > 0 {
		st.lastError = conditionText(l.Conditions)
	}
	if !l.OK && (st.pending == uptime.Down || (!wasUnsettled && !st.failSince.IsZero() && st.failSince.Equal(l.Time))) {
		e.askSecondOpinions(s, cs, now)
	}
	o, ok := e.decideLocked(s, cs, now, &l, loc)
	e.mu.Unlock()
	if ok {
		e.tell(ctx, cs, o)
	}
}

// current returns the spec in force of a check whose state is cs, nil
// when a reload removed the check; e.mu is held.
func (e *Engine) current(name string, cs *checkState) *spec {
	p := e.plan.Load()
	if p.checks[name] != cs {
		return nil
	}
	return p.specs[name]
}

// askSecondOpinions asks every vantage that runs the check to probe it
// now (the one that failed too: its second failure confirms it); each at
// most once a timeout.
func (e *Engine) askSecondOpinions(s *spec, cs *checkState, now time.Time) {
	gap := max(s.rule.Timeout, time.Second)
	for loc, v := range e.vantages {
		if !s.assigned(loc) || now.Sub(cs.asked[loc]) < gap {
			continue
		}
		if loc != Loghost && now.Sub(v.lastSeen) > s.rule.fresh() {
			continue // gone: it would answer late or never
		}
		cs.asked[loc] = now
		e.m.runNow.Inc()
		if loc == Loghost {
			if e.cfg.RunLocal != nil {
				go e.cfg.RunLocal(s.name)
			}
			continue
		}
		v.runNow[s.name] = true
		v.signal()
	}
}

func (v *vantage) signal() {
	if v.wake != nil {
		select {
		case v.wake <- struct{}{}:
		default:
		}
	}
}

// votes are the check's vantages' says at now.
func (e *Engine) votes(s *spec, cs *checkState, now time.Time) []vote {
	var vs []vote
	for loc, st := range cs.per {
		v := e.vantages[loc]
		if v == nil || !s.assigned(loc) || now.Sub(st.last) > s.rule.fresh() || v.impaired() {
			continue
		}
		vt := vote{loc: loc, status: st.status}
		switch {
		case st.status == uptime.Down && !v.vouched(st.failSince, e.haveCanaries(loc)):
			vt.status, vt.unsettled, vt.since = uptime.Unknown, true, st.failSince
		case st.pending == uptime.Down:
			vt.unsettled, vt.since = true, st.failSince
		}
		if vt.unsettled && now.Sub(vt.since) > s.rule.holdFor() {
			vt.unsettled = false // no answer came: decide without it
		}
		vs = append(vs, vt)
	}
	return vs
}

// decideLocked decides the check now and returns what the tracker must
// be told, if anything. trigger is the result that prompted it (its
// sample and last result go with the decision), from loc.
func (e *Engine) decideLocked(s *spec, cs *checkState, now time.Time, trigger *wire.Line, loc string) (uptime.Observation, bool) {
	d := decide(s.rule, e.votes(s, cs, now))
	prev := cs.dec
	cs.dec = d
	if d.status != prev.status || d.partial != prev.partial || len(d.down) != len(prev.down) || d.unconfirmed != prev.unconfirmed {
		defer e.cfg.Changed()
	}
	o := uptime.Observation{Check: s.name, Time: now, Verdict: true}
	if trigger != nil {
		o.Time = trigger.Time
		o.Duration = time.Duration(trigger.DurationMS * float64(time.Millisecond))
		o.Conditions = []uptime.Condition{} // the last result, even a good one
		if !trigger.OK || trigger.Degraded {
			o.Error = "[" + loc + "] " + trigger.Error
			for _, c := range trigger.Conditions {
				o.Conditions = append(o.Conditions, uptime.Condition{Condition: c.Condition, OK: c.OK, Warn: c.Warn, Detail: c.Detail})
			}
			if o.Error == "["+loc+"] " {
				o.Error += conditionText(trigger.Conditions)
			}
		}
	} else {
		o.NoSample = true
	}
	if o.Time.Before(cs.fedAt) {
		o.Time = cs.fedAt // the tracker takes no step back
	}
	switch {
	case d.status == uptime.Down:
	case d.hold:
		if cs.suspected || cs.fed == uptime.Down {
			return o, false
		}
		// The outage, if confirmed, counts from the first failing
		// observation.
		o.Suspect, o.NoSample = true, true
		if d.holdSince.After(cs.fedAt) && d.holdSince.Before(o.Time) {
			o.Time = d.holdSince
		}
		o.OK = false
		return o, true
	case d.status == uptime.Unknown:
		return o, false // nobody eligible: the tracker sees a gap
	}
	if trigger == nil && d.status == cs.fed {
		return o, false
	}
	o.OK = d.status != uptime.Down
	o.Degraded = d.status == uptime.Degraded
	o.Detail = e.detail(s, cs, d)
	return o, true
}

// tell passes an observation to the tracker; cs.feed is held.
func (e *Engine) tell(ctx context.Context, cs *checkState, o uptime.Observation) {
	ch, err := e.cfg.Tracker.Observe(ctx, o)
	if err != nil {
		if ctx.Err() == nil {
			e.cfg.Logger.Error("record a vantage decision", "check", o.Check, "err", err)
		}
		return
	}
	e.mu.Lock()
	if o.Time.After(cs.fedAt) {
		cs.fedAt = o.Time
	}
	if o.Suspect {
		cs.suspected = true
	} else {
		cs.suspected = false
		cs.fed = uptime.Up
		switch {
		case !o.OK:
			cs.fed = uptime.Down
		case o.Degraded:
			cs.fed = uptime.Degraded
		}
	}
	e.mu.Unlock()
	if ch != nil {
		e.cfg.Logger.Info("check state changed", "check", ch.Check, "from", ch.From.String(), "to", ch.To.String(), "detail", ch.Detail)
		e.cfg.Changed()
	}
}

// Tick decides every check again: a vantage that fell silent, or whose
// canaries failed, no longer counts, and that may change a decision.
func (e *Engine) Tick(ctx context.Context) {
	now := e.cfg.Now()
	p := e.plan.Load()
	for _, name := range p.order {
		cs := p.checks[name]
		cs.feed.Lock()
		e.mu.Lock()
		s := e.current(name, cs)
		if s == nil || !e.handlesLocked(e.plan.Load(), name) {
			e.mu.Unlock()
			cs.feed.Unlock()
			continue
		}
		o, ok := e.decideLocked(s, cs, now, nil, "")
		e.mu.Unlock()
		if ok {
			e.tell(ctx, cs, o)
		}
		cs.feed.Unlock()
	}
}

// Run keeps the engine's clocks: decisions as vantages fall silent, the
// loghost's canary rounds, late results' filling, the summary after the
// loghost's own outage and pruning, until ctx ends.
func (e *Engine) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	p := e.plan.Load()
	canary := time.NewTicker(p.interval)
	defer canary.Stop()
	if len(p.canaries) == 0 {
		canary.Stop()
	}
	slow := time.NewTicker(5 * time.Second)
	defer slow.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	if len(p.canaries) > 0 {
		go e.localRound(ctx, e.cfg.Now())
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			e.Tick(ctx)
		case <-canary.C:
			go e.localRound(ctx, e.cfg.Now())
		case at := <-e.kick:
			go e.localRound(ctx, at)
		case <-e.replan:
			// New canaries, or a new interval: a round at once, then
			// on the new beat.
			canary.Stop()
			if p := e.plan.Load(); len(p.canaries) > 0 {
				canary.Reset(p.interval)
				go e.localRound(ctx, e.cfg.Now())
			}
		case <-slow.C:
			if err := e.Settle(ctx); err != nil && ctx.Err() == nil {
				e.cfg.Logger.Warn("late vantage results", "err", err)
			}
		case <-prune.C:
			if err := e.prune(ctx); err != nil && ctx.Err() == nil {
				e.cfg.Logger.Warn("prune vantage results", "err", err)
			}
		}
	}
}

// kickCanaries asks for a loghost canary round now, unless one started
// after a failure at t; e.mu is held.
func (e *Engine) kickCanaries(t time.Time) {
	if !e.lastKick.Before(t) {
		return
	}
	e.lastKick = e.cfg.Now()
	select {
	case e.kick <- e.lastKick:
	default:
	}
}

var errUnknownCheck = errors.New("no such check")
