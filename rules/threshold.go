package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// window is one key's sliding window of a threshold clause, as SEC's
// SingleWithThreshold keeps it: event times inside the window, and once
// the action ran, the start of the window during which further events are
// swallowed.
type window struct {
	Times []time.Time `json:"times,omitempty"`
	Fired time.Time   `json:"fired,omitzero"` // start of the window that fired; zero when armed
}

// maxWindows bounds the keys one rule tracks, so hostile log data cannot
// grow memory without end; the stalest key goes first.
const maxWindows = 100000

// thresholdReached counts this event and reports whether the action runs:
// when the N-th event falls within DURATION of the first one still in the
// window. After that, events are swallowed until DURATION has passed since
// that first event; then counting starts again.
func (s *surfer) thresholdReached(r *rule, m *match, at time.Time) bool {
	th := r.spec.threshold
	key := ""
	if th.by != "" {
		w, _, ok := getWord(th.by, m, substPlain)
		if ok {
			key = w.String()
		}
	}
	if r.windows == nil {
		r.windows = map[string]*window{}
	}
	w := r.windows[key]
	if w == nil {
		if len(r.windows) >= maxWindows {
			s.evictWindow(r, at)
		}
		w = &window{}
		r.windows[key] = w
	}
	if !w.Fired.IsZero() {
		if at.Sub(w.Fired) <= th.window {
			return false
		}
		w.Fired = time.Time{}
	}
	// Slide: drop events that fell out of the window.
	i := 0
	for i < len(w.Times) && at.Sub(w.Times[i]) > th.window {
		i++
	}
	w.Times = append(w.Times[:0], w.Times[i:]...)
	w.Times = append(w.Times, at)
	if len(w.Times) < th.n {
		return false
	}
	w.Fired = w.Times[0]
	w.Times = w.Times[:0]
	return true
}

func (s *surfer) evictWindow(r *rule, at time.Time) {
	th := r.spec.threshold
	// First drop every window that has nothing left in it.
	for k, w := range r.windows {
		last := w.Fired
		if n := len(w.Times); n > 0 && w.Times[n-1].After(last) {
			last = w.Times[n-1]
		}
		if at.Sub(last) > th.window {
			delete(r.windows, k)
		}
	}
	if len(r.windows) < maxWindows {
		return
	}
	type kv struct {
		k string
		t time.Time
	}
	all := make([]kv, 0, len(r.windows))
	for k, w := range r.windows {
		t := w.Fired
		if n := len(w.Times); n > 0 && w.Times[n-1].After(t) {
			t = w.Times[n-1]
		}
		all = append(all, kv{k, t})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	for _, e := range all[:len(all)/10+1] {
		delete(r.windows, e.k)
	}
}

var alertSeverities = map[string]bool{"critical": true, "error": true, "warning": true, "info": true}

// parseAlert reads `alert SEVERITY "title template" label=value...`; with
// m nil it only checks the shape (load time).
func parseAlert(body string, m *match) (Alert, error) {
	mode := substPlain
	if m == nil {
		mode = substNone
	}
	toks, ok := collectTokens(body, m, mode)
	if !ok {
		return Alert{}, fmt.Errorf("alert: unterminated quote")
	}
	if len(toks) < 2 {
		return Alert{}, fmt.Errorf("alert needs a severity and a title")
	}
	a := Alert{Severity: strings.ToLower(toks[0].String()), Title: toks[1].String(), Labels: map[string]string{}}
	if !alertSeverities[a.Severity] && !(m == nil && strings.Contains(a.Severity, "$")) {
		if m == nil {
			return Alert{}, fmt.Errorf("alert: severity %q is not critical, error, warning or info", toks[0].String())
		}
	}
	for _, t := range toks[2:] {
		kv := t.String()
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return Alert{}, fmt.Errorf("alert: label %q is not name=value", kv)
		}
		a.Labels[k] = v
	}
	return a, nil
}

func formatAlert(a Alert) string {
	var b strings.Builder
	b.WriteString(a.Severity)
	b.WriteByte(' ')
	b.WriteString(quoteArg(a.Title))
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(" " + k + "=" + quoteArg(a.Labels[k]))
	}
	return b.String()
}
