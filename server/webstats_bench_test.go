package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/webstats"
)

// BenchmarkWebStatsConsume is the loghost's cost of one small batch of
// access-log lines (100, as a quiet site's collector sends them) into a
// month that already holds 20,000 visitors: what a site pays all month.
func BenchmarkWebStatsConsume(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Path: filepath.Join(b.TempDir(), "w.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	db := s.DB()
	const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	// The month so far, stored as the loghost stores it.
	prior := webstats.New(webstats.Options{})
	for h := 0; h < 20_000; h++ {
		for v := range 3 {
			ts := t0.Add(time.Duration(h*37%(20*24*60))*time.Minute + time.Duration(v)*2*time.Hour)
			prior.AddRequest("wiki", &webstats.Request{Time: ts, Client: fmt.Sprintf("10.%d.%d.%d", h>>16, h>>8&255, h&255), Method: "GET",
				Path: fmt.Sprintf("/page%d.html", (h+v)%300), Status: 200, Bytes: 1000, UserAgent: ua})
		}
	}
	cfg, err := config.Parse("x.yml", []byte("webstats:\n  sites:\n    - {name: wiki}\n"))
	if err != nil {
		b.Fatal(err)
	}
	w, err := newWebStats(cfg, time.UTC, time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	tx, _ := db.BeginTx(ctx, nil)
	if err := w.save(ctx, tx, prior, webstats.MonthKey{Site: "wiki", Year: 2026, Month: 10}, nil); err != nil {
		b.Fatal(err)
	}
	tx.Commit()
	recs := make([]store.Record, 100)
	for i := range recs {
		line := fmt.Sprintf(`192.0.2.%d - - [25/Oct/2026:10:%02d:00 +0000] "GET /p%d.html HTTP/1.1" 200 100 "-" "%s"`, i, i%60, i, ua)
		recs[i] = store.Record{Kind: store.KindLog, Format: "combined", Site: "wiki", Event: logparse.Parse("combined", []byte(line), time.Time{}, time.UTC)}
	}
	b.ReportAllocs()
	for b.Loop() {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.consume(ctx, tx, recs); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "lines/s")
}
