package server

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	webstatsfixture "github.com/watchpost/watchpost/fixtures/webstats"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/webstats"
)

const testAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"

// openTestDB opens a migrated store in a temporary folder.
func openTestDB(tb testing.TB) *sql.DB {
	tb.Helper()
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(tb.TempDir(), "w.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s.DB()
}

// newTestWebStats builds the web statistics consumer of a config file.
func newTestWebStats(tb testing.TB, yml string) *webStats {
	return reloadTestWebStats(tb, "x.yml", yml, nil)
}

// reloadTestWebStats builds the consumer of the config file at path that
// replaces prev (nil at start).
func reloadTestWebStats(tb testing.TB, path, yml string, prev *webStats) *webStats {
	tb.Helper()
	cfg, err := config.Parse(path, []byte(yml))
	if err != nil {
		tb.Fatal(err)
	}
	w, err := newWebStats(cfg, time.UTC, time.Now, slog.New(slog.DiscardHandler), prev)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

// accessRecord is a combined-format line of site as the store hands it.
func accessRecord(site, client, ts, path string, status int) store.Record {
	line := fmt.Sprintf(`%s - - [%s] "GET %s HTTP/1.1" %d 100 "-" "%s"`, client, ts, path, status, testAgent)
	return store.Record{Kind: store.KindLog, Format: "combined", Site: site, Event: logparse.Parse("combined", []byte(line), time.Time{}, time.UTC)}
}

// consumeBatch runs one consumer transaction.
func consumeBatch(tb testing.TB, db *sql.DB, w *webStats, recs []store.Record) {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.consume(ctx, tx, recs); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// TestWebStatsSiteSetups: each listed site is counted with its own
// definitions and privacy, other sites are not counted, and a site whose
// definitions change during a month keeps the month's own until it ends.
func TestWebStatsSiteSetups(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	rec := func(site, ts, path string, status int) store.Record {
		return accessRecord(site, "203.0.113.9", ts, path, status)
	}
	// Pages 40 minutes apart, and a resumed download.
	batch := func(site, day string) []store.Record {
		return []store.Record{rec(site, day+"/Oct/2026:10:00:00 +0000", "/a", 200), rec(site, day+"/Oct/2026:10:40:00 +0000", "/b", 200),
			rec(site, day+"/Oct/2026:12:00:00 +0000", "/f.iso", 206)}
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
	w := newTestWebStats(t, sites)
	var recs []store.Record
	for _, site := range []string{"wiki", "blog", "shop"} {
		recs = append(recs, batch(site, "05")...)
	}
	consumeBatch(t, db, w, recs)
	check("wiki", want{2, 3, "custom"}) // 30 min and 206 from the defaults
	check("blog", want{1, 3, "custom"})
	if r, _ := reader.Report(ctx, "shop", "2026-10"); r != nil {
		t.Error("an unlisted site was counted")
	}

	// The admin goes back to AWStats's definitions mid-month: October
	// keeps counting with the ones it began with, November uses the new.
	w = newTestWebStats(t, "webstats:\n  sites:\n    - {name: wiki}\n")
	consumeBatch(t, db, w, append(batch("wiki", "06"), rec("wiki", "02/Nov/2026:10:00:00 +0000", "/a", 206)))
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
	db := openTestDB(t)
	// A month as the loghost stored it before parts: one row.
	old := webstats.New(webstats.Options{})
	old.AddRequest("wiki", &webstats.Request{Time: time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC), Client: "192.0.2.200", Method: "GET", Path: "/", Status: 200, Bytes: 1, UserAgent: testAgent})
	blob, _ := old.Month(webstats.MonthKey{Site: "wiki", Year: 2026, Month: 10}).MarshalBinary()
	if _, err := db.Exec(`INSERT INTO webstats_months(site, month, data, updated) VALUES('wiki', '2026-10', ?, 1)`, blob); err != nil {
		t.Fatal(err)
	}
	w := newTestWebStats(t, "webstats:\n  sites:\n    - {name: wiki}\n")
	reader := &webStatsReader{db: db}
	parts := func() (n int) {
		db.QueryRow(`SELECT count(*) FROM webstats_parts`).Scan(&n)
		return n
	}
	for i := 1; i <= compactParts+3; i++ {
		consumeBatch(t, db, w, []store.Record{accessRecord("wiki", fmt.Sprintf("192.0.2.%d", i), fmt.Sprintf("02/Oct/2026:10:%02d:00 +0000", i%60), fmt.Sprintf("/p%d.html", i), 200)})
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

	// The year's history, merged once and then served from the cache
	// until the month changes.
	history := func() string {
		t.Helper()
		h, err := reader.History(ctx, "wiki", 2026)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(h)
	}
	first := history()
	if !strings.Contains(first, "2026-10") || len(reader.cache.m) != 1 {
		t.Fatalf("history %s, cache %d", first, len(reader.cache.m))
	}
	if again := history(); again != first {
		t.Errorf("cached history %s, first %s", again, first)
	}
	consumeBatch(t, db, w, []store.Record{accessRecord("wiki", "198.51.100.1", "03/Oct/2026:10:00:00 +0000", "/new.html", 200)})
	h, _ := reader.History(ctx, "wiki", 2026)
	if len(h) != 1 || h[0].Pages != compactParts+5 {
		t.Errorf("history after a new batch: %+v", h)
	}
	if h, _ := reader.History(ctx, "wiki", 2025); len(h) != 0 {
		t.Errorf("2025: %+v", h)
	}
}

// TestWebStatsReloadKeepsGeoIP: a reload with the same GeoIP file reuses
// the open database (a batch may still be reading it); another file is
// opened anew.
func TestWebStatsReloadKeepsGeoIP(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.mmdb", "b.mmdb"} {
		if err := webstatsfixture.WriteCountryDB(filepath.Join(dir, f), map[string]string{"192.0.2.0/24": "DE"}); err != nil {
			t.Fatal(err)
		}
	}
	load := func(file string, prev *webStats) *webStats {
		return reloadTestWebStats(t, filepath.Join(dir, "x.yml"), "webstats:\n  geoip_file: "+file+"\n", prev)
	}
	a := load("a.mmdb", nil)
	if again := load("a.mmdb", a); again.opts.GeoIP != a.opts.GeoIP {
		t.Error("the same file was opened again")
	}
	if b := load("b.mmdb", a); b.opts.GeoIP == a.opts.GeoIP || b.opts.GeoIP.Country("192.0.2.1") != "DE" {
		t.Error("another file was not opened")
	}
}

// TestWebStatsSitesBounded: without listed sites, a client's Host header
// (a vhost_combined vhost) cannot create rows without end: beyond
// maxAutoSites new names count together, also after a reload.
func TestWebStatsSitesBounded(t *testing.T) {
	db := openTestDB(t)
	w := newTestWebStats(t, "{}\n")
	var recs []store.Record
	for i := range maxAutoSites + 5 {
		recs = append(recs, accessRecord(fmt.Sprintf("evil%d.example", i), "192.0.2.1", "05/Oct/2026:10:00:00 +0000", "/", 200))
	}
	consumeBatch(t, db, w, recs)
	var sites int
	db.QueryRow(`SELECT count(DISTINCT site) FROM webstats_parts`).Scan(&sites)
	if sites != maxAutoSites+1 {
		t.Errorf("%d sites stored, want %d and %q", sites, maxAutoSites, otherSites)
	}
	w = newTestWebStats(t, "{}\n") // a reload: the stored sites are read back
	consumeBatch(t, db, w, []store.Record{accessRecord("evil3.example", "192.0.2.2", "06/Oct/2026:10:00:00 +0000", "/", 200),
		accessRecord("new.example", "192.0.2.2", "06/Oct/2026:10:00:00 +0000", "/", 200)})
	reader := &webStatsReader{db: db}
	for site, pages := range map[string]int64{"evil3.example": 2, otherSites: 6} {
		r, err := reader.Report(context.Background(), site, "2026-10")
		if err != nil || r == nil || r.Totals.Pages != pages {
			t.Errorf("%s: %+v %v, want %d pages", site, r, err, pages)
		}
	}
	if r, _ := reader.Report(context.Background(), "new.example", "2026-10"); r != nil {
		t.Error("a new site was kept beyond the bound")
	}
}
