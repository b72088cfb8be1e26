// Package thresholds turns metric values into alert state changes: a
// field's munin warning/critical ranges (from its plugin, or from the
// config's thresholds section, which wins) decide ok, warning or
// critical, with hysteresis so a value hovering at the line raises one
// alert, not one per sample. It holds no storage; the loghost saves its
// state with the outbox rows its changes cause.
package thresholds

import (
	"encoding/json"
	"fmt"
	"math"
	"path"
	"time"

	"github.com/watchpost/watchpost/munin"
)

// Level is a field's alert state.
type Level int

const (
	OK Level = iota
	Warning
	Critical
)

func (l Level) String() string {
	switch l {
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	}
	return "ok"
}

// Rule sets ranges for the fields it matches; patterns are shell globs
// (path.Match), empty matches everything.
type Rule struct {
	Host, Graph, Field string
	Warning, Critical  string // munin ranges: "max", "min:", ":max", "min:max"
}

// Options configure an Engine.
type Options struct {
	Rules []Rule // first match wins, before the plugin's own ranges
	// Confirm is how many samples in a row must agree before the level
	// changes (2): one odd sample is not an incident.
	Confirm int
	// Margin is the fraction of a bound a value must come back inside it
	// before the level drops (0.05): 91 % against a 90 % limit stays
	// raised until it is under 85.5 %.
	Margin float64
}

type compiled struct {
	Rule
	warn, crit *munin.Range
}

// Event is a level change of one field.
type Event struct {
	Host       string    `json:"host"`
	Graph      string    `json:"graph"`
	GraphTitle string    `json:"graph_title,omitempty"`
	Field      string    `json:"field"`
	Label      string    `json:"label,omitempty"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Value      float64   `json:"value"`
	Range      string    `json:"range,omitempty"` // the range that was left (or re-entered)
	Time       time.Time `json:"time"`
	// Since is when the field left ok: every event of one episode has
	// the same, so notifications can thread under it.
	Since time.Time `json:"since"`
}

type key struct{ host, graph, field string }

type state struct {
	Level   Level `json:"l"`
	Pending int   `json:"p,omitempty"` // samples in a row pointing to Next
	Next    Level `json:"n,omitempty"`
	Since   int64 `json:"s,omitempty"` // Unix seconds the field left ok
}

// Engine keeps each field's level. Not safe for concurrent use.
type Engine struct {
	opts  Options
	rules []compiled
	st    map[key]*state
}

// New checks the rules' ranges; an error names the rule.
func New(opts Options) (*Engine, error) {
	if opts.Confirm <= 0 {
		opts.Confirm = 2
	}
	if opts.Margin <= 0 {
		opts.Margin = 0.05
	}
	e := &Engine{opts: opts, st: map[key]*state{}}
	for i, r := range opts.Rules {
		c := compiled{Rule: r}
		for _, p := range []string{r.Host, r.Graph, r.Field} {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("threshold %d: pattern %q: %w", i+1, p, err)
			}
		}
		if r.Warning != "" {
			w, err := munin.ParseRange(r.Warning)
			if err != nil {
				return nil, fmt.Errorf("threshold %d: warning: %w", i+1, err)
			}
			c.warn = &w
		}
		if r.Critical != "" {
			cr, err := munin.ParseRange(r.Critical)
			if err != nil {
				return nil, fmt.Errorf("threshold %d: critical: %w", i+1, err)
			}
			c.crit = &cr
		}
		if c.warn == nil && c.crit == nil {
			return nil, fmt.Errorf("threshold %d: neither warning nor critical given", i+1)
		}
		e.rules = append(e.rules, c)
	}
	return e, nil
}

func match(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

// ranges picks the field's ranges: the first matching rule, else the
// plugin's warning/critical. Unparseable plugin ranges count as none.
func (e *Engine) ranges(host string, g *munin.Graph, f *munin.Field) (warn, crit *munin.Range) {
	for i := range e.rules {
		r := &e.rules[i]
		if match(r.Host, host) && match(r.Graph, g.Name) && match(r.Field, f.Name) {
			return r.warn, r.crit
		}
	}
	if f.Warning != "" {
		if w, err := munin.ParseRange(f.Warning); err == nil {
			warn = &w
		}
	}
	if f.Critical != "" {
		if c, err := munin.ParseRange(f.Critical); err == nil {
			crit = &c
		}
	}
	return warn, crit
}

// shrink narrows a range by margin of each bound, for leaving a level.
func shrink(r *munin.Range, margin float64) *munin.Range {
	if r == nil {
		return nil
	}
	s := *r
	if s.HasMax {
		s.Max -= margin * math.Abs(s.Max)
	}
	if s.HasMin {
		s.Min += margin * math.Abs(s.Min)
	}
	if s.HasMin && s.HasMax && s.Min > s.Max {
		mid := (r.Min + r.Max) / 2
		s.Min, s.Max = mid, mid
	}
	return &s
}

func levelOf(v float64, warn, crit *munin.Range) Level {
	switch {
	case crit != nil && !crit.Check(v):
		return Critical
	case warn != nil && !warn.Check(v):
		return Warning
	}
	return OK
}

// Observe takes one value of a field (a rate for counters, as graphed)
// and returns the level change it completes, if any. Unknown values
// change nothing: a gap is not a recovery.
func (e *Engine) Observe(host string, g *munin.Graph, f *munin.Field, t time.Time, v float64) (Event, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Event{}, false
	}
	warn, crit := e.ranges(host, g, f)
	k := key{host, g.Name, f.Name}
	st := e.st[k]
	if warn == nil && crit == nil {
		if st == nil || st.Level == OK {
			delete(e.st, k)
			return Event{}, false
		}
		// The range went away (config changed): that ends the alert.
		warn, crit = nil, nil
	}
	if st == nil {
		st = &state{}
		e.st[k] = st
	}
	target := levelOf(v, warn, crit)
	if target < st.Level {
		// Going down needs the value clearly back inside.
		target = max(target, levelOf(v, shrink(warn, e.opts.Margin), shrink(crit, e.opts.Margin)))
		if warn == nil && crit == nil {
			target = OK
		}
	}
	if target == st.Level {
		st.Pending, st.Next = 0, st.Level
		if st.Level == OK {
			delete(e.st, k)
		}
		return Event{}, false
	}
	if st.Next != target {
		st.Next, st.Pending = target, 0
	}
	st.Pending++
	if st.Pending < e.opts.Confirm {
		return Event{}, false
	}
	if st.Level == OK {
		st.Since = t.Unix()
	}
	ev := Event{Host: host, Graph: g.Name, GraphTitle: g.Title, Field: f.Name, Label: f.Label,
		From: st.Level.String(), To: target.String(), Value: v, Time: t, Since: time.Unix(st.Since, 0)}
	r := crit
	if target == Warning || (target == OK && st.Level == Warning) {
		r = warn
	}
	if r != nil {
		ev.Range = r.String()
	}
	st.Level, st.Pending, st.Next = target, 0, target
	if target == OK {
		delete(e.st, k)
	}
	return ev, true
}

// Raised lists the fields currently at warning or critical.
func (e *Engine) Raised() map[string]Level {
	out := map[string]Level{}
	for k, s := range e.st {
		if s.Level != OK {
			out[k.host+"/"+k.graph+"/"+k.field] = s.Level
		}
	}
	return out
}

type savedState struct {
	Host  string `json:"h"`
	Graph string `json:"g"`
	Field string `json:"f"`
	state
}

// MarshalState saves the levels and pending counts, to be committed with
// the outbox rows the changes caused.
func (e *Engine) MarshalState() ([]byte, error) {
	out := make([]savedState, 0, len(e.st))
	for k, s := range e.st {
		out = append(out, savedState{k.host, k.graph, k.field, *s})
	}
	return json.Marshal(out)
}

// UnmarshalState restores what MarshalState saved.
func (e *Engine) UnmarshalState(b []byte) error {
	var in []savedState
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("threshold state: %w", err)
	}
	e.st = make(map[key]*state, len(in))
	for _, s := range in {
		st := s.state
		e.st[key{s.Host, s.Graph, s.Field}] = &st
	}
	return nil
}
