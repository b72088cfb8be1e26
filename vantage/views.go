package vantage

import (
	"encoding/json"
	"fmt"
	"github.com/watchpost/watchpost/vantage/wire"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/watchpost/watchpost/uptime"
)

// conditionText says which conditions failed, for a result without an
// error of its own.
func conditionText(cs []wire.Condition) string {
	var parts []string
	for _, c := range cs {
		if !c.OK {
			parts = append(parts, c.Condition+" ("+c.Detail+")")
		}
	}
	return strings.Join(parts, "; ")
}

// detail words a decision for the incident, the alert and the console;
// e.mu is held.
func (e *Engine) detail(s *spec, cs *checkState, d decision) string {
	var b strings.Builder
	switch {
	case d.unconfirmed && e.assignedCount(s) > 1:
		fmt.Fprintf(&b, "unconfirmed: seen from %s only", e.onlyEligible(s, cs))
	case d.status == uptime.Down && d.eligible > 1:
		fmt.Fprintf(&b, "down from %s (%d of %d locations)", strings.Join(d.down, ", "), len(d.down), d.eligible)
	case d.partial:
		fmt.Fprintf(&b, "partial outage: down from %s (%d of %d locations)", strings.Join(d.down, ", "), len(d.down), d.eligible)
	}
	if d.status == uptime.Down || d.partial {
		var errs []string
		for _, loc := range d.down {
			if st := cs.per[loc]; st != nil && st.lastError != "" {
				errs = append(errs, loc+": "+st.lastError)
			}
		}
		if len(errs) == 0 && d.unconfirmed {
			for loc, st := range cs.per {
				if st.status == uptime.Down && st.lastError != "" {
					errs = append(errs, loc+": "+st.lastError)
				}
			}
		}
		sort.Strings(errs)
		if len(errs) > 0 {
			if b.Len() > 0 {
				b.WriteString(": ")
			}
			b.WriteString(strings.Join(errs, "; "))
		}
	}
	return b.String()
}

// assignedCount is how many known vantages run the check; e.mu is held.
func (e *Engine) assignedCount(s *spec) int {
	n := 0
	for loc := range e.vantages {
		if s.assigned(loc) {
			n++
		}
	}
	return n
}

func (e *Engine) onlyEligible(s *spec, cs *checkState) string {
	for _, v := range e.votes(s, cs, e.cfg.Now()) {
		if v.status != uptime.Unknown {
			return v.loc
		}
	}
	return "one place"
}

// GridRow is one vantage's view of a check, for the console.
type GridRow struct {
	Location string `json:"location"`
	// State is its confirmed view: up, degraded, down or unknown;
	// Pending names a change awaiting confirmation.
	State   string `json:"state"`
	Pending string `json:"pending,omitempty"`
	// Counts: its vote counts now; Why says why not (silent, impaired,
	// canaries not yet run after a failure).
	Counts   bool          `json:"counts"`
	Why      string        `json:"why,omitempty"`
	Last     time.Time     `json:"last"`
	OK       bool          `json:"ok"`
	Degraded bool          `json:"degraded,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	Error    string        `json:"error,omitempty"`
}

// CheckView is a check's picture across its vantages.
type CheckView struct {
	// Multi: the engine decides the check (more than the loghost runs
	// it, or the loghost doubts itself with canaries).
	Multi       bool      `json:"multi"`
	Status      string    `json:"status"`
	Eligible    int       `json:"eligible"`
	Down        []string  `json:"down,omitempty"`
	Partial     bool      `json:"partial,omitempty"`
	Unconfirmed bool      `json:"unconfirmed,omitempty"`
	Note        string    `json:"note,omitempty"`
	Vantages    []GridRow `json:"vantages"`
}

// Check returns the check's picture across its vantages.
func (e *Engine) Check(name string) CheckView {
	now := e.cfg.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.plan.Load()
	s, cs := p.specs[name], p.checks[name]
	if s == nil {
		return CheckView{}
	}
	multi := e.handlesLocked(p, name)
	v := CheckView{Multi: multi, Status: cs.dec.status.String(), Eligible: cs.dec.eligible, Down: cs.dec.down,
		Partial: cs.dec.partial, Unconfirmed: cs.dec.unconfirmed && e.assignedCount(s) > 1}
	if multi {
		v.Note = e.detail(s, cs, cs.dec)
	}
	counted := map[string]bool{}
	for _, vt := range e.votes(s, cs, now) {
		counted[vt.loc] = vt.status != uptime.Unknown
	}
	var locs []string
	for loc := range e.vantages {
		if s.assigned(loc) {
			locs = append(locs, loc)
		}
	}
	sort.Slice(locs, func(i, j int) bool {
		if (locs[i] == Loghost) != (locs[j] == Loghost) {
			return locs[i] == Loghost
		}
		return locs[i] < locs[j]
	})
	for _, loc := range locs {
		row := GridRow{Location: loc, State: "unknown"}
		st := cs.per[loc]
		vt := e.vantages[loc]
		if st != nil {
			row.State = st.status.String()
			if st.pending != uptime.Unknown {
				row.Pending = st.pending.String()
			}
			row.Last, row.OK, row.Degraded, row.Duration, row.Error = st.last, st.lastOK, st.lastDegraded, st.lastDuration, st.lastError
		}
		row.Counts = counted[loc]
		switch {
		case row.Counts:
		case st == nil:
			row.Why = "no result yet"
		case vt.impaired():
			row.Why = "impaired: its canaries fail"
		case now.Sub(st.last) > s.rule.fresh():
			row.Why = "silent: no result for " + now.Sub(st.last).Round(time.Second).String()
		case st.status == uptime.Down:
			row.Why = "its canaries have not vouched for the failure yet"
		default:
			row.Why = "no confirmed view yet"
		}
		v.Vantages = append(v.Vantages, row)
	}
	return v
}

// PublicNote is what the status page says of a check seen down from some
// places only: "partial outage (seen from 1 of 3 locations)", naming
// locations only by the public names the admin gave them.
func (e *Engine) PublicNote(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.plan.Load()
	cs := p.checks[name]
	if cs == nil {
		return ""
	}
	d := cs.dec
	if !d.partial && !(d.status == uptime.Down && d.eligible > 1) {
		return ""
	}
	var named []string
	for _, loc := range d.down {
		if n := strings.TrimSpace(p.publicNames[loc]); n != "" {
			named = append(named, n)
		}
	}
	what := "outage"
	if d.partial {
		what = "partial outage"
	}
	if len(named) == len(d.down) && len(named) > 0 {
		what += " from " + strings.Join(named, ", ")
	}
	return fmt.Sprintf("%s (seen from %d of %d locations)", what, len(d.down), d.eligible)
}

// Info is one vantage, for the vantages page.
type Info struct {
	Location string        `json:"location"`
	Host     string        `json:"host"`
	Version  string        `json:"version,omitempty"`
	LastSeen time.Time     `json:"last_seen"`
	Skew     time.Duration `json:"clock_skew_ns"`
	// CanaryOK is its latest canary round's verdict (CanaryTime; zero:
	// none yet); Canaries what each said.
	CanaryOK   bool      `json:"canary_ok"`
	CanaryTime time.Time `json:"canary_time"`
	Canaries   string    `json:"canaries,omitempty"`
	Impaired   bool      `json:"impaired"`
	// ImpairedSince: when its canaries started failing.
	ImpairedSince time.Time `json:"impaired_since"`
	Queued        int64     `json:"queued"`
	Dropped       int64     `json:"dropped"`
	Checks        int       `json:"checks"`
}

// Vantages lists the loghost and every collector that probes.
func (e *Engine) Vantages() []Info {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.plan.Load()
	var out []Info
	for loc, v := range e.vantages {
		in := Info{Location: loc, Host: v.host, Version: v.version, LastSeen: v.lastSeen, Skew: v.skew, Canaries: v.canaryDetail,
			Impaired: v.impaired(), ImpairedSince: v.impairedSince, Queued: v.queued, Dropped: v.dropped, CanaryOK: true}
		if loc == Loghost {
			in.LastSeen = e.cfg.Now()
		}
		if n := len(v.rounds); n > 0 {
			in.CanaryOK, in.CanaryTime = v.rounds[n-1].ok, v.rounds[n-1].at
		}
		for _, s := range p.specs {
			if s.assigned(loc) {
				in.Checks++
			}
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Location == Loghost) != (out[j].Location == Loghost) {
			return out[i].Location == Loghost
		}
		return out[i].Location < out[j].Location
	})
	return out
}

// RegisterAdmin adds the admin API: GET /api/v1/vantages (every vantage)
// and GET /api/v1/vantages/checks/{name} (a check's per-vantage grid),
// each wrapped in auth.
func (e *Engine) RegisterAdmin(mux *http.ServeMux, auth func(http.Handler) http.Handler) {
	mux.Handle("GET /api/v1/vantages", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"vantages": e.Vantages()})
	})))
	mux.Handle("GET /api/v1/vantages/checks/{name}", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if e.plan.Load().specs[name] == nil {
			writeError(w, http.StatusNotFound, "no check named "+strconv.Quote(name))
			return
		}
		writeJSON(w, e.Check(name))
	})))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}
