package wallclock

import (
	"testing"
	"time"
)

func TestNext(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ny, _ := time.LoadLocation("America/New_York")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	for _, tt := range []struct {
		name, expr string
		loc        *time.Location
		after      time.Time
		want       time.Time
	}{
		{"an ordinary night", "0 2 * * *", berlin, at(berlin, 2026, 12, 6, 2, 10), at(berlin, 2026, 12, 7, 2, 0)},
		{"skipped 02:00 comes at the jump (Berlin)", "0 2 * * *", berlin, at(berlin, 2027, 3, 27, 2, 10), time.Date(2027, 3, 28, 1, 0, 0, 0, time.UTC)},
		{"skipped 02:30 comes at the jump (Berlin)", "30 2 * * *", berlin, at(berlin, 2027, 3, 27, 2, 40), time.Date(2027, 3, 28, 1, 0, 0, 0, time.UTC)},
		{"skipped 02:00 comes at the jump (New York)", "0 2 * * *", ny, at(ny, 2027, 3, 13, 2, 10), time.Date(2027, 3, 14, 7, 0, 0, 0, time.UTC)},
		{"the day after the jump is ordinary", "0 2 * * *", berlin, time.Date(2027, 3, 28, 1, 0, 0, 0, time.UTC), at(berlin, 2027, 3, 29, 2, 0)},
		{"an hour after the gap", "0 3 * * *", berlin, at(berlin, 2027, 3, 27, 3, 10), at(berlin, 2027, 3, 28, 3, 0)},
		{"the repeated hour, first pass", "30 2 * * *", berlin, time.Date(2026, 10, 25, 0, 10, 0, 0, time.UTC), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)},
		{"the repeated hour comes once", "30 2 * * *", berlin, time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), at(berlin, 2026, 10, 26, 2, 30)},
		{"the 31st skips short months", "0 0 31 * *", berlin, at(berlin, 2026, 10, 31, 1, 0), at(berlin, 2026, 12, 31, 0, 0)},
		{"29 February", "0 12 29 2 *", time.UTC, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)},
		{"new year", "0 0 1 1 *", berlin, at(berlin, 2026, 12, 31, 23, 59), at(berlin, 2027, 1, 1, 0, 0)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.expr, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(tt.after); !got.Equal(tt.want) {
				t.Errorf("after %v: %v, want %v", tt.after, got, tt.want.In(tt.loc))
			}
		})
	}
	if _, err := Parse("61 * * * *", time.UTC); err == nil {
		t.Error("a bad minute parsed")
	}
}

// TestParseRefusesZonesWithoutPanic: the cron library panics on
// "CRON_TZ="; a schedule naming a zone is refused, never a panic.
func TestParseRefusesZonesWithoutPanic(t *testing.T) {
	for _, expr := range []string{"CRON_TZ=", "TZ=", "TZ=Europe/Berlin 0 2 * * *", " CRON_TZ=UTC 0 2 * * *"} {
		if _, err := Parse(expr, time.UTC); err == nil {
			t.Errorf("%q accepted", expr)
		}
	}
}
