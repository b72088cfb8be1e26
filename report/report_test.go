package report

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/heartbeat"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/uptime"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testConfig = `timezone: Europe/Berlin
checks:
  - {name: wiki, type: http, target: "https://wiki.example.org/"}
  - {name: "mail <b>&", type: tcp, target: "mail.example.org:25"}
heartbeats:
  - {name: nightly-backup, id: 5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42, period: 24h, grace: 2h}
`

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// fixture fills a real store through the real uptime tracker and
// heartbeat service: October 2026 in Berlin (with its DST change), the
// wiki down twice (once across the month's end), a nightly backup that
// reports its size and fails once with a hostile log line.
func fixture(t testing.TB) (*sql.DB, *config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "watchpost.yml")
	if err := os.WriteFile(cfgPath, []byte(testConfig+"storage:\n  path: "+filepath.Join(dir, "watchpost.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	loc := cfg.Location()
	// The loghost that made this store started before October.
	installed := func() time.Time { return time.Date(2026, 9, 30, 22, 0, 0, 0, loc) }
	s, err := store.Open(context.Background(), store.Options{Path: cfg.Storage.Path, Now: installed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db := s.DB()
	tr := uptime.New(db, uptime.Config{FailThreshold: 1, Location: loc,
		MaxGap: func(c string) time.Duration {
			if c == "nightly-backup" {
				return 26 * time.Hour
			}
			return 2 * time.Hour
		}})
	ctx := context.Background()
	start := time.Date(2026, 9, 30, 22, 0, 0, 0, loc)
	end := time.Date(2026, 11, 1, 2, 0, 0, 0, loc)
	down := func(at time.Time) bool {
		a := time.Date(2026, 10, 3, 14, 0, 0, 0, loc)
		b := time.Date(2026, 10, 31, 23, 0, 0, 0, loc)
		return (!at.Before(a) && at.Before(a.Add(30*time.Minute))) || (!at.Before(b) && at.Before(b.Add(90*time.Minute)))
	}
	for at := start; at.Before(end); at = at.Add(30 * time.Minute) {
		if _, err := tr.Observe(ctx, uptime.Observation{Check: "wiki", Time: at, OK: !down(at), Detail: "HTTP 502"}); err != nil {
			t.Fatal(err)
		}
		if at.Before(time.Date(2026, 10, 20, 0, 0, 0, 0, loc)) {
			tr.Observe(ctx, uptime.Observation{Check: "mail <b>&", Time: at, OK: true})
		}
	}
	c := &clock{}
	beat := heartbeat.Heartbeat{Name: "nightly-backup", ID: "x", Period: 24 * time.Hour, Grace: 2 * time.Hour}
	hs, err := heartbeat.New(db, tr, []heartbeat.Heartbeat{beat}, c.now, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for day := 1; day <= 31; day++ {
		c.t = time.Date(2026, 10, day, 2, 0, 0, 0, loc)
		if err := hs.Ping(ctx, beat, "start", sql.NullInt64{}, "", "10.0.0.5", ""); err != nil {
			t.Fatal(err)
		}
		c.t = c.t.Add(12*time.Minute + time.Duration(day)*time.Second)
		switch day {
		case 5:
			hs.Ping(ctx, beat, "fail", sql.NullInt64{Int64: 23, Valid: true}, "", "10.0.0.5", "sending files\nrsync: <script>alert(1)</script> @room `x`\n")
		case 6:
			hs.Ping(ctx, beat, "success", sql.NullInt64{}, "", "10.0.0.5", "no size here")
		default:
			hs.Ping(ctx, beat, "success", sql.NullInt64{}, "", "10.0.0.5", "Files: 12 new\nAdded to the repository: 1.25 GiB (600 MiB stored)\n")
		}
	}
	return db, cfg, cfgPath
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update):\n%s", name, got)
	}
}

func TestBuildOctober(t *testing.T) {
	db, cfg, _ := fixture(t)
	now := time.Date(2026, 11, 1, 6, 0, 0, 0, cfg.Location())
	r, err := Build(context.Background(), db, cfg, time.Date(2026, 10, 15, 0, 0, 0, 0, cfg.Location()), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Incidents) != 3 { // two wiki outages, one failed backup
		t.Errorf("incidents: %+v", r.Incidents)
	}
	bk := r.Backups[0]
	if len(bk.Runs) != 30 || len(bk.Failures) != 1 || bk.Failures[0].ExitCode != 23 || bk.Runs[0].Size != 1342177280 || bk.Runs[4].Size != -1 {
		t.Errorf("backup: %d runs, failures %+v, first %+v", len(bk.Runs), bk.Failures, bk.Runs[0])
	}
	if bk.Runs[0].Duration != 12*time.Minute+time.Second {
		t.Errorf("first run took %s", bk.Runs[0].Duration)
	}
	golden(t, "october.txt", r.Text())
	h := r.HTML()
	golden(t, "october.html", h)
	for _, bad := range []string{"<script>", "<b>&"} {
		if strings.Contains(h, bad) {
			t.Errorf("HTML carries %q unescaped", bad)
		}
	}
}

// TestQueueDue: from the 1st of a month last month's report is queued
// once, remembered in the store; the dispatcher renders and sends it.
func TestQueueDue(t *testing.T) {
	db, cfg, _ := fixture(t)
	loc := cfg.Location()
	ctx := context.Background()
	steps := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 10, 31, 23, 59, 0, 0, loc), ""},
		{time.Date(2026, 11, 1, 0, 0, 0, 0, loc), "2026-10"},
		{time.Date(2026, 11, 1, 1, 0, 0, 0, loc), ""},
		{time.Date(2026, 11, 20, 1, 0, 0, 0, loc), ""},
		{time.Date(2026, 12, 3, 8, 0, 0, 0, loc), "2026-11"},
		{time.Date(2027, 1, 15, 8, 0, 0, 0, loc), ""}, // too late to be news
	}
	rec := &recorder{}
	c := &clock{}
	d := alerting.New(db, alerting.Config{Email: rec, Now: c.now, Hostname: "lh"})
	for _, s := range steps {
		c.t = s.at
		got, err := QueueDue(ctx, db, cfg, s.at)
		if err != nil || got != s.want {
			t.Errorf("at %s: queued %q, %v; want %q", s.at, got, err, s.want)
		}
		if err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.msgs) != 2 {
		t.Fatalf("sent %d messages: %+v", len(rec.msgs), rec.msgs[0].Subject)
	}
	m := rec.msgs[0]
	if m.Subject != "[watchpost] Monthly report 2026-10: 3 incidents, 1 failed backup runs" ||
		!strings.Contains(m.Text, "nightly-backup: 31 runs, 1 failed") || !strings.Contains(m.HTML, "&lt;script&gt;") ||
		!strings.HasPrefix(m.MessageID, "watchpost.report.2026-10.") {
		t.Errorf("message: %q %q\n%s", m.Subject, m.MessageID, m.Text)
	}
}

// TestQueueDueFreshInstall: a loghost first started on the 3rd queues no
// report of the month before it existed; the next month's report says
// from when it watched, and is queued once.
func TestQueueDueFreshInstall(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "watchpost.yml")
	if err := os.WriteFile(cfgPath, []byte("timezone: Europe/Berlin\nstorage:\n  path: "+filepath.Join(dir, "watchpost.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	loc := cfg.Location()
	if loc.String() != "Europe/Berlin" {
		t.Fatalf("location %s", loc)
	}
	installed := time.Date(2026, 12, 3, 9, 30, 0, 0, loc)
	s, err := store.Open(context.Background(), store.Options{Path: cfg.Storage.Path, Now: func() time.Time { return installed }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, step := range []struct {
		at   time.Time
		want string
	}{
		{installed, ""},
		{installed.Add(time.Hour), ""},
		{time.Date(2026, 12, 7, 23, 0, 0, 0, loc), ""},
		{time.Date(2027, 1, 1, 0, 0, 1, 0, loc), "2026-12"},
		{time.Date(2027, 1, 1, 1, 0, 0, 0, loc), ""},
		{time.Date(2027, 1, 6, 1, 0, 0, 0, loc), ""},
	} {
		got, err := QueueDue(ctx, s.DB(), cfg, step.at)
		if err != nil || got != step.want {
			t.Errorf("at %s: queued %q, %v; want %q", step.at, got, err, step.want)
		}
	}
	var n int
	var payload string
	if err := s.DB().QueryRow(`SELECT COUNT(*), MAX(payload) FROM outbox WHERE kind = ?`, alerting.KindMonthlyReport).Scan(&n, &payload); err != nil || n != 1 {
		t.Fatalf("%d reports queued (%v), want 1", n, err)
	}
	if !strings.Contains(payload, "Watched since 2026-12-03 09:30, when this loghost started") {
		t.Errorf("the partial month does not say from when it was watched:\n%s", payload)
	}
	// By hand, a month before the store existed still builds, and says so.
	r, err := Build(ctx, s.DB(), cfg, time.Date(2026, 11, 1, 0, 0, 0, 0, loc), installed)
	if err != nil {
		t.Fatal(err)
	}
	if !r.NotWatched || !strings.Contains(r.Text(), "was not watching during this month (it started on 2026-12-03 09:30)") {
		t.Errorf("November by hand:\n%s", r.Text())
	}
}

type recorder struct{ msgs []alerting.Message }

func (r *recorder) Send(_ context.Context, m alerting.Message) error {
	if !strings.HasPrefix(m.Subject, "[watchpost] Monthly report") {
		return nil // the fixture's own alerts
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func TestCLI(t *testing.T) {
	db, cfg, cfgPath := fixture(t)
	now := func() time.Time { return time.Date(2026, 11, 1, 6, 0, 0, 0, cfg.Location()) }
	ctx := context.Background()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"monthly", "-config", cfgPath}, &out, &errb, now); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want, _ := os.ReadFile("testdata/october.txt")
	if out.String() != string(want) {
		t.Errorf("CLI text differs from the golden file:\n%s", out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"monthly", "-config", cfgPath, "-data", filepath.Dir(cfg.Storage.Path), "-month", "2026-10", "-format", "html"}, &out, &errb, now); code != 0 || !strings.HasPrefix(out.String(), "<!DOCTYPE html>") {
		t.Fatalf("html: exit %d: %s", code, errb.String())
	}
	if code := run(ctx, []string{"monthly", "-config", cfgPath, "-send"}, &out, &errb, now); code != 0 {
		t.Fatalf("send: exit %d: %s", code, errb.String())
	}
	var kind string
	if err := db.QueryRow(`SELECT kind FROM outbox ORDER BY id DESC LIMIT 1`).Scan(&kind); err != nil || kind != alerting.KindMonthlyReport {
		t.Errorf("outbox: %q %v", kind, err)
	}
	for _, bad := range [][]string{{}, {"weekly"}, {"monthly", "-month", "2026-13"}, {"monthly", "-format", "pdf"}, {"monthly", "extra"}} {
		if code := run(ctx, bad, &out, &errb, now); code != 2 {
			t.Errorf("%q: exit %d, want 2", bad, code)
		}
	}
	errb.Reset()
	out.Reset()
	if code := run(ctx, []string{"monthly", "-config", cfgPath, "-month", "2026-08"}, &out, &errb, now); code != 0 ||
		!strings.Contains(errb.String(), "the store has no data for 2026-08") || !strings.Contains(out.String(), "not watching during this month") {
		t.Errorf("a month before the store: exit %d\n%s\n%s", code, errb.String(), out.String())
	}
	if code := run(ctx, []string{"monthly", "-data", t.TempDir()}, &out, &errb, now); code != 1 {
		t.Errorf("missing store: exit %d, want 1", code)
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"size=123456", 123456, true},
		{"Total size: 1.5 GB", 1500000000, true},
		{"Added to the repository: 1.234 GiB (800 MiB stored)", 1324997410, true},
		{"bytes: 42", 42, true},
		{"archive_size = 2,5 MiB", 2621440, true},
		{"done in 3 minutes", 0, false},
		{"size=99999999999999999999999 PiB", 0, false},
		{"", 0, false},
	} {
		got, ok := ParseSize(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"size=1", "Added to the repository: 1.2 GiB", "bytes: 9e99", "size: 1,,2 kb", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, ok := ParseSize(s); ok && n < 0 {
			t.Errorf("negative size %d", n)
		}
		_ = FormatSize(int64(len(s)))
	})
}

func BenchmarkBuild(b *testing.B) {
	t := &testing.T{}
	db, cfg, _ := fixture(t)
	now := time.Date(2026, 11, 1, 6, 0, 0, 0, cfg.Location())
	for b.Loop() {
		r, err := Build(context.Background(), db, cfg, now.AddDate(0, -1, 0), now)
		if err != nil {
			b.Fatal(err)
		}
		_ = r.HTML()
	}
}

// The count above a backup's list counts what the list shows: "1 runs,
// 1 failed" above two rows read as a mistake.
func TestRunCountMatchesTheList(t *testing.T) {
	for _, tc := range []struct {
		ok, failed int
		want       string
	}{{1, 1, "2 runs, 1 failed"}, {1, 0, "1 run, 0 failed"}, {0, 1, "1 run, 1 failed"}, {0, 0, "0 runs, 0 failed"}} {
		var b Backup
		for range tc.ok {
			b.Runs = append(b.Runs, Run{})
		}
		for range tc.failed {
			b.Failures = append(b.Failures, Run{})
		}
		if got := runCount(b); got != tc.want || len(merged(b)) != tc.ok+tc.failed {
			t.Errorf("%d ok, %d failed: %q (%d rows), want %q", tc.ok, tc.failed, got, len(merged(b)), tc.want)
		}
	}
}
