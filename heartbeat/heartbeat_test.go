package heartbeat

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/uptime"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T) (*Service, *uptime.Reader, *clock, *store.Store) {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &clock{t: time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)}
	tr := uptime.New(s.DB(), uptime.Config{Location: time.UTC, FailThresholdFor: func(string) int { return 1 },
		MaxGap: func(string) time.Duration { return 48 * time.Hour }})
	svc, err := New(s.DB(), tr, []Heartbeat{{Name: "nightly-backup", ID: "5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42", Period: 24 * time.Hour, Grace: 2 * time.Hour}},
		c.now, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc, uptime.NewReader(s.ReadDB(), time.UTC), c, s
}

func ping(t *testing.T, svc *Service, method, path, body string) int {
	t.Helper()
	w := httptest.NewRecorder()
	svc.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
	return w.Code
}

func TestHeartbeatLifecycle(t *testing.T) {
	svc, rd, c, s := setup(t)
	ctx := context.Background()
	const id = "/ping/5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42"
	state := func() uptime.Status { cur, _ := rd.Current(ctx, "nightly-backup"); return cur.Status }

	svc.Check(ctx)
	if state() != uptime.Unknown {
		t.Fatalf("a heartbeat that never pinged is %v, want unknown (new)", state())
	}
	if code := ping(t, svc, "GET", id+"/start", ""); code != 200 {
		t.Fatalf("start: %d", code)
	}
	c.t = c.t.Add(40 * time.Minute)
	if code := ping(t, svc, "POST", id, "backup done: 12 GB"); code != 200 {
		t.Fatalf("ping: %d", code)
	}
	if state() != uptime.Up {
		t.Fatalf("after success: %v", state())
	}
	var dur int64
	var body string
	s.ReadDB().QueryRow(`SELECT duration_ms, body FROM heartbeat_pings WHERE kind = 'success'`).Scan(&dur, &body)
	if dur != 40*60*1000 || body != "backup done: 12 GB" {
		t.Errorf("run time %d ms, body %q", dur, body)
	}
	// Within period + grace: still up. After it: down, with an incident.
	c.t = c.t.Add(25 * time.Hour)
	svc.Check(ctx)
	if state() != uptime.Up {
		t.Fatalf("25 h after (24 h + 2 h grace): %v", state())
	}
	c.t = c.t.Add(90 * time.Minute)
	svc.Check(ctx)
	cur, _ := rd.Current(ctx, "nightly-backup")
	if cur.Status != uptime.Down || !strings.Contains(cur.Detail, "no ping since") {
		t.Fatalf("late: %+v", cur)
	}
	if ins, _ := rd.Incidents(ctx, false, 5); len(ins) != 1 || ins[0].Title != "nightly-backup is down" {
		t.Fatalf("incidents %+v", ins)
	}
	// It arrives late: up again, the incident resolved.
	ping(t, svc, "GET", id, "")
	if state() != uptime.Up {
		t.Fatalf("after the late ping: %v", state())
	}
	// An exit code other than 0 is a failure, at once.
	ping(t, svc, "POST", id+"/1", "rsync error")
	cur, _ = rd.Current(ctx, "nightly-backup")
	if cur.Status != uptime.Down || cur.Detail != "the job exited with status 1" {
		t.Fatalf("after /1: %+v", cur)
	}
	// A restart remembers the failure.
	svc2, err := New(s.DB(), uptime.New(s.DB(), uptime.Config{}), svc.list(), c.now, nil, nil)
	if err != nil || !svc2.failed["nightly-backup"] {
		t.Fatalf("restart forgot the failure: %v", err)
	}
}

func TestBadPings(t *testing.T) {
	svc, _, _, _ := setup(t)
	tests := []struct {
		method, path string
		code         int
	}{
		{"GET", "/ping/wrong-id", http.StatusNotFound},
		{"GET", "/ping/5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42/banana", http.StatusBadRequest},
		{"GET", "/ping/5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42/256", http.StatusBadRequest},
		{"DELETE", "/ping/5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42", http.StatusMethodNotAllowed},
		{"GET", "/ping/5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42/log", http.StatusOK},
	}
	for _, tt := range tests {
		if code := ping(t, svc, tt.method, tt.path, strings.Repeat("x", 2*MaxBody)); code != tt.code {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, code, tt.code)
		}
	}
}

// daily is a schedule due every day at 02:00 UTC.
type daily struct{}

func (daily) Next(t time.Time) time.Time {
	n := time.Date(t.Year(), t.Month(), t.Day(), 2, 0, 0, 0, time.UTC)
	if !n.After(t) {
		n = n.AddDate(0, 0, 1)
	}
	return n
}

func TestScheduleAndRuntimeBounds(t *testing.T) {
	svc, rd, c, _ := setup(t)
	ctx := context.Background()
	b := Heartbeat{Name: "nightly-backup", ID: "x", Schedule: daily{}, Grace: 30 * time.Minute, MinRuntime: 5 * time.Minute, MaxRuntime: 2 * time.Hour}
	if err := svc.SetBeats([]Heartbeat{b}); err != nil {
		t.Fatal(err)
	}
	state := func() uptime.Current { cur, _ := rd.Current(ctx, "nightly-backup"); return cur }
	// 02:00 start, 02:40 success: within bounds.
	svc.Ping(ctx, b, "start", sql.NullInt64{}, "", "", "")
	c.t = c.t.Add(40 * time.Minute)
	svc.Ping(ctx, b, "success", sql.NullInt64{}, "", "", "")
	if state().Status != uptime.Up {
		t.Fatalf("after a good run: %+v", state())
	}
	// Next due 02:00 tomorrow + 30 min grace: 02:29 is fine, 02:31 is late.
	c.t = time.Date(2026, 11, 26, 2, 29, 0, 0, time.UTC)
	svc.Check(ctx)
	if state().Status != uptime.Up {
		t.Fatalf("inside the grace: %+v", state())
	}
	c.t = c.t.Add(2 * time.Minute)
	svc.Check(ctx)
	if cur := state(); cur.Status != uptime.Down || !strings.Contains(cur.Detail, "due by 2026-11-26T02:30:00Z") {
		t.Fatalf("late: %+v", cur)
	}
	// A "success" after 30 seconds is not a backup.
	svc.Ping(ctx, b, "start", sql.NullInt64{}, "", "", "")
	c.t = c.t.Add(30 * time.Second)
	svc.Ping(ctx, b, "success", sql.NullInt64{}, "", "", "")
	if cur := state(); cur.Status != uptime.Down || !strings.Contains(cur.Detail, "less than the minimum") {
		t.Fatalf("too fast: %+v", cur)
	}
	// A run that never ends is down once it passes the maximum.
	c.t = c.t.Add(time.Hour)
	svc.Ping(ctx, b, "success", sql.NullInt64{}, "r1", "", "") // an ordinary success first
	svc.Ping(ctx, b, "start", sql.NullInt64{}, "r2", "", "")
	if state().Status != uptime.Up {
		t.Fatalf("after a success: %+v", state())
	}
	c.t = c.t.Add(3 * time.Hour)
	svc.Check(ctx)
	if cur := state(); cur.Status != uptime.Down || !strings.Contains(cur.Detail, "running for 3h0m0s") {
		t.Fatalf("stuck run: %+v", cur)
	}
}

// TestPauseURL: POST /ping/{id}/pause?for=2h snoozes a heartbeat (GET
// cannot); missed pings meanwhile raise nothing; after the pause the
// next ping is due a period from its end; an untimed pause ends with
// the next ping, as in Healthchecks.io; pause and resume are in the
// ping log.
func TestPauseURL(t *testing.T) {
	svc, rd, c, s := setup(t)
	ctx := context.Background()
	svc.Pauses = svc.obs.(*uptime.Tracker)
	const id = "/ping/5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42"
	state := func() uptime.Status { cur, _ := rd.Current(ctx, "nightly-backup"); return cur.Status }
	if code := ping(t, svc, "POST", id, ""); code != 200 {
		t.Fatal(code)
	}
	if code := ping(t, svc, "GET", id+"/pause", ""); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET pause: %d", code)
	}
	if code := ping(t, svc, "POST", id+"/pause?for=soon", ""); code != http.StatusBadRequest {
		t.Fatalf("bad duration: %d", code)
	}
	if code := ping(t, svc, "POST", id+"/pause?for=48h", ""); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	// 30 h later the backup would be late; paused, it is not.
	c.t = c.t.Add(30 * time.Hour)
	svc.Check(ctx)
	if st := state(); st != uptime.Up {
		t.Fatalf("paused heartbeat went %v", st)
	}
	// The pause ends at 48 h; the next ping is due 26 h after that.
	c.t = c.t.Add(18*time.Hour + 25*time.Hour)
	svc.Check(ctx)
	if st := state(); st != uptime.Up {
		t.Fatalf("due from the pause's end, but went %v", st)
	}
	c.t = c.t.Add(2 * time.Hour)
	svc.Check(ctx)
	if st := state(); st != uptime.Down {
		t.Fatalf("late after the pause: %v", st)
	}
	// An untimed pause, ended by the next ping.
	if code := ping(t, svc, "POST", id+"/pause", ""); code != 200 {
		t.Fatal(code)
	}
	if _, ok := svc.Pauses.Paused("nightly-backup", c.t); !ok {
		t.Fatal("not paused")
	}
	c.t = c.t.Add(time.Minute)
	ping(t, svc, "POST", id, "")
	if _, ok := svc.Pauses.Paused("nightly-backup", c.t); ok || state() != uptime.Up {
		t.Fatalf("a ping did not resume it: %v", state())
	}
	var kinds []string
	rows, _ := s.ReadDB().Query(`SELECT kind FROM heartbeat_pings ORDER BY time, id`)
	for rows.Next() {
		var k string
		rows.Scan(&k)
		kinds = append(kinds, k)
	}
	rows.Close()
	if got := strings.Join(kinds, " "); got != "success pause pause resume success" {
		t.Errorf("ping log %s", got)
	}
}

// A configuration reload gives the service new heartbeats: a removed one
// answers 404, an added one pings, a changed id follows, and a run that
// /start opened before the reload still counts when it finishes.
func TestSetBeats(t *testing.T) {
	svc, rd, c, _ := setup(t)
	ctx := context.Background()
	const oldID, newID = "/ping/5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42", "/ping/0b7a4c3e-aaaa-4c55-9a57-0d3e8b7f1c42"
	if code := ping(t, svc, "GET", oldID+"/start", ""); code != 200 {
		t.Fatalf("start: %d", code)
	}
	c.t = c.t.Add(10 * time.Minute)
	err := svc.SetBeats([]Heartbeat{
		{Name: "nightly-backup", ID: newID[len("/ping/"):], Period: 24 * time.Hour, Grace: 2 * time.Hour, MinRuntime: 15 * time.Minute},
		{Name: "weekly", ID: "weekly-0123456789abcdef", Period: 7 * 24 * time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	if code := ping(t, svc, "POST", oldID, "done"); code != 404 {
		t.Fatalf("the old id after the reload: %d", code)
	}
	// The run began 10 minutes ago, before the reload: shorter than the
	// new min_runtime, so a failure — which only a kept /start can tell.
	if code := ping(t, svc, "POST", newID, "done"); code != 200 {
		t.Fatalf("the new id: %d", code)
	}
	if cur, _ := rd.Current(ctx, "nightly-backup"); cur.Status != uptime.Down {
		t.Fatalf("the run begun before the reload was not measured from its /start: %+v", cur)
	}
	if code := ping(t, svc, "GET", "/ping/weekly-0123456789abcdef", ""); code != 200 {
		t.Fatalf("an added heartbeat: %d", code)
	}
	if names := strings.Join(svc.Names(), ","); names != "nightly-backup,weekly" {
		t.Fatalf("names %s", names)
	}
}

// TestPingBodyRedacted: a ping body is masked as a log line is (the
// built-in patterns), before it is stored.
func TestPingBodyRedacted(t *testing.T) {
	svc, _, _, s := setup(t)
	r, err := logparse.NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	svc.Redactor = r
	const id = "/ping/5b1c2e0a-2f6e-4c55-9a57-0d3e8b7f1c42"
	if code := ping(t, svc, "POST", id+"/fail", "mysqldump -u root password=hunter2 failed\nrsync https://backup:s3cr3t@nas/ done"); code != 200 {
		t.Fatalf("ping: %d", code)
	}
	var body string
	s.ReadDB().QueryRow(`SELECT body FROM heartbeat_pings`).Scan(&body)
	if strings.Contains(body, "hunter2") || strings.Contains(body, "s3cr3t") || !strings.Contains(body, "mysqldump") {
		t.Errorf("stored body %q", body)
	}
}
