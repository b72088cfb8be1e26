package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// exploreStore holds 3 hosts × 600 lines, one every 10 s from t0 (100
// minutes), with severities cycling and every 7th line "failed", in
// blocks of 100 lines per host.
func exploreStore(t *testing.T) *Store {
	t.Helper()
	s, _ := openTest(t, nil)
	ctx := context.Background()
	for _, h := range []string{"web1", "web2", "db1"} {
		for b := 0; b < 6; b++ {
			var recs []Record
			for i := b * 100; i < (b+1)*100; i++ {
				msg := fmt.Sprintf("request %d ok", i)
				if i%7 == 0 {
					msg = fmt.Sprintf("request %d failed", i)
				}
				r := logRec(h, []string{"nginx", "sshd", "cron"}[i%3], msg, t0.Add(time.Duration(i)*10*time.Second))
				r.Severity = i % 8
				r.File = "/var/log/" + h
				recs = append(recs, r)
			}
			if _, err := s.Append(ctx, h, recs); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// TestSummaryStatsAgreeWithScan: counts from block stats equal counts
// from scanning the lines, for histograms and fields, and a range that
// cuts blocks counts only what it holds.
func TestSummaryStatsAgreeWithScan(t *testing.T) {
	s := exploreStore(t)
	ctx := context.Background()
	cases := []struct {
		q            string
		since, until time.Time
		step         time.Duration
		fields       []string
		want         int64
		fromStats    bool
	}{
		{"", t0, t0.Add(100 * time.Minute), 5 * time.Minute, []string{"*"}, 1800, true},
		{"host=web1", t0, t0.Add(100 * time.Minute), 10 * time.Minute, []string{"program", "host"}, 600, true},
		{"severity<=err", t0, t0.Add(100 * time.Minute), time.Minute, nil, 4 * 1800 / 8, true},
		{"", t0.Add(7 * time.Minute), t0.Add(53 * time.Minute), time.Minute, []string{"host", "program", "file"}, 3 * 46 * 6, true},
		{"failed", t0, t0.Add(100 * time.Minute), 5 * time.Minute, []string{"*"}, 3 * 86, false},
		{"host=db1 program=sshd", t0, t0.Add(100 * time.Minute), 30 * time.Second, []string{"severity"}, 200, false},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			o := SummaryOptions{Query: mustQuery(t, c.q), Since: c.since, Until: c.until, Step: c.step, Fields: c.fields, Location: time.UTC}
			if c.fromStats && len(c.fields) > 0 && c.fields[0] == "*" {
				// parsed fields are not in the stats: they are used only
				// when there are more blocks than may be read (here up to
				// 12 inside the range; the 6 cut by it are read)
				o.MaxLines = 700
			}
			got, err := s.Summarize(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != c.want {
				t.Errorf("total %d, want %d", got.Total, c.want)
			}
			if c.fromStats != (got.FromStats > 0) {
				t.Errorf("from stats: %d blocks (%+v)", got.FromStats, got)
			}
			// The same from a scan of every line: delete the stats.
			ref := scanOnly(t, s, o)
			if fmt.Sprint(ref.Buckets) != fmt.Sprint(got.Buckets) {
				t.Errorf("histogram differs from a scan:\n%v\n%v", got.Buckets, ref.Buckets)
			}
			if fmt.Sprint(ref.Fields) != fmt.Sprint(got.Fields) {
				t.Errorf("fields differ from a scan:\n%v\n%v", got.Fields, ref.Fields)
			}
			var sum int64
			for _, b := range got.Buckets {
				for _, n := range b {
					sum += n
				}
			}
			if c.step > 0 && sum != got.Total {
				t.Errorf("buckets hold %d, total %d", sum, got.Total)
			}
		})
	}
}

// scanOnly summarizes with the block stats hidden.
func scanOnly(t *testing.T, s *Store, o SummaryOptions) Summary {
	t.Helper()
	ctx := context.Background()
	o.MaxLines = 0
	if _, err := s.wdb.Exec("ALTER TABLE block_stats RENAME TO block_stats_hidden"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.Exec("CREATE TABLE block_stats (block_id INTEGER PRIMARY KEY, data BLOB NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.wdb.Exec("DROP TABLE block_stats")
		s.wdb.Exec("ALTER TABLE block_stats_hidden RENAME TO block_stats")
	}()
	got, err := s.Summarize(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if got.FromStats != 0 {
		t.Fatal("stats used")
	}
	return got
}

// TestSummarySampled: beyond MaxBlocks the counts are estimates, said
// to be, and close to the truth for evenly spread matches.
func TestSummarySampled(t *testing.T) {
	s := exploreStore(t)
	o := SummaryOptions{Query: mustQuery(t, "failed"), Since: t0, Until: t0.Add(100 * time.Minute), Step: 10 * time.Minute, Location: time.UTC, MaxLines: 600, Fields: []string{"host"}}
	got, err := s.Summarize(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Sampled || got.SampledBlocks != 6 || got.CandidateBlocks != 18 || got.Read != 6 {
		t.Fatalf("sampling: %+v", got)
	}
	if got.Total < 200 || got.Total > 320 {
		t.Errorf("estimate %d, truth 258", got.Total)
	}
}

// TestBackfillStats: blocks stored without stats get them, and then
// answer from them.
func TestBackfillStats(t *testing.T) {
	s := exploreStore(t)
	ctx := context.Background()
	if _, err := s.wdb.Exec("DELETE FROM block_stats"); err != nil {
		t.Fatal(err)
	}
	o := SummaryOptions{Since: t0, Until: t0.Add(100 * time.Minute), Step: 5 * time.Minute, Location: time.UTC}
	before, err := s.Summarize(ctx, o)
	if err != nil || before.FromStats != 0 || before.Total != 1800 {
		t.Fatalf("%+v %v", before, err)
	}
	n, err := s.BackfillStats(ctx, 100)
	if err != nil || n != 18 {
		t.Fatalf("backfilled %d: %v", n, err)
	}
	after, err := s.Summarize(ctx, o)
	if err != nil || after.FromStats != 18 || fmt.Sprint(after.Buckets) != fmt.Sprint(before.Buckets) {
		t.Fatalf("after backfill: %+v %v", after, err)
	}
	if n, _ := s.BackfillStats(ctx, 100); n != 0 {
		t.Fatalf("backfilled %d again", n)
	}
}

// TestSearchCursorPages: paging newest first with a (time, seq) cursor
// returns every match once, even when many share a timestamp.
func TestSearchCursorPages(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	var recs []Record
	for i := 0; i < 95; i++ {
		// runs of 10 lines with the same time
		recs = append(recs, logRec("web1", "app", fmt.Sprintf("tick %03d", i), t0.Add(time.Duration(i/10)*time.Second)))
	}
	for i := 0; i < 95; i += 19 {
		if _, err := s.Append(ctx, "web1", recs[i:min(i+19, 95)]); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	var cur Cursor
	var order []string
	for page := 0; page < 20; page++ {
		hits, _, err := s.Search(ctx, SearchOptions{Query: mustQuery(t, "tick"), Limit: 7, Before: cur})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) == 0 {
			break
		}
		for i := len(hits) - 1; i >= 0; i-- {
			if seen[hits[i].Raw] {
				t.Fatalf("%q twice", hits[i].Raw)
			}
			seen[hits[i].Raw] = true
			order = append(order, hits[i].Raw)
		}
		cur = Cursor{Time: hits[0].Time, Seq: hits[0].Seq}
	}
	if len(seen) != 95 {
		t.Fatalf("%d lines seen, want 95", len(seen))
	}
	for i := range order {
		if want := fmt.Sprintf("tick %03d", 94-i); order[i] != want {
			t.Fatalf("line %d is %q, want %q", i, order[i], want)
		}
	}
}

// TestAround: context comes from the same source only, in seq order,
// across blocks, with equal timestamps no obstacle.
func TestAround(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	var seqs []int64
	for b := 0; b < 5; b++ {
		var recs []Record
		for i := 0; i < 10; i++ {
			n := b*10 + i
			r := logRec("web1", "app", fmt.Sprintf("a %02d", n), t0) // all the same time
			r.Source = "file:a"
			o := logRec("web1", "app", fmt.Sprintf("b %02d", n), t0)
			o.Source = "file:b"
			recs = append(recs, r, o)
		}
		res, err := s.Append(ctx, "web1", recs)
		if err != nil {
			t.Fatal(err)
		}
		for q := res.FirstSeq; q <= res.LastSeq; q += 2 {
			seqs = append(seqs, q)
		}
	}
	lines := func(recs []Record) string {
		var out []string
		for _, r := range recs {
			out = append(out, r.Raw)
		}
		return fmt.Sprint(out)
	}
	recs, idx, err := s.Around(ctx, seqs[25], 12, 3)
	if err != nil {
		t.Fatal(err)
	}
	if recs[idx].Raw != "a 25" || idx != 12 {
		t.Fatalf("anchor %d %q", idx, recs[idx].Raw)
	}
	if got, want := lines(recs), "[a 13 a 14 a 15 a 16 a 17 a 18 a 19 a 20 a 21 a 22 a 23 a 24 a 25 a 26 a 27 a 28]"; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	recs, idx, err = s.Around(ctx, seqs[1], 5, 0)
	if err != nil || idx != 1 || lines(recs) != "[a 00 a 01]" {
		t.Fatalf("at the start: %d %s %v", idx, lines(recs), err)
	}
	if _, _, err := s.Around(ctx, 99999, 1, 1); err != ErrNotFound {
		t.Fatalf("unknown seq: %v", err)
	}
}

// TestBlockCache: searches and summaries through the block cache give
// what they give without it, also when many run at once.
func TestBlockCache(t *testing.T) {
	plain := exploreStore(t)
	cached := exploreStore(t)
	cached.cache = newBlockCache(1 << 20) // room for a few blocks only
	ctx := context.Background()
	o := SummaryOptions{Query: mustQuery(t, "failed"), Since: t0.Add(5 * time.Minute), Until: t0.Add(95 * time.Minute), Step: time.Minute, Fields: []string{"*"}, Location: time.UTC}
	want, err := plain.Summarize(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	wantHits, _, _ := plain.Search(ctx, SearchOptions{Query: mustQuery(t, "request"), Since: o.Since, Until: o.Until, Limit: 50})
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		go func() {
			got, err := cached.Summarize(ctx, o)
			if err == nil && fmt.Sprint(got.Buckets, got.Fields, got.Total) != fmt.Sprint(want.Buckets, want.Fields, want.Total) {
				err = fmt.Errorf("summary differs with the cache")
			}
			errs <- err
		}()
		go func() {
			hits, _, err := cached.Search(ctx, SearchOptions{Query: mustQuery(t, "request"), Since: o.Since, Until: o.Until, Limit: 50})
			if err == nil && len(hits) != len(wantHits) {
				err = fmt.Errorf("%d hits with the cache, %d without", len(hits), len(wantHits))
			}
			for j := range hits {
				if err == nil && hits[j].Raw != wantHits[j].Raw {
					err = fmt.Errorf("hit %d differs", j)
				}
			}
			errs <- err
		}()
	}
	for i := 0; i < 16; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if cached.cache.size > cached.cache.max {
		t.Fatalf("cache holds %d bytes, more than %d", cached.cache.size, cached.cache.max)
	}
}

// TestWordNumSound: every word-number probe of a substring of a line is
// among the line's keys, so the keys never exclude a block that holds a
// match.
func TestWordNumSound(t *testing.T) {
	lines := []string{
		"Out of memory: Killed process 42421 (php-fpm8.2) total-vm:123kB",
		"Failed password for root from 10.0.0.7 port 22 ssh2",
		"port 4711", "abc 1", "xyz 12345 and Port 7", "ab 12 cd 3 efg 45a", "a  1 bcd  2 Cde 9",
		"From 192.168.1.20 and from 1234.5.6.7 to 10.1.", "rom 1.2.3 bcd 12.34.5",
	}
	for _, l := range lines {
		keys := map[uint64]bool{}
		wordNumKeys(l, func(k uint64) { keys[k] = true })
		dottedKeys(l, func(k uint64) { keys[k] = true })
		low := strings.ToLower(l)
		for i := 0; i < len(low); i++ {
			for j := i + 1; j <= len(low); j++ {
				for _, p := range dottedProbes(low[i:j], wordNumProbes(low[i:j], nil)) {
					found := false
					for k := range keys {
						if mix(k) == p.h {
							found = true
						}
					}
					if !found {
						t.Fatalf("probe of %q not among the keys of %q", low[i:j], l)
					}
				}
			}
		}
	}
	if n := len(wordNumProbes("killed process 4242", nil)); n != 1 {
		t.Fatalf("%d probes for a regex's literal", n)
	}
}

// TestWordNumExcludes: a number after a word finds its block among
// blocks full of other numbers.
func TestWordNumExcludes(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	for b := 0; b < 20; b++ {
		var recs []Record
		for i := 0; i < 200; i++ {
			recs = append(recs, logRec("web1", "kernel", fmt.Sprintf("Out of memory: Killed process %d (php) port %d", 10000+b*200+i, 42420+i), t0))
		}
		if _, err := s.Append(ctx, "web1", recs); err != nil {
			t.Fatal(err)
		}
	}
	hits, st, err := s.Search(ctx, SearchOptions{Query: mustQuery(t, `message~"Killed process 1342[0-9] "`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 10 || st.Candidates > 2 {
		t.Fatalf("%d hits from %d of %d blocks", len(hits), st.Candidates, st.Blocks)
	}
}

// TestDottedExcludes: an address prefix after a word finds its block
// among blocks full of other addresses.
func TestDottedExcludes(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	for b := 0; b < 20; b++ {
		var recs []Record
		for i := 0; i < 200; i++ {
			recs = append(recs, logRec("web1", "sshd", fmt.Sprintf("Failed password for root from 10.%d.1.%d port 22 ssh2", 2+i%50, b*200+i), t0))
		}
		if b == 7 {
			recs = append(recs, logRec("web1", "sshd", "Failed password for root from 10.1.7.7 port 22 ssh2", t0))
		}
		if _, err := s.Append(ctx, "web1", recs); err != nil {
			t.Fatal(err)
		}
	}
	hits, st, err := s.Search(ctx, SearchOptions{Query: mustQuery(t, `message~"Failed password for .* from 10\\.1\\."`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || st.Candidates > 2 {
		t.Fatalf("%d hits from %d of %d blocks", len(hits), st.Candidates, st.Blocks)
	}
}

// TestAroundRareFile: the context of a line from a file that writes
// seldom comes from the blocks holding that file, across many blocks of
// a busy one.
func TestAroundRareFile(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	var anchor int64
	for b := 0; b < 30; b++ {
		var recs []Record
		for i := 0; i < 50; i++ {
			r := logRec("web1", "app", fmt.Sprintf("busy %d %d", b, i), t0)
			r.Source, r.File = "file:/var/log/busy", "/var/log/busy"
			recs = append(recs, r)
		}
		if b%10 == 0 {
			r := logRec("web1", "cron", fmt.Sprintf("rare %d", b), t0)
			r.Source, r.File = "file:/var/log/rare", "/var/log/rare"
			recs = append(recs, r)
		}
		res, err := s.Append(ctx, "web1", recs)
		if err != nil {
			t.Fatal(err)
		}
		if b == 20 {
			anchor = res.LastSeq
		}
	}
	recs, idx, err := s.Around(ctx, anchor, 5, 5)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Raw)
	}
	if idx != 2 || fmt.Sprint(got) != "[rare 0 rare 10 rare 20]" {
		t.Fatalf("context %d %q", idx, got)
	}
}
