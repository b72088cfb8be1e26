package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/webstats"
)

// BenchmarkWebStatsConsume is the loghost's cost of one small batch of
// access-log lines (100, as a quiet site's collector sends them) into a
// month that already holds 20,000 visitors: what a site pays all month.
func BenchmarkWebStatsConsume(b *testing.B) {
	db := openTestDB(b)
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	// The month so far, stored as the loghost stores it.
	prior := webstats.New(webstats.Options{})
	for h := 0; h < 20_000; h++ {
		for v := range 3 {
			ts := t0.Add(time.Duration(h*37%(20*24*60))*time.Minute + time.Duration(v)*2*time.Hour)
			prior.AddRequest("wiki", &webstats.Request{Time: ts, Client: fmt.Sprintf("10.%d.%d.%d", h>>16, h>>8&255, h&255), Method: "GET",
				Path: fmt.Sprintf("/page%d.html", (h+v)%300), Status: 200, Bytes: 1000, UserAgent: testAgent})
		}
	}
	w := newTestWebStats(b, "webstats:\n  sites:\n    - {name: wiki}\n")
	tx, _ := db.BeginTx(context.Background(), nil)
	if err := w.save(context.Background(), tx, prior, webstats.MonthKey{Site: "wiki", Year: 2026, Month: 10}, nil, nil); err != nil {
		b.Fatal(err)
	}
	tx.Commit()
	recs := make([]store.Record, 100)
	for i := range recs {
		recs[i] = accessRecord("wiki", fmt.Sprintf("192.0.2.%d", i), fmt.Sprintf("25/Oct/2026:10:%02d:00 +0000", i%60), fmt.Sprintf("/p%d.html", i), 200)
	}
	b.ReportAllocs()
	for b.Loop() {
		consumeBatch(b, db, w, recs)
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "lines/s")
}
