package maintenance

import (
	"testing"
	"time"
)

// FuzzWindow: no schedule, duration or name panics Prepare or Next, and
// an accepted window's occurrences are well formed.
func FuzzWindow(f *testing.F) {
	for _, s := range []string{"0 2 * * 6", "@daily", "TZ=Europe/Berlin 0 2 * * *", "CRON_TZ=", "* * * * * *", "60 25 32 13 8", "@every 1h", ""} {
		f.Add("w", s, int64(time.Hour))
	}
	f.Fuzz(func(t *testing.T, name, schedule string, dur int64) {
		w := Window{Name: name, Schedule: schedule, Duration: time.Duration(dur)}
		if schedule == "" {
			w.Start, w.End = time.Unix(0, 0), time.Unix(0, 0).Add(time.Duration(dur))
		}
		if w.Prepare(berlin) != nil {
			return
		}
		at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
		if o, ok := w.Next(at); ok && !o.End.After(o.Start) {
			t.Fatalf("%+v: occurrence %+v", w, o)
		}
	})
}
