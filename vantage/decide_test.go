package vantage

import (
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/uptime"
)

var t0 = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)

func TestDecide(t *testing.T) {
	U, D, G, X := uptime.Up, uptime.Down, uptime.Degraded, uptime.Unknown
	tests := []struct {
		name  string
		votes []uptime.Status
		any   bool
		want  uptime.Status
		flags string // p: partial, u: unconfirmed
	}{
		{"nobody", nil, false, X, ""},
		{"one up: unconfirmed", []uptime.Status{U}, false, U, "u"},
		{"one down: unconfirmed down", []uptime.Status{D}, false, D, "u"},
		{"all up", []uptime.Status{U, U, U}, false, U, ""},
		{"one of three down: partial", []uptime.Status{D, U, U}, false, G, "p"},
		{"two of three down", []uptime.Status{D, D, U}, false, D, ""},
		{"one of two: a tie is partial", []uptime.Status{D, U}, false, G, "p"},
		{"two of two", []uptime.Status{D, D}, false, D, ""},
		{"two of four: not more than half", []uptime.Status{D, D, U, U}, false, G, "p"},
		{"three of four", []uptime.Status{D, D, D, U}, false, D, ""},
		{"alert on any", []uptime.Status{D, U, U}, true, D, ""},
		{"slow from most", []uptime.Status{G, G, U}, false, G, ""},
		{"slow from one", []uptime.Status{G, U, U}, false, U, ""},
		{"no view yet does not count", []uptime.Status{X, D, U}, false, G, "p"},
		{"no view yet: the other one alone", []uptime.Status{X, D}, false, D, "u"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var vs []vote
			for i, s := range tt.votes {
				vs = append(vs, vote{loc: string(rune('a' + i)), status: s})
			}
			d := decide(Rule{Any: tt.any}, vs)
			var flags string
			if d.partial {
				flags += "p"
			}
			if d.unconfirmed {
				flags += "u"
			}
			if d.status != tt.want || flags != tt.flags {
				t.Errorf("got %v %q, want %v %q", d.status, flags, tt.want, tt.flags)
			}
			if d.hold {
				t.Error("hold without an unsettled vote")
			}
		})
	}
}

func TestDecideHoldsForTheEarliestUnsettledFailure(t *testing.T) {
	d := decide(Rule{}, []vote{
		{loc: "a", status: uptime.Down},
		{loc: "b", status: uptime.Up, unsettled: true, since: t0.Add(2 * time.Second)},
		{loc: "c", status: uptime.Unknown, unsettled: true, since: t0.Add(time.Second)},
	})
	if !d.hold || !d.holdSince.Equal(t0.Add(time.Second)) || d.eligible != 2 || strings.Join(d.down, ",") != "a" {
		t.Fatalf("%+v", d)
	}
}

// Each vantage applies the check's own rule: so many failures in a row.
func TestVantageState(t *testing.T) {
	r := Rule{FailThreshold: 2, SuccessThreshold: 2}
	var s vstate
	steps := []struct {
		ok      bool
		status  uptime.Status
		pending uptime.Status
	}{
		{true, uptime.Up, uptime.Unknown},
		{false, uptime.Up, uptime.Down},
		{false, uptime.Down, uptime.Unknown},
		{true, uptime.Down, uptime.Up},
		{false, uptime.Down, uptime.Unknown},
		{true, uptime.Down, uptime.Up},
		{true, uptime.Up, uptime.Unknown},
	}
	for i, st := range steps {
		s.observe(r, t0.Add(time.Duration(i)*time.Minute), st.ok, false)
		if s.status != st.status || s.pending != st.pending {
			t.Fatalf("step %d: %v pending %v, want %v pending %v", i, s.status, s.pending, st.status, st.pending)
		}
	}
	if !s.since.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("up since %v", s.since.Sub(t0))
	}
	// Older results change nothing.
	s.observe(r, t0, false, false)
	if s.status != uptime.Up || s.pending != uptime.Unknown {
		t.Errorf("an old result changed the state")
	}
}
