package logevery

import (
	"testing"
	"time"
)

func TestAllow(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	l := New(time.Minute, 2)
	steps := []struct {
		key     string
		at      time.Duration
		ok      bool
		skipped int
	}{
		{"a", 0, true, 0},
		{"a", time.Second, false, 0},
		{"a", 2 * time.Second, false, 0},
		{"b", 3 * time.Second, true, 0},
		{"a", time.Minute, true, 2},
		{"a", time.Minute + time.Second, false, 0},
		{"c", 2 * time.Minute, true, 0}, // the table was full: starts over
		{"a", 2 * time.Minute, true, 0},
	}
	for i, s := range steps {
		ok, skipped := l.Allow(s.key, t0.Add(s.at))
		if ok != s.ok || skipped != s.skipped {
			t.Errorf("step %d (%s at %v): %v %d, want %v %d", i, s.key, s.at, ok, skipped, s.ok, s.skipped)
		}
	}
}
