package uptime

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
)

// cpuTime is this process's user+system time: the loghost pays for CPU,
// and a batched commit mostly saves CPU and fsyncs, not wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkObserve records results into a real store (WAL, synchronous
// FULL): one caller at a time, as a lone check, and 200 checks at once,
// as the scheduler's sink sees them. cpu-ns/op is what the loghost
// spends per result.
func BenchmarkObserve(b *testing.B) {
	for _, bc := range []struct {
		name    string
		callers int
		cfg     Config
		// results: the observation carries its probe's conditions (as a
		// check's do), so the last result and failures are kept too.
		results bool
	}{
		{"sequential", 1, Config{}, false},
		{"200_checks", 200, Config{}, false},
		{"200_checks_window_50ms", 200, Config{BatchWindow: 50 * time.Millisecond}, false},
		{"200_checks_window_50ms_results", 200, Config{BatchWindow: 50 * time.Millisecond}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(b.TempDir(), "w.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			bc.cfg.Location = time.UTC
			bc.cfg.MaxGap = func(string) time.Duration { return time.Hour }
			tr := New(s.DB(), bc.cfg)
			ctx := context.Background()
			start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
			var mu sync.Mutex
			next := 0
			b.ReportAllocs()
			b.ResetTimer()
			c0 := cpuTime()
			var wg sync.WaitGroup
			for w := range bc.callers {
				wg.Go(func() {
					for i := 0; ; i++ {
						mu.Lock()
						if next >= b.N {
							mu.Unlock()
							return
						}
						next++
						mu.Unlock()
						// Every 7th probe fails: some pending states, a few changes.
						o := Observation{Check: fmt.Sprintf("svc-%d", w), Time: start.Add(time.Duration(i) * 30 * time.Second),
							OK: i%7 != 3, Duration: time.Millisecond, Detail: "status 503"}
						if bc.results {
							o.Conditions = []Condition{{Condition: "status == 200", OK: o.OK, Detail: "status 503"}, {Condition: "response_time < 2s", OK: true, Detail: "1ms"}}
						}
						if _, err := tr.Observe(ctx, o); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
		})
	}
}
