package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/watchpost/watchpost/fixtures"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/query"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func openTest(t testing.TB, mod func(*Options)) (*Store, *clock) {
	t.Helper()
	c := &clock{t: t0}
	o := Options{Path: filepath.Join(t.TempDir(), "w.db"), Now: c.now, Location: time.UTC}
	if mod != nil {
		mod(&o)
	}
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c
}

func logRec(host, program, raw string, at time.Time) Record {
	ev := logparse.NewEvent()
	ev.Program, ev.Message, ev.Time, ev.Host = program, raw, at, host
	ev.Severity = 6
	return Record{Kind: KindLog, Event: ev, Raw: raw, Offset: -1}
}

func genRecords(n int, seed uint64, start time.Time) []Record {
	g := fixtures.NewGenerator(seed, start, time.Second)
	recs := make([]Record, n)
	for i := range recs {
		l := g.Next()
		// No Host: records take the host they are appended for.
		recs[i] = logRec("", l.Program, l.Text, l.Time)
		recs[i].PID = fmt.Sprint(l.PID)
		recs[i].Message = l.Message
	}
	return recs
}

func mustQuery(t testing.TB, s string) *query.Query {
	t.Helper()
	q, err := query.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestAppendReadAfterContiguous(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	total := 0
	for i := 0; i < 5; i++ {
		recs := genRecords(100+i, uint64(i), t0)
		res, err := s.Append(ctx, "web1", recs)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stored != len(recs) || res.LastSeq-res.FirstSeq+1 != int64(len(recs)) {
			t.Fatalf("result %+v for %d records", res, len(recs))
		}
		total += len(recs)
	}
	var got []Record
	for cur := int64(0); ; {
		recs, err := s.ReadAfter(ctx, cur, 77)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		got = append(got, recs...)
		cur = recs[len(recs)-1].Seq
	}
	if len(got) != total {
		t.Fatalf("read %d records, stored %d", len(got), total)
	}
	for i, r := range got {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
	}
	if got[0].Program == "" || got[0].Message == "" || got[0].Raw == "" {
		t.Fatalf("fields lost: %+v", got[0])
	}
}

func TestReplaysDropped(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	mk := func(gen string, offs ...int64) []Record {
		var recs []Record
		for _, o := range offs {
			r := logRec("", "app", fmt.Sprintf("line at %d", o), t0)
			r.Source, r.Gen, r.Offset = "file:/var/log/app.log", gen, o
			recs = append(recs, r)
		}
		return recs
	}
	steps := []struct {
		gen           string
		offs          []int64
		stored, reply int
	}{
		{"g1", []int64{0, 10, 20}, 3, 0},
		{"g1", []int64{10, 20, 30}, 1, 2}, // resent after a lost answer
		{"g1", []int64{30}, 0, 1},
		{"g2", []int64{0, 10}, 2, 0}, // the file was truncated: a new generation
		{"g1", []int64{40, 40}, 1, 1},
	}
	for i, st := range steps {
		res, err := s.Append(ctx, "web1", mk(st.gen, st.offs...))
		if err != nil {
			t.Fatal(err)
		}
		if res.Stored != st.stored || res.Replays != st.reply {
			t.Fatalf("step %d: stored %d replays %d, want %d %d", i, res.Stored, res.Replays, st.stored, st.reply)
		}
	}
	// The high-water marks survive a restart.
	path := s.opts.Path
	s.Close()
	s2, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	res, err := s2.Append(ctx, "web1", mk("g1", 40, 50))
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 1 || res.Replays != 1 {
		t.Fatalf("after restart: %+v", res)
	}
}

func TestSearch(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	var recs []Record
	for i := 0; i < 50; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		recs = append(recs, logRec("web1", "nginx", fmt.Sprintf("GET /page%d 200", i), at))
		recs = append(recs, logRec("db1", "sshd", fmt.Sprintf("Failed password for root from 10.0.0.%d", i), at))
	}
	recs = append(recs, logRec("db1", "sshd", "Accepted publickey for alice RARE-TOKEN", t0.Add(30*time.Second)))
	// Append per host as collectors would.
	for _, h := range []string{"web1", "db1"} {
		var mine []Record
		for _, r := range recs {
			if r.Host == h {
				mine = append(mine, r)
			}
		}
		if _, err := s.Append(ctx, h, mine); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		q      string
		since  time.Time
		until  time.Time
		limit  int
		want   int
		first  string
		oldest bool
	}{
		{"rare word any case", "rare-token", time.Time{}, time.Time{}, 0, 1, "Accepted publickey for alice RARE-TOKEN", false},
		{"host and program", "host=db1 program=sshd", time.Time{}, time.Time{}, 0, 51, "", false},
		{"host is case-insensitive", "host=WEB1", time.Time{}, time.Time{}, 0, 50, "", false},
		{"time range", "host=web1", t0.Add(10 * time.Minute), t0.Add(20 * time.Minute), 0, 10, "GET /page10 200", false},
		{"newest N oldest first", "host=web1", time.Time{}, time.Time{}, 3, 3, "GET /page47 200", false},
		{"oldest N", "host=web1", time.Time{}, time.Time{}, 3, 3, "GET /page0 200", true},
		{"oldest N from a time", "host=web1", t0.Add(47 * time.Minute), time.Time{}, 10, 3, "GET /page47 200", true},
		{"no match", "nosuchword", time.Time{}, time.Time{}, 0, 0, "", false},
		{"unknown host", "host=nope", time.Time{}, time.Time{}, 0, 0, "", false},
		{"regex", "program=sshd message~\"10\\\\.0\\\\.0\\\\.4[0-9]$\"", time.Time{}, time.Time{}, 0, 10, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hits, _, err := s.Search(ctx, SearchOptions{Query: mustQuery(t, tc.q), Since: tc.since, Until: tc.until, Limit: tc.limit, Oldest: tc.oldest})
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) != tc.want {
				t.Fatalf("%d hits, want %d", len(hits), tc.want)
			}
			if tc.first != "" && hits[0].Raw != tc.first {
				t.Fatalf("first hit %q, want %q", hits[0].Raw, tc.first)
			}
			for i := 1; i < len(hits); i++ {
				if hits[i].Time.Before(hits[i-1].Time) {
					t.Fatalf("hits out of time order at %d", i)
				}
			}
		})
	}
}

func TestSignatureExcludesBlocks(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if _, err := s.Append(ctx, "web1", genRecords(200, uint64(i), t0)); err != nil {
			t.Fatal(err)
		}
	}
	needle := logRec("web1", "app", "zebra-quokka-unicorn happened", t0)
	if _, err := s.Append(ctx, "web1", []Record{needle}); err != nil {
		t.Fatal(err)
	}
	hits, st, err := s.Search(ctx, SearchOptions{Query: mustQuery(t, "quokka-unicorn")})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 {
		t.Fatalf("%d hits", len(hits))
	}
	if st.Blocks != 21 || st.Candidates > 2 {
		t.Fatalf("signature did not exclude blocks: %+v", st)
	}
}

func TestSearchContext(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	var recs []Record
	for i := 0; i < 20; i++ {
		r := logRec("web1", "app", fmt.Sprintf("line %02d", i), t0.Add(time.Duration(i)*time.Second))
		r.Source, r.Offset = "file:a", int64(i*10)
		recs = append(recs, r)
		o := logRec("web1", "other", fmt.Sprintf("other %02d", i), t0.Add(time.Duration(i)*time.Second))
		o.Source, o.Offset = "file:b", int64(i*10)
		recs = append(recs, o)
	}
	recs[10].Raw = "line 05 ERROR" // i=5, source a
	recs[30].Raw = "line 15 ERROR"
	recs[32].Raw = "line 16 ERROR"
	if _, err := s.Append(ctx, "web1", recs); err != nil {
		t.Fatal(err)
	}
	hits, _, err := s.Search(ctx, SearchOptions{Query: mustQuery(t, "error"), Context: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	groups := map[int]bool{}
	for _, h := range hits {
		mark := " "
		if h.Match {
			mark = "*"
		}
		got = append(got, mark+h.Raw)
		groups[h.Group] = true
	}
	want := []string{" line 03", " line 04", "*line 05 ERROR", " line 06", " line 07",
		" line 13", " line 14", "*line 15 ERROR", "*line 16 ERROR", " line 17", " line 18"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2", len(groups))
	}
}

func TestQuota(t *testing.T) {
	s, c := openTest(t, func(o *Options) { o.HostQuotaPerDay = 1000 })
	ctx := context.Background()
	big := logRec("", "app", string(make([]byte, 600)), t0)
	if _, err := s.Append(ctx, "noisy", []Record{big}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "noisy", []Record{big}); err != nil {
		t.Fatal(err) // under the quota when it started: accepted
	}
	if _, err := s.Append(ctx, "noisy", []Record{big}); !errors.Is(err, ErrQuota) {
		t.Fatalf("err %v, want ErrQuota", err)
	}
	if _, err := s.Append(ctx, "quiet", []Record{big}); err != nil {
		t.Fatalf("another host is refused: %v", err)
	}
	c.add(24 * time.Hour)
	if _, err := s.Append(ctx, "noisy", []Record{big}); err != nil {
		t.Fatalf("next day: %v", err)
	}
}

func TestBusy(t *testing.T) {
	s, _ := openTest(t, func(o *Options) { o.QueueLen = 1 })
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	go s.w.exclusive(ctx, func(*writer) error { close(started); <-release; return nil })
	<-started
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			_, err := s.Append(ctx, "h", []Record{logRec("", "a", "x", t0)})
			errs <- err
		}()
	}
	var busy int
	// One fills the queue; the others must be refused at once.
	for i := 0; i < 2; i++ {
		if err := <-errs; errors.Is(err, ErrBusy) {
			busy++
		}
	}
	close(release)
	if err := <-errs; err != nil {
		t.Fatalf("queued append: %v", err)
	}
	if busy != 2 {
		t.Fatalf("%d busy answers, want 2", busy)
	}
}

func TestRetentionByAge(t *testing.T) {
	s, c := openTest(t, func(o *Options) { o.Retention = 48 * time.Hour })
	ctx := context.Background()
	if _, err := s.Append(ctx, "h", genRecords(100, 1, t0.Add(-72*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "h", genRecords(100, 2, t0)); err != nil {
		t.Fatal(err)
	}
	n, err := s.EnforceRetention(ctx)
	if err != nil || n != 1 {
		t.Fatalf("deleted %d blocks, err %v; want 1", n, err)
	}
	c.add(72 * time.Hour)
	if n, _ := s.EnforceRetention(ctx); n != 1 {
		t.Fatalf("deleted %d, want 1", n)
	}
}

// TestRetentionKeepAfter: lines a shipper has not confirmed outlive the
// retention until it does.
func TestRetentionKeepAfter(t *testing.T) {
	var confirmed atomic.Int64
	s, _ := openTest(t, func(o *Options) { o.Retention = 48 * time.Hour; o.KeepAfter = confirmed.Load })
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := s.Append(ctx, "h", genRecords(100, uint64(i+1), t0.Add(-72*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.EnforceRetention(ctx); err != nil || n != 0 {
		t.Fatalf("deleted %d blocks, err %v; want none before the shipper confirmed any", n, err)
	}
	confirmed.Store(100)
	if n, err := s.EnforceRetention(ctx); err != nil || n != 1 {
		t.Fatalf("deleted %d blocks, err %v; want the confirmed one", n, err)
	}
	confirmed.Store(200)
	if n, err := s.EnforceRetention(ctx); err != nil || n != 1 {
		t.Fatalf("deleted %d blocks, err %v; want the second", n, err)
	}
}

func TestRetentionFairShare(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		if _, err := s.Append(ctx, "noisy", genRecords(300, uint64(i), t0.Add(time.Duration(i)*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, "quiet", genRecords(300, 99, t0)); err != nil {
		t.Fatal(err)
	}
	var total int64
	s.rdb.QueryRow("SELECT SUM(size) FROM blocks").Scan(&total)
	s.opts.MaxSize = total / 3
	if _, err := s.EnforceRetention(ctx); err != nil {
		t.Fatal(err)
	}
	var quiet, noisy int
	s.rdb.QueryRow("SELECT COUNT(*) FROM blocks b JOIN hosts h ON h.id=b.host_id WHERE h.name='quiet'").Scan(&quiet)
	s.rdb.QueryRow("SELECT COUNT(*) FROM blocks b JOIN hosts h ON h.id=b.host_id WHERE h.name='noisy'").Scan(&noisy)
	if quiet != 1 {
		t.Fatalf("the quiet host lost its logs to the noisy one")
	}
	if noisy >= 30 || noisy == 0 {
		t.Fatalf("noisy host kept %d of 30 blocks", noisy)
	}
	s.rdb.QueryRow("SELECT SUM(size) FROM blocks").Scan(&total)
	if total > s.opts.MaxSize {
		t.Fatalf("total %d over max %d", total, s.opts.MaxSize)
	}
}

func TestCompactKeepsStreamAndSearch(t *testing.T) {
	s, c := openTest(t, func(o *Options) { o.BlockLines = 100 })
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		h := []string{"a", "b"}[i%2]
		if _, err := s.Append(ctx, h, genRecords(7, uint64(i), t0)); err != nil {
			t.Fatal(err)
		}
	}
	before, _, _ := s.Search(ctx, SearchOptions{Query: mustQuery(t, "sshd")})
	c.add(time.Hour)
	merged, err := s.Compact(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if merged == 0 {
		t.Fatal("nothing merged")
	}
	var blocks int
	s.rdb.QueryRow("SELECT COUNT(*) FROM blocks").Scan(&blocks)
	if blocks > 4 {
		t.Fatalf("%d blocks after compaction", blocks)
	}
	after, _, _ := s.Search(ctx, SearchOptions{Query: mustQuery(t, "sshd")})
	if len(before) != len(after) || len(after) == 0 {
		t.Fatalf("search gave %d before and %d after", len(before), len(after))
	}
	recs, _ := s.ReadAfter(ctx, 0, 1000)
	if len(recs) != 210 {
		t.Fatalf("stream has %d records after compaction", len(recs))
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("gap at %d", i)
		}
	}
}

func TestConsumeExactlyOnce(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	if _, err := s.DB().Exec("CREATE TABLE seen (seq INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "h", genRecords(250, 1, t0)); err != nil {
		t.Fatal(err)
	}
	run := func(failAfter int, until int64) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			for cctx.Err() == nil {
				if c, _ := s.Cursor(cctx, "test"); c >= until {
					cancel()
				}
				time.Sleep(time.Millisecond)
			}
		}()
		n := 0
		err := s.Consume(cctx, "test", 100, func(ctx context.Context, tx *sql.Tx, recs []Record) error {
			for _, r := range recs {
				if _, err := tx.Exec("INSERT INTO seen(seq) VALUES(?)", r.Seq); err != nil {
					return err
				}
			}
			if n++; n == failAfter {
				return errors.New("crash")
			}
			return nil
		})
		if failAfter > 0 && err == nil {
			t.Fatal("consumer did not fail")
		}
	}
	run(2, 1<<62) // the second batch fails: its rows roll back with its cursor
	if _, err := s.Append(ctx, "h", genRecords(50, 2, t0)); err != nil {
		t.Fatal(err)
	}
	run(0, 300)
	var n, maxSeq int64
	s.rdb.QueryRow("SELECT COUNT(*), MAX(seq) FROM seen").Scan(&n, &maxSeq)
	if n != 300 || maxSeq != 300 {
		t.Fatalf("consumer saw %d records up to %d, want 300", n, maxSeq)
	}
}

func TestBackupAndReadOnly(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	if _, err := s.Append(ctx, "h", genRecords(500, 1, t0)); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(ctx, Options{Path: s.opts.Path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := s.Append(ctx, "h", genRecords(10, 2, t0)); err != nil {
		t.Fatal(err)
	}
	hits, _, err := ro.Search(ctx, SearchOptions{})
	if err != nil || len(hits) != 510 {
		t.Fatalf("read-only search: %d hits, %v", len(hits), err)
	}
	if _, err := ro.Append(ctx, "h", genRecords(1, 3, t0)); err == nil {
		t.Fatal("read-only store accepted a write")
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	// Under umask 022 SQLite alone made the copy 0644; it holds what the
	// 0600 store holds.
	old := syscall.Umask(0o022)
	err = s.Backup(ctx, dst)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if err := s.Backup(ctx, dst); err == nil {
		t.Fatal("backup over an existing file")
	}
	cp, err := Open(ctx, Options{Path: dst, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	recs, err := cp.ReadAfter(ctx, 0, 1000)
	if err != nil || len(recs) != 510 {
		t.Fatalf("backup holds %d records, %v", len(recs), err)
	}
}

func TestLiveSubscriptionBounded(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	sub := s.Subscribe(10, func(r *Record) bool { return r.Program == "sshd" })
	defer sub.Close()
	recs := genRecords(200, 1, t0)
	var want int
	for _, r := range recs {
		if r.Program == "sshd" {
			want++
		}
	}
	if _, err := s.Append(ctx, "h", recs); err != nil {
		t.Fatal(err)
	}
	<-sub.C()
	got, missed := sub.Take()
	if len(got) != 10 || int(missed) != want-10 {
		t.Fatalf("got %d missed %d, want 10 and %d", len(got), missed, want-10)
	}
}

// TestReadAfterKind: a one-kind reader gets that kind's records in seq
// order and a cursor past everything committed in its window, whether or
// not the window held any of its kind.
func TestReadAfterKind(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	metric := func(v string) Record {
		ev := logparse.NewEvent()
		ev.Time = t0
		return Record{Kind: KindMetric, Event: ev, Offset: -1, Data: []byte(`{"v":"` + v + `"}`)}
	}
	if _, err := s.Append(ctx, "web1", genRecords(50, 1, t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "web1", []Record{metric("a"), metric("b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "db1", genRecords(30, 2, t0)); err != nil {
		t.Fatal(err)
	}
	last := s.LastSeq()
	recs, through, err := s.ReadAfterKind(ctx, 0, 40, KindMetric)
	if err != nil || len(recs) != 0 || through != 40 {
		t.Fatalf("first window: %d records, through %d, %v", len(recs), through, err)
	}
	recs, through, err = s.ReadAfterKind(ctx, through, 1000, KindMetric)
	if err != nil || through != last || len(recs) != 2 || string(recs[0].Data) != `{"v":"a"}` || recs[1].Seq != recs[0].Seq+1 || recs[0].Host != "web1" {
		t.Fatalf("second window: %+v, through %d (last %d), %v", recs, through, last, err)
	}
	if recs, through, err = s.ReadAfterKind(ctx, last, 1000, KindMetric); err != nil || len(recs) != 0 || through != last {
		t.Fatalf("at the end: %d records, through %d, %v", len(recs), through, err)
	}
}

// TestSearchDuringCompaction: a search lists its blocks, compaction then
// merges and deletes them, and the search still reads every listed block
// (one snapshot), instead of failing "read block: no rows".
func TestSearchDuringCompaction(t *testing.T) {
	s, c := openTest(t, func(o *Options) { o.BlockLines = 100 })
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		h := []string{"a", "b"}[i%2]
		if _, err := s.Append(ctx, h, genRecords(7, uint64(i), t0)); err != nil {
			t.Fatal(err)
		}
	}
	want, _, err := s.Search(ctx, SearchOptions{})
	if err != nil || len(want) != 210 {
		t.Fatalf("%d hits before, %v", len(want), err)
	}
	c.add(time.Hour)
	merged := 0
	s.afterList = func() {
		s.afterList = nil
		n, err := s.Compact(ctx, time.Minute)
		if err != nil {
			t.Errorf("compact: %v", err)
		}
		merged = n
	}
	for _, o := range []SearchOptions{{}, {Query: mustQuery(t, "sshd"), Context: 1}} {
		got, _, err := s.Search(ctx, o)
		if err != nil {
			t.Fatalf("search during compaction: %v", err)
		}
		if o.Query == nil && len(got) != len(want) {
			t.Fatalf("%d hits during compaction, want %d", len(got), len(want))
		}
	}
	if merged == 0 {
		t.Fatal("nothing merged: the test did not race compaction")
	}
}
