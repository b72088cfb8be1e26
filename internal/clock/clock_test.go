package clock

import (
	"testing"
	"time"
)

func TestOffset(t *testing.T) {
	real := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	start := time.Date(2027, 3, 28, 0, 59, 0, 0, time.UTC)
	now := offset(start, func() time.Time { return real })
	if got := now(); !got.Equal(start) {
		t.Fatalf("at start: %v", got)
	}
	real = real.Add(90 * time.Second)
	if got := now(); !got.Equal(start.Add(90 * time.Second)) {
		t.Errorf("after 90 s: %v", got)
	}
}

func TestWallDefault(t *testing.T) {
	now, err := Wall()
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(now()); d < 0 || d > time.Hour {
		t.Errorf("the default clock is off by %v", d)
	}
}
