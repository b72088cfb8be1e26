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

// TestWebStatsSiteSetups: each listed site is counted with its own
// definitions and privacy, other sites are not counted, and a site whose
// definitions change during a month keeps the month's own until it ends.
func TestWebStatsSiteSetups(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB()
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
	rec := func(site, ts, path string, status int) store.Record {
		line := fmt.Sprintf(`203.0.113.9 - - [%s] "GET %s HTTP/1.1" %d 100 "-" "%s"`, ts, path, status, firefox)
		return store.Record{Kind: store.KindLog, Format: "combined", Site: site,
			Event: logparse.Parse("combined", []byte(line), time.Time{}, time.UTC)}
	}
	// Pages 40 minutes apart, and a resumed download.
	batch := func(site, day string) []store.Record {
		return []store.Record{rec(site, day+"/Oct/2026:10:00:00 +0000", "/a", 200), rec(site, day+"/Oct/2026:10:40:00 +0000", "/b", 200),
			rec(site, day+"/Oct/2026:12:00:00 +0000", "/f.iso", 206)}
	}
	load := func(yml string) *webStats {
		t.Helper()
		cfg, err := config.Parse("x.yml", []byte(yml))
		if err != nil {
			t.Fatal(err)
		}
		w, err := newWebStats(cfg, time.UTC, time.Now, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	feed := func(w *webStats, recs []store.Record) {
		t.Helper()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.consume(ctx, tx, recs); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	reader := &webStatsReader{db: db}
	type want struct {
		visits, hits int64
		defs         string
	}
	check := func(site string, w want) {
		t.Helper()
		r, err := reader.Report(ctx, site, "2026-10")
		if err != nil || r == nil {
			t.Fatalf("%s: %v %v", site, r, err)
		}
		if got := (want{r.Totals.Visits, r.Totals.Hits, r.Definitions}); got != w {
			t.Errorf("%s: %+v, want %+v", site, got, w)
		}
	}
	const sites = `webstats:
  definitions: {hit_codes: [200, 206, 304]}
  sites:
    - name: wiki
      definitions: {visit_timeout: 30m}
    - name: blog
      privacy: truncate
`
	w := load(sites)
	var recs []store.Record
	for _, site := range []string{"wiki", "blog", "shop"} {
		recs = append(recs, batch(site, "05")...)
	}
	feed(w, recs)
	check("wiki", want{2, 3, "custom"}) // 30 min and 206 from the defaults
	check("blog", want{1, 3, "custom"})
	if r, _ := reader.Report(ctx, "shop", "2026-10"); r != nil {
		t.Error("an unlisted site was counted")
	}

	// The admin goes back to AWStats's definitions mid-month: October
	// keeps counting with the ones it began with, November uses the new.
	w = load("webstats:\n  sites:\n    - {name: wiki}\n")
	feed(w, append(batch("wiki", "06"), rec("wiki", "02/Nov/2026:10:00:00 +0000", "/a", 206)))
	check("wiki", want{4, 6, "custom"})
	nov, err := reader.Report(ctx, "wiki", "2026-11")
	if err != nil || nov == nil || nov.Definitions != "awstats" || nov.Totals.Hits != 0 {
		t.Errorf("November: %+v %v", nov, err)
	}
}

// TestWebStatsParts: each batch adds a part, every compactParts parts
// merge into the month's row, and the report is the same at every step;
// a month stored before parts (no defs of its own) keeps merging.
func TestWebStatsParts(t *testing.T) {
	if got := webstats.AWStats().Key(); got != "3600 true 200,304" {
		t.Fatalf("AWStats's definitions key %q is not the one migration 10 gives old months", got)
	}
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB()
	// A month as the loghost stored it before parts: one row.
	old := webstats.New(webstats.Options{})
	old.AddRequest("wiki", &webstats.Request{Time: time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC), Client: "192.0.2.200", Method: "GET", Path: "/", Status: 200, Bytes: 1, UserAgent: "Mozilla/5.0 Firefox/121.0"})
	blob, _ := old.Month(webstats.MonthKey{Site: "wiki", Year: 2026, Month: 10}).MarshalBinary()
	if _, err := db.Exec(`INSERT INTO webstats_months(site, month, data, updated) VALUES('wiki', '2026-10', ?, 1)`, blob); err != nil {
		t.Fatal(err)
	}
	cfg, _ := config.Parse("x.yml", []byte("webstats:\n  sites:\n    - {name: wiki}\n"))
	w, err := newWebStats(cfg, time.UTC, time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	reader := &webStatsReader{db: db}
	parts := func() (n int) {
		db.QueryRow(`SELECT count(*) FROM webstats_parts`).Scan(&n)
		return n
	}
	for i := 1; i <= compactParts+3; i++ {
		line := fmt.Sprintf(`192.0.2.%d - - [02/Oct/2026:10:%02d:00 +0000] "GET /p%d.html HTTP/1.1" 200 100 "-" "Mozilla/5.0 Firefox/121.0"`, i, i%60, i)
		recs := []store.Record{{Kind: store.KindLog, Format: "combined", Site: "wiki", Event: logparse.Parse("combined", []byte(line), time.Time{}, time.UTC)}}
		tx, _ := db.BeginTx(ctx, nil)
		if err := w.consume(ctx, tx, recs); err != nil {
			t.Fatal(err)
		}
		tx.Commit()
		r, err := reader.Report(ctx, "wiki", "2026-10")
		if err != nil || r == nil || r.Totals.Pages != int64(i)+1 || r.Totals.Unique != int64(i)+1 {
			t.Fatalf("after %d batches: %+v %v", i, r, err)
		}
		if want := i % compactParts; parts() != want {
			t.Fatalf("after %d batches: %d parts, want %d", i, parts(), want)
		}
	}
	ms, err := reader.Months(ctx)
	if err != nil || len(ms) != 1 || ms[0].Month != "2026-10" || ms[0].Updated.Unix() <= 1 {
		t.Errorf("months %+v %v", ms, err)
	}
	if r, err := reader.Report(ctx, "wiki", "2026-1x"); r != nil || err != nil {
		t.Errorf("bad month: %v %v", r, err)
	}
}
