package vlogs

import (
	"context"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/query"
	"github.com/watchpost/watchpost/store"
)

// TestPrimaryBuffer: in primary mode the embedded store keeps lines until
// VictoriaLogs confirms them, then only as long as its own retention; a
// search still finds them all, from VictoriaLogs.
func TestPrimaryBuffer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	vv, c := startVL(t)
	var sh *Shipper
	keep := func() int64 {
		if sh == nil {
			return 0
		}
		return sh.Confirmed()
	}
	// The corpus is days older than "now": every block is past the
	// one-hour retention.
	st, err := store.Open(ctx, store.Options{Path: t.TempDir() + "/w.db", Retention: time.Hour, KeepAfter: keep,
		Now: func() time.Time { return corpusStart.Add(10 * 24 * time.Hour) }, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs := corpus()
	fill(t, st, recs)
	if n, err := st.EnforceRetention(ctx); err != nil || n != 0 {
		t.Fatalf("retention deleted %d blocks (err %v) before VictoriaLogs confirmed any", n, err)
	}
	sh, err = NewShipper(ShipperOptions{Store: st, Client: c, Settle: 1500 * time.Millisecond, RecoverDelay: time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Rows show in searches about a second after VictoriaLogs takes them
	// (its counts see them earlier): no waiting here.
	vv.Flush()
	if n, err := st.EnforceRetention(ctx); err != nil || n == 0 {
		t.Fatalf("retention deleted %d blocks (err %v) after VictoriaLogs confirmed them all", n, err)
	}
	local, _, err := st.Search(ctx, store.SearchOptions{})
	if err != nil || len(local) != 0 {
		t.Fatalf("%d lines left locally (err %v)", len(local), err)
	}
	q, _ := query.Parse("sshd failed")
	s := &Searcher{Client: c, Local: st}
	hits, _, err := s.Search(ctx, store.SearchOptions{Query: q})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range recs {
		if q.Match(&recs[i]) {
			want++
		}
	}
	if len(hits) != want || want == 0 {
		t.Fatalf("%d hits from VictoriaLogs, want %d", len(hits), want)
	}
	// Lines VictoriaLogs has not got yet come from the store.
	extra := record("Nov 10 00:00:09 web1 sshd[1]: Failed password for nobody-yet", corpusStart.Add(11*24*time.Hour), "web1", "", "", "")
	fill(t, st, []store.Record{extra})
	hits, _, err = s.Search(ctx, store.SearchOptions{Query: q, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[1].Raw != extra.Raw {
		t.Fatalf("newest 2: %s", describe(hits))
	}
	// So do counts.
	s.Confirmed = sh.Confirmed
	sum, err := s.Summarize(ctx, store.SummaryOptions{Query: q, Fields: []string{"host"}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != int64(want+1) {
		t.Fatalf("counted %d, want %d", sum.Total, want+1)
	}
}

// TestDroppedRows: lines VictoriaLogs drops (older than its retention)
// raise a loghost incident from its drop counters, and the shipper, after
// sending them again, counts them lost and raises one too.
func TestDroppedRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st := openStore(t, t.TempDir())
	// Retention of one day: the corpus (2026-11) is older than that on
	// any date this runs (its own clock).
	v := peers.StartVictoriaLogs(t, t.TempDir(), "-retentionPeriod=1d")
	c, err := NewClient(ClientOptions{URL: v.URL()})
	if err != nil {
		t.Fatal(err)
	}
	w := &Watcher{Client: c, DB: st.DB(), Now: time.Now, Logger: quietLogger()}
	if err := w.Check(ctx); err != nil {
		t.Fatal(err)
	}
	fill(t, st, corpus()[:100])
	var lost int64
	sh, err := NewShipper(ShipperOptions{Store: st, Client: c, Settle: 1500 * time.Millisecond, RecoverDelay: time.Millisecond,
		MaxResends: 1, Logger: quietLogger(),
		OnLoss: func(ctx context.Context, n int64, why string) {
			lost += n
			if err := Raise(ctx, st.DB(), "victorialogs:lost", "lines did not reach VictoriaLogs", why, time.Now()); err != nil {
				t.Error(err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if lost != 100 {
		t.Errorf("%d lines counted lost, want 100", lost)
	}
	if err := w.Check(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := st.DB().QueryContext(ctx, `SELECT incident_key, title FROM incidents WHERE source = 'loghost' AND resolved IS NULL ORDER BY incident_key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var k, title string
		rows.Scan(&k, &title)
		got = append(got, k+": "+title)
	}
	if len(got) != 2 || got[0] != "victorialogs:dropped: VictoriaLogs dropped 200 log line(s)" {
		t.Errorf("incidents: %q", got)
	}
}
