package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/watchpost/watchpost/fixtures"
)

// benchLines is the size of the search benchmarks' store:
// WATCHPOST_BENCH_LINES (default 1,000,000; docs/BENCHMARKS.md uses 10,000,000).
func benchLines() int {
	if n, err := strconv.Atoi(os.Getenv("WATCHPOST_BENCH_LINES")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

var benchStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// FillBench appends n generated lines (8 hosts, a line every 86 ms, so
// 10M lines span ten days) in collector-sized batches of 2,000 per host.
func FillBench(ctx context.Context, s *Store, n int, progress func(done int)) error {
	g := fixtures.NewGenerator(42, benchStart, 86*time.Millisecond)
	byHost := map[string][]Record{}
	flush := func(h string) error {
		if _, err := s.Append(ctx, h, byHost[h]); err != nil {
			return err
		}
		byHost[h] = nil
		return nil
	}
	for i := 0; i < n; i++ {
		l := g.Next()
		r := logRec(l.Host, l.Program, l.Text, l.Time)
		r.PID, r.Message = strconv.Itoa(l.PID), l.Message
		r.Source, r.Gen, r.Offset, r.File = "file:/var/log/syslog", "g1", int64(i)*120, "/var/log/syslog"
		byHost[l.Host] = append(byHost[l.Host], r)
		if len(byHost[l.Host]) == 2000 {
			if err := flush(l.Host); err != nil {
				return err
			}
		}
		if progress != nil && i%100000 == 0 {
			progress(i)
		}
	}
	for h := range byHost {
		if len(byHost[h]) > 0 {
			if err := flush(h); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	benchOnce  sync.Once
	benchStore *Store
	benchErr   error
)

// searchBenchStore builds (once per process, or reuses from
// WATCHPOST_BENCH_DIR) a compacted store of benchLines lines.
func searchBenchStore(b *testing.B) *Store {
	benchOnce.Do(func() {
		dir := os.Getenv("WATCHPOST_BENCH_DIR")
		if dir == "" {
			dir, benchErr = os.MkdirTemp("", "watchpost-bench-")
			if benchErr != nil {
				return
			}
		}
		n := benchLines()
		path := filepath.Join(dir, fmt.Sprintf("search-%d.db", n))
		_, statErr := os.Stat(path)
		ctx := context.Background()
		benchStore, benchErr = Open(ctx, Options{Path: path, Now: func() time.Time { return benchStart.Add(30 * 24 * time.Hour) }})
		if benchErr != nil || statErr == nil {
			return
		}
		if benchErr = FillBench(ctx, benchStore, n, nil); benchErr != nil {
			return
		}
		_, benchErr = benchStore.Compact(ctx, 0)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

func BenchmarkSearch(b *testing.B) {
	s := searchBenchStore(b)
	ctx := context.Background()
	// an hour in the middle of the data
	hour := benchStart.Add(time.Duration(benchLines()/2) * 86 * time.Millisecond).Truncate(time.Hour)
	cases := []struct {
		name        string
		q           string
		since, till time.Time
		limit       int
	}{
		{"rare_word", "quokka", time.Time{}, time.Time{}, 0},
		{"host_program_1h", "host=web1 program=sshd", hour, hour.Add(time.Hour), 0},
		{"word_and_field_1h", "host=db1 program=sshd failed", hour, hour.Add(time.Hour), 0},
		{"regex_field_1h", `program~"^postfix/" message~"status=sent"`, hour, hour.Add(time.Hour), 0},
		{"common_word_newest_100", "sshd", time.Time{}, time.Time{}, 100},
		{"regex_all", `message~"Killed process 4242[0-9] "`, time.Time{}, time.Time{}, 0},
	}
	// One line to find rarely.
	if _, err := s.Append(ctx, "web1", []Record{logRec("web1", "app", "a quokka was seen near the datacenter", benchStart.Add(time.Hour))}); err != nil && s.w != nil {
		b.Fatal(err)
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			q := mustQuery(b, c.q)
			var st SearchStats
			var hits int
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h, s2, err := s.Search(ctx, SearchOptions{Query: q, Since: c.since, Until: c.till, Limit: c.limit})
				if err != nil {
					b.Fatal(err)
				}
				st, hits = s2, len(h)
			}
			b.ReportMetric(float64(hits), "hits")
			b.ReportMetric(float64(st.Read), "blocks_read")
			b.ReportMetric(float64(st.Blocks), "blocks_in_range")
		})
	}
}

// BenchmarkAppend measures the writer alone: 2,000-line batches from
// 8 hosts with the signature index, as ingest hands them over.
func BenchmarkAppend(b *testing.B) {
	s, _ := openTest(b, nil)
	ctx := context.Background()
	const batch = 2000
	batches := make([][]Record, 64)
	for i := range batches {
		batches[i] = genRecords(batch, uint64(i), t0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recs := append([]Record(nil), batches[i%len(batches)]...)
		if _, err := s.Append(ctx, fmt.Sprintf("h%d", i%8), recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkBlockIndex is what the writer spends per line on a block's
// index: the trigram signature alone, with the word-number keys, and
// the block stats, over collector-sized batches of generated lines.
func BenchmarkBlockIndex(b *testing.B) {
	recs := genRecords(2000, 1, t0)
	// CPU time of this thread, not wall time: the figure holds on a
	// machine others are using.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu := func() int64 {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_THREAD, &ru)
		return ru.Utime.Nano() + ru.Stime.Nano()
	}
	b.Run("wordnum", func(b *testing.B) {
		runtime.LockOSThread()
		c0 := cpu()
		m := map[uint64]struct{}{}
		for i := 0; i < b.N; i++ {
			for j := range recs {
				wordNumKeys(recs[j].Raw, func(k uint64) { m[k] = struct{}{} })
			}
			clear(m)
		}
		b.ReportMetric(float64(cpu()-c0)/float64(b.N*len(recs)), "cpu-ns/line")
	})
	b.Run("signature", func(b *testing.B) {
		runtime.LockOSThread()
		c0 := cpu()
		sb := newSigBuilder()
		for i := 0; i < b.N; i++ {
			for j := range recs {
				sb.add(&recs[j])
			}
			sb.build()
		}
		b.ReportMetric(float64(cpu()-c0)/float64(b.N*len(recs)), "cpu-ns/line")
	})
	b.Run("stats", func(b *testing.B) {
		runtime.LockOSThread()
		c0 := cpu()
		st := newStatsBuilder()
		for i := 0; i < b.N; i++ {
			for j := range recs {
				st.add(&recs[j])
			}
			st.build(nil)
		}
		b.ReportMetric(float64(cpu()-c0)/float64(b.N*len(recs)), "cpu-ns/line")
	})
}
