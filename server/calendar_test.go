package server

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/heartbeat"
	"github.com/watchpost/watchpost/report"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/uptime"
	"github.com/watchpost/watchpost/webstats"
)

// boundary is an instant the calendar makes special, in a zone.
type boundary struct {
	name, zone string
	y          int
	m          time.Month
	d, h, min  int
}

func (b boundary) at(t *testing.T) (time.Time, *time.Location) {
	t.Helper()
	loc, err := time.LoadLocation(b.zone)
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(b.y, b.m, b.d, b.h, b.min, 0, 0, loc), loc
}

// boundaries are the dates the suite once failed on, and the ones the
// calendar makes hard: month and year ends, the first week (the monthly
// report's catch-up), the 29th–31st, 29 February, both DST changes, and
// local midnight that is not UTC midnight.
var boundaries = []boundary{
	{"new year", "Europe/Berlin", 2027, 1, 1, 0, 0},
	{"year end", "Europe/Berlin", 2026, 12, 31, 23, 30},
	{"first of a month", "Europe/Berlin", 2026, 12, 1, 0, 5},
	{"third of a month", "Europe/Berlin", 2026, 12, 3, 9, 30},
	{"seventh, late", "Europe/Berlin", 2026, 12, 7, 23, 55},
	{"eighth", "Europe/Berlin", 2026, 12, 8, 0, 5},
	{"31st", "Europe/Berlin", 2026, 10, 31, 12, 0},
	{"30th of a 30-day month", "America/New_York", 2026, 11, 30, 23, 50},
	{"29 February", "UTC", 2028, 2, 29, 23, 45},
	{"1 March after a leap day", "UTC", 2028, 3, 1, 0, 15},
	{"28 February, no leap", "Europe/Berlin", 2027, 2, 28, 23, 40},
	{"spring forward", "Europe/Berlin", 2027, 3, 28, 1, 50},
	{"fall back", "Europe/Berlin", 2026, 10, 25, 1, 50},
	{"US spring forward", "America/New_York", 2027, 3, 14, 1, 45},
	{"local midnight, not UTC's", "Pacific/Auckland", 2026, 12, 1, 0, 30},
	{"UTC midnight, not local", "America/Los_Angeles", 2026, 12, 1, 16, 30},
}

// calendarConfig is a loghost file in zone with a daily maintenance window
// and a heartbeat due daily at 02:00 (an hour the spring change skips).
func calendarConfig(t *testing.T, zone string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "watchpost.yml")
	y := fmt.Sprintf(`timezone: %s
storage:
  path: %s
checks:
  - {name: wiki, type: http, target: "http://127.0.0.1:9/", interval: 10m}
heartbeats:
  - {name: backup, id: 6f1c2d34-backup-calendar, schedule: "0 2 * * *", grace: 1h}
maintenance:
  - {name: nightly, schedule: "30 1 * * *", duration: 1h, checks: [wiki]}
`, zone, filepath.Join(dir, "watchpost.db"))
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestCalendarBoundaries runs the time-sensitive parts of the loghost
// around each boundary with an injected clock: uptime days, maintenance
// windows, heartbeat schedules, the monthly report, retention's quota days
// and web statistics months. Nothing here reads the real date.
func TestCalendarBoundaries(t *testing.T) {
	for _, b := range boundaries {
		t.Run(b.name, func(t *testing.T) {
			at, loc := b.at(t)
			cfg := calendarConfig(t, b.zone)
			ctx := context.Background()
			installed := at.Add(-40 * 24 * time.Hour)
			clock := installed
			st, err := store.Open(ctx, store.Options{Path: cfg.Storage.Path, Location: loc, HostQuotaPerDay: 1 << 30, Now: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			db := st.DB()

			t.Run("uptime days and maintenance", func(t *testing.T) { calendarUptime(t, db, cfg, at, loc) })
			t.Run("heartbeat schedule", func(t *testing.T) { calendarHeartbeat(t, db, cfg, at, loc) })
			t.Run("monthly report", func(t *testing.T) { calendarReport(t, db, cfg, at, loc) })
			t.Run("web statistics month", func(t *testing.T) { calendarWebStats(t, at, loc) })
			t.Run("quota day", func(t *testing.T) {
				clock = at
				calendarQuotaDay(t, st, at, loc)
			})
		})
	}
}

// localDays splits [from, to) at local midnights, as a calendar (not the
// code under test) does: with time.Date, so 23- and 25-hour days come out
// right.
func localDays(from, to time.Time, loc *time.Location) map[string]time.Duration {
	out := map[string]time.Duration{}
	for from.Before(to) {
		y, m, d := from.In(loc).Date()
		next := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		end := to
		if next.Before(end) {
			end = next
		}
		out[from.In(loc).Format("2006-01-02")] += end.Sub(from)
		from = end
	}
	return out
}

func calendarUptime(t *testing.T, db *sql.DB, cfg *config.Config, at time.Time, loc *time.Location) {
	ctx := context.Background()
	tr := uptime.New(db, uptime.Config{FailThreshold: 1, Location: loc, Maintenance: maintenanceWindows(cfg),
		MaxGap: func(string) time.Duration { return time.Hour }})
	from, to := at.Add(-26*time.Hour), at.Add(26*time.Hour)
	for o := from; !o.After(to); o = o.Add(10 * time.Minute) {
		if _, err := tr.Observe(ctx, uptime.Observation{Check: "wiki", Time: o, OK: true}); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT day, up_ms, maintenance_ms, down_ms + degraded_ms + unknown_ms FROM uptime_daily WHERE check_name = 'wiki'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := localDays(from, to, loc)
	var total time.Duration
	for rows.Next() {
		var day string
		var up, maint, other int64
		if err := rows.Scan(&day, &up, &maint, &other); err != nil {
			t.Fatal(err)
		}
		got := time.Duration(up+maint+other) * time.Millisecond
		if got != want[day] {
			t.Errorf("%s: %v accounted, the calendar says %v of the range fall on it", day, got, want[day])
		}
		if other != 0 {
			t.Errorf("%s: %d ms neither up nor in maintenance", day, other)
		}
		// The window opens at 01:30 local and lasts an hour of real time;
		// on no day may it count more.
		if maint > time.Hour.Milliseconds() {
			t.Errorf("%s: %v of maintenance from a 1h window", day, time.Duration(maint)*time.Millisecond)
		}
		delete(want, day)
		total += got
	}
	if len(want) != 0 {
		t.Errorf("days with no row: %v", want)
	}
	if total != to.Sub(from) {
		t.Errorf("%v accounted over a range of %v", total, to.Sub(from))
	}
	days, err := uptime.NewReader(db, loc).Days(ctx, "wiki", 3, to)
	if err != nil {
		t.Fatal(err)
	}
	if last := days[len(days)-1].Day; last != to.In(loc).Format("2006-01-02") {
		t.Errorf("the last of the status page's days is %s, want %s", last, to.In(loc).Format("2006-01-02"))
	}
	for i := 1; i < len(days); i++ {
		if days[i].Day <= days[i-1].Day {
			t.Errorf("days out of order or repeated: %v", days)
		}
	}
}

func calendarHeartbeat(t *testing.T, db *sql.DB, cfg *config.Config, at time.Time, loc *time.Location) {
	ctx := context.Background()
	sch, err := schedule(cfg.Heartbeats[0].Schedule, loc)
	if err != nil {
		t.Fatal(err)
	}
	// Last night's run reported at 02:10 local the day before at.
	y, m, d := at.In(loc).Date()
	last := time.Date(y, m, d-1, 2, 10, 0, 0, loc)
	next := sch.Next(last)
	if h := next.In(loc).Hour(); next.Sub(last) < 20*time.Hour || next.Sub(last) > 25*time.Hour || (h != 2 && h != 3) {
		t.Fatalf("after a run at %v the next is due at %v", last, next)
	}
	clock := last
	tr := uptime.New(db, uptime.Config{FailThreshold: 1, Location: loc, MaxGap: func(string) time.Duration { return 48 * time.Hour }})
	beat := heartbeat.Heartbeat{Name: "backup", ID: "6f1c2d34-backup-calendar", Schedule: sch, Grace: time.Hour}
	hs, err := heartbeat.New(db, tr, []heartbeat.Heartbeat{beat}, func() time.Time { return clock }, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := hs.Ping(ctx, beat, "success", sql.NullInt64{}, "", "10.0.0.5", ""); err != nil {
		t.Fatal(err)
	}
	status := func(now time.Time) uptime.Status {
		clock = now
		hs.Check(ctx)
		c, err := uptime.NewReader(db, loc).Current(ctx, "backup")
		if err != nil {
			t.Fatal(err)
		}
		return c.Status
	}
	if s := status(next.Add(time.Hour - time.Minute)); s != uptime.Up {
		t.Errorf("within the grace after %v: %v, want up", next, s)
	}
	if s := status(next.Add(time.Hour + time.Minute)); s != uptime.Down {
		t.Errorf("past the grace after %v: %v, want down", next, s)
	}
}

func calendarReport(t *testing.T, db *sql.DB, cfg *config.Config, at time.Time, loc *time.Location) {
	ctx := context.Background()
	// The loop's hourly passes from two days before to two days after:
	// each month whose first week they touch is queued, once.
	want := map[string]bool{}
	for h := at.Add(-48 * time.Hour); h.Before(at.Add(48 * time.Hour)); h = h.Add(time.Hour) {
		if h.In(loc).Day() <= 7 {
			want[report.MonthOf(h, loc).AddDate(0, -1, 0).Format("2006-01")] = true
		}
		if _, err := report.QueueDue(ctx, db, cfg, h); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT json_extract(payload, '$.month'), COUNT(*) FROM outbox WHERE kind = 'monthly_report' GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]bool{}
	for rows.Next() {
		var month string
		var n int
		if err := rows.Scan(&month, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s queued %d times", month, n)
		}
		got[month] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("queued %v, want %v", got, want)
	}
}

func calendarWebStats(t *testing.T, at time.Time, loc *time.Location) {
	a := webstats.New(webstats.Options{Location: loc})
	for _, d := range []time.Duration{-time.Hour, -time.Minute, time.Minute, time.Hour} {
		a.AddRequest("wiki", &webstats.Request{Time: at.Add(d), Client: "192.0.2.1", Method: "GET", Path: "/", Status: 200, UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"})
	}
	want := map[string]bool{}
	for _, d := range []time.Duration{-time.Hour, -time.Minute, time.Minute, time.Hour} {
		want[at.Add(d).In(loc).Format("2006-01")] = true
	}
	got := map[string]bool{}
	for _, k := range a.Months() {
		got[k.YearMonth()] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("months %v, want the local months %v", got, want)
	}
}

func calendarQuotaDay(t *testing.T, st *store.Store, at time.Time, loc *time.Location) {
	ctx := context.Background()
	if _, err := st.Append(ctx, "web1", []store.Record{{Kind: store.KindLog, Raw: "hello", Offset: -1}}); err != nil {
		t.Fatal(err)
	}
	var day string
	if err := st.ReadDB().QueryRowContext(ctx, `SELECT day FROM quota_usage`).Scan(&day); err != nil {
		t.Fatal(err)
	}
	if want := at.In(loc).Format("2006-01-02"); day != want {
		t.Errorf("quota day %s, want the local day %s", day, want)
	}
}
