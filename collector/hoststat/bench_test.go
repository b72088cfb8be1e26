package hoststat

import (
	"context"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCollect is one full round on this machine's /proc and /sys.
// cpu-ns/op is user+system CPU of the process (getrusage) per round,
// which includes the kernel's work to generate the /proc files.
func BenchmarkCollect(b *testing.B) {
	c := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	c.Collect(ctx) // discovery round
	b.ReportAllocs()
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		c.Collect(ctx)
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkReader runs each reader alone on the real /proc.
func BenchmarkReader(b *testing.B) {
	c := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	c.Collect(context.Background())
	for i := range c.readers {
		r := &c.readers[i]
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for n := 0; n < b.N; n++ {
				c.graphs, c.starts, c.vals = c.graphs[:0], c.starts[:0], c.vals[:0]
				if err := r.fn(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParse measures the parsers alone on the fixture files.
func BenchmarkParse(b *testing.B) {
	c := newFixture(b, "debian12")
	for _, tc := range []struct {
		name, file string
		fn         func([]byte)
	}{
		{"stat", "stat", func(x []byte) { var s procStat; parseProcStat(x, &s) }},
		{"meminfo", "meminfo", func(x []byte) { var m meminfo; parseMeminfo(x, &m) }},
		{"diskstats", "diskstats", func(x []byte) { parseDiskstats(x, new(diskstat), func([]byte, *diskstat) {}) }},
		{"netdev", "net/dev", func(x []byte) { parseNetDev(x, new(netdev), func([]byte, *netdev) {}) }},
		{"mountinfo", "self/mountinfo", func(x []byte) { parseMountinfo(x, func(*mountEntry) {}) }},
	} {
		data, err := c.fr.readFile(c.proc, "/", tc.file)
		if err != nil {
			b.Fatal(err)
		}
		data = append([]byte(nil), data...)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				tc.fn(data)
			}
		})
	}
}
