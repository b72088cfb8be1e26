package alerting

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestFlapPercent(t *testing.T) {
	f := FlapDetector{High: 50, Low: 25}
	alt := func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i % 2 * 2
		}
		return s
	}
	oneAt := func(i int) []int { // a change between state i-1 and i of 21
		s := make([]int, 21)
		for j := i; j < 21; j++ {
			s[j] = 2
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		states []int
		want   float64
	}{
		{"steady", make([]int, 21), 0},
		{"empty", nil, 0},
		{"alternating", alt(21), 100},
		{"alternating, longer history", alt(40), 100},
		{"newest change weighs 1.2", oneAt(20), 6},
		{"oldest change weighs 0.8", oneAt(1), 4},
		{"short history counts as the newest", []int{0, 2, 0}, (0.8 + 0.4*18/19 + 1.2) * 5},
		{"degraded is a state too", []int{0, 0, 1}, 6},
	} {
		if got := f.Percent(tc.states); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		was  bool
		pct  float64
		want bool
	}{{false, 49.9, false}, {false, 50, true}, {true, 30, true}, {true, 25, true}, {true, 24.9, false}} {
		if got := f.Next(tc.was, tc.pct); got != tc.want {
			t.Errorf("Next(%v, %v) = %v", tc.was, tc.pct, got)
		}
	}
}

// TestFlapping: a check going up and down sends its first changes, then
// one "flapping started", then nothing per change (recorded as
// suppressed); once it has been steady long enough, one "stopped", and
// later outages go out again.
func TestFlapping(t *testing.T) {
	db := openDB(t)
	rec := &recorder{}
	c := &clock{t0}
	d := New(db, Config{Email: rec, Now: c.now, Hostname: "lh"})
	incident := int64(0)
	probe := func(i int, ok bool, change bool) {
		c.t = t0.Add(time.Duration(i) * time.Minute)
		db.Exec(`INSERT INTO check_samples(check_name, time, ok, degraded, duration_us) VALUES('wiki', ?, ?, 0, 1)`, c.t.UnixNano(), ok)
		st := statusUp
		if !ok {
			st = statusDown
		}
		db.Exec(`INSERT OR REPLACE INTO check_state(check_name, status, since, last_time, pending, pending_since, streak) VALUES('wiki', ?, ?, ?, 0, 0, 0)`, st, c.t.UnixNano(), c.t.UnixNano())
		if change {
			since := c.t.Format(time.RFC3339)
			if ok {
				queue(t, db, c.t, "check_up", fmt.Sprintf(`{"check":"wiki","from":"down","to":"up","since":%q,"incident":%d}`, since, incident))
			} else {
				incident++
				queue(t, db, c.t, "check_down", fmt.Sprintf(`{"check":"wiki","from":"up","to":"down","since":%q,"detail":"503","incident":%d}`, since, incident))
			}
		}
		drain(t, d)
	}
	probe(0, true, false)
	for i := 1; i <= 30; i++ {
		probe(i, i%2 == 0, true)
	}
	var changes, starts int
	for _, s := range rec.subjects() {
		if strings.Contains(s, "flapping") {
			starts++
		} else {
			changes++
		}
	}
	if starts != 1 || changes < 4 || changes > 10 {
		t.Fatalf("sent %q", rec.subjects())
	}
	if !strings.Contains(rec.msgs[len(rec.msgs)-1].Text, "is FLAPPING") {
		t.Errorf("last message %+v", rec.msgs[len(rec.msgs)-1])
	}
	var suppressed int
	db.QueryRow(`SELECT count(*) FROM outbox WHERE suppressed LIKE 'flapping (%'`).Scan(&suppressed)
	if suppressed < 15 {
		t.Errorf("%d changes suppressed as flapping", suppressed)
	}
	n := len(rec.msgs)
	for i := 31; i <= 60; i++ {
		probe(i, true, false) // steady: the percent falls
	}
	if len(rec.msgs) != n+1 || !strings.Contains(rec.msgs[n].Text, "STOPPED FLAPPING") || !strings.Contains(rec.msgs[n].Text, "UP now") {
		t.Fatalf("after calming down: %q", rec.subjects()[n:])
	}
	if rec.msgs[n].InReplyTo != rec.msgs[n-1].MessageID {
		t.Errorf("stop not threaded under start: %q vs %q", rec.msgs[n].InReplyTo, rec.msgs[n-1].MessageID)
	}
	probe(61, false, true)
	if len(rec.msgs) != n+2 || !strings.Contains(rec.msgs[n+1].Text, "is DOWN since") {
		t.Errorf("an outage after flapping: %q", rec.subjects()[n:])
	}
}
