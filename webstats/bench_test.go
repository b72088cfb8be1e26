package webstats

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	webstatsfixture "github.com/watchpost/watchpost/fixtures/webstats"
	"github.com/watchpost/watchpost/logparse"
)

func benchLog(b *testing.B, lines int) []byte {
	var buf bytes.Buffer
	cfg := webstatsfixture.Config{Lines: lines, Start: time.Date(2026, 9, 25, 0, 0, 0, 0, time.UTC),
		Span: 10 * 24 * time.Hour, Seed: 1, Visitors: 2000}
	if err := webstatsfixture.Generate(&buf, cfg); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkAggregate measures AddRequest alone, on requests parsed
// beforehand: the aggregation's share of a line's cost.
func BenchmarkAggregate(b *testing.B) {
	reqs, _ := parseChunk(benchLog(b, 50_000), "combined")
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		a := New(Options{})
		for i := range reqs {
			a.AddRequest("www.example.com", &reqs[i])
		}
		n += len(reqs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkParseAndAggregate is one line's whole cost on one core:
// logparse's combined parser, then AddRequest.
func BenchmarkParseAndAggregate(b *testing.B) {
	data := benchLog(b, 50_000)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		a := New(Options{})
		for _, l := range lines {
			ev := logparse.Parse("combined", l, time.Time{}, time.UTC)
			a.Add("www.example.com", &ev)
		}
		n += len(lines)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkStatsCLI runs the offline command on a 200,000-line file, as
// bench/webstats-side-by-side.sh does.
func BenchmarkStatsCLI(b *testing.B) {
	path := filepath.Join(b.TempDir(), "access.log")
	if err := os.WriteFile(path, benchLog(b, 200_000), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if code := Main(context.Background(), []string{"-format", "json", path}, io.Discard, io.Discard); code != 0 {
			b.Fatal(code)
		}
	}
	b.ReportMetric(float64(200_000*b.N)/b.Elapsed().Seconds(), "lines/s")
}
