package vantage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/watchpost/watchpost/checker"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/uptime"
)

// spec is a configured check as the engine needs it.
type spec struct {
	name   string
	rule   Rule
	public bool
	remote bool     // collectors may run it
	local  bool     // the loghost runs it
	only   []string // named locations (nil: every vantage)
	wire   config.Check
}

// assigned tells whether the vantage at loc runs the check.
func (s *spec) assigned(loc string) bool {
	if loc == Loghost {
		return s.local
	}
	if !s.remote {
		return false
	}
	return s.only == nil || slices.Contains(s.only, loc)
}

// samePlace tells whether a and b run at the same vantages.
func samePlace(a, b *spec) bool {
	return a.local == b.local && a.remote == b.remote && slices.Equal(a.only, b.only)
}

// plan is what the engine takes from the configuration: the checks as it
// needs them, in order, each with its state, and the canaries. A reload
// replaces it whole (SetConfig) and none is changed in place, so a reader
// may keep the plan it loaded for as long as it works on it. It is
// swapped with e.mu held: inside one critical section of e.mu the plan in
// force stays the same.
type plan struct {
	specs map[string]*spec
	order []string // check names in the configuration's order
	// checks are the checks' states; the state of a check that a reload
	// keeps is carried over to the next plan.
	checks        map[string]*checkState
	canaries      []*checker.Probe
	canaryWire    []config.Check // the canaries, as collectors get them
	canaryTargets []string       // as configured
	interval      time.Duration  // canary rounds
	timeout       time.Duration
	publicNames   map[string]string
}

// newPlan reads the checks and the vantages section; the checks' states
// are left to the caller.
func newPlan(checks []config.Check, v config.Vantages, now func() time.Time) (*plan, error) {
	p := &plan{specs: map[string]*spec{}, checks: map[string]*checkState{}, publicNames: v.PublicNames,
		canaryTargets: slices.Clone(v.Canaries)}
	p.interval = time.Duration(v.CanaryInterval)
	if p.interval <= 0 {
		p.interval = 30 * time.Second
	}
	p.timeout = time.Duration(v.CanaryTimeout)
	if p.timeout <= 0 {
		p.timeout = min(5*time.Second, p.interval)
	}
	for _, t := range v.Canaries {
		c, err := config.CanaryCheck(t, p.timeout)
		if err != nil {
			return nil, fmt.Errorf("vantages.canaries: %w", err)
		}
		pr, err := checker.Compile(c, checker.Options{Now: now})
		if err != nil {
			return nil, fmt.Errorf("vantages.canaries: %w", err)
		}
		p.canaries = append(p.canaries, pr)
		p.canaryWire = append(p.canaryWire, c)
	}
	for _, c := range checks {
		s := &spec{name: c.Name, public: c.Public, remote: config.RunsRemotely(c), local: config.RunsOnLoghost(c), wire: c}
		s.rule = Rule{FailThreshold: c.FailThreshold, SuccessThreshold: c.SuccessThreshold, Any: c.AlertOn == "any",
			Interval: time.Duration(c.Interval), Timeout: time.Duration(c.Timeout)}
		if s.rule.FailThreshold <= 0 {
			s.rule.FailThreshold = 2
		}
		if s.rule.SuccessThreshold <= 0 {
			s.rule.SuccessThreshold = 1
		}
		if s.rule.Interval <= 0 {
			s.rule.Interval = checker.DefaultInterval
		}
		if s.rule.Timeout <= 0 {
			s.rule.Timeout = min(checker.DefaultTimeout, s.rule.Interval)
		}
		if len(c.Vantages) > 0 && !(len(c.Vantages) == 1 && c.Vantages[0] == "all") {
			for _, v := range c.Vantages {
				if v != Loghost {
					s.only = append(s.only, v)
				}
			}
			if s.only == nil {
				s.remote = false // [loghost]
			}
		}
		if _, dup := p.specs[c.Name]; !dup {
			p.order = append(p.order, c.Name)
		}
		p.specs[c.Name] = s
	}
	return p, nil
}

func newCheckState() *checkState {
	return &checkState{per: map[string]*vstate{}, asked: map[string]time.Time{}}
}

// Validate tells whether SetConfig would take the checks and vantages,
// changing nothing: a reload checks it before anything changes.
func Validate(checks []config.Check, v config.Vantages) error {
	_, err := newPlan(checks, v, time.Now)
	return err
}

// assignments is what the vantage at loc runs, and its version: a hash of
// all the vantage is told, so that it changes exactly when that does.
func (p *plan) assignments(loc string) ([]config.Check, string) {
	var out []config.Check
	for _, name := range p.order {
		if s := p.specs[name]; s.assigned(loc) {
			c := s.wire
			// What only the loghost needs stays there.
			c.Heartbeat, c.DependsOn, c.Labels, c.Group = "", nil, nil, ""
			out = append(out, c)
		}
	}
	h := sha256.New()
	json.NewEncoder(h).Encode(struct {
		C   []config.Check
		K   []config.Check
		I   time.Duration
		Loc string
	}{out, p.canaryWire, p.interval, loc})
	return out, hex.EncodeToString(h.Sum(nil))[:16]
}

// SetConfig puts a reloaded configuration in force: the checks, where
// each runs, its rule (alert_on, thresholds) and the canaries. A check
// that remains keeps its state (each vantage's view, the decision, what
// the tracker was told, the gaps already filled), except the views of
// vantages that no longer run it; a removed check is forgotten, and its
// results are refused from then on; a new one starts with no view. Each
// collector whose assignments changed is woken, so that a pull waiting
// for news answers with its new work at once. Decisions follow the new
// rules at the next Tick (each second). On error nothing changed.
func (e *Engine) SetConfig(checks []config.Check, v config.Vantages) error {
	np, err := newPlan(checks, v, e.cfg.Now)
	if err != nil {
		return err
	}
	e.mu.Lock()
	old := e.plan.Load()
	var added, removed, moved int
	for name, s := range np.specs {
		cs := old.checks[name]
		if cs == nil {
			np.checks[name] = newCheckState()
			added++
			continue
		}
		// cs.per and the rest of a check's state are e.mu's.
		for loc := range cs.per {
			if !s.assigned(loc) {
				delete(cs.per, loc)
			}
		}
		if os := old.specs[name]; !samePlace(os, s) {
			// Whether the engine decides the check may have changed,
			// and the tracker may have been told by the loghost's own
			// results meanwhile: the next decision is told again.
			cs.fed = uptime.Unknown
			moved++
		}
		np.checks[name] = cs
	}
	for name := range old.specs {
		if np.specs[name] == nil {
			removed++
			delete(e.fills, name)
			for key := range e.fills {
				if strings.HasPrefix(key, name+"\x00") {
					delete(e.fills, key)
				}
			}
		}
	}
	canariesChanged := !slices.Equal(old.canaryTargets, np.canaryTargets) || old.interval != np.interval || old.timeout != np.timeout
	if lh := e.vantages[Loghost]; lh != nil && len(np.canaries) == 0 && len(old.canaries) > 0 {
		// Without canaries the loghost cannot doubt itself: a failed
		// round of the old ones must not keep it impaired.
		lh.rounds, lh.canaryDetail, lh.impairedSince, lh.outageStart = nil, "", time.Time{}, time.Time{}
	}
	e.plan.Store(np)
	// A waiting pull woken now finds the new plan.
	var woken []string
	for loc, vt := range e.vantages {
		if loc == Loghost {
			continue
		}
		for c := range vt.runNow {
			if s := np.specs[c]; s == nil || !s.assigned(loc) {
				delete(vt.runNow, c)
			}
		}
		_, was := old.assignments(loc)
		if _, is := np.assignments(loc); is != was {
			vt.signal()
			woken = append(woken, loc)
		}
	}
	e.mu.Unlock()
	if canariesChanged {
		select {
		case e.replan <- struct{}{}:
		default:
		}
	}
	slices.Sort(woken)
	e.cfg.Logger.Info("vantage plan reloaded", "checks", len(np.order), "added", added, "removed", removed, "moved", moved,
		"canaries", len(np.canaries), "vantages_with_new_work", woken)
	e.cfg.Changed()
	return nil
}
