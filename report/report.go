// Package report builds the monthly report: per check and heartbeat the
// month's uptime, the incidents that touched the month, and every
// heartbeat's (backup's) runs with their times, durations, sizes and
// failures. It reads the tables the uptime tracker and the heartbeat
// service write, so it runs as well from the CLI on a read-only store as
// inside the loghost.
package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/store"
)

// Report is one month's report.
type Report struct {
	Month     time.Time // the month's first instant, in Location
	End       time.Time // the next month's first instant (or the build time, for a running month)
	Location  *time.Location
	Generated time.Time
	// WatchedSince is when the loghost began watching, when that was
	// inside the month (zero when it watched the whole month).
	WatchedSince time.Time
	// NotWatched says the loghost had not yet started by the month's end:
	// the store holds no data for it.
	NotWatched bool
	Services   []Service
	Incidents  []Incident
	Backups    []Backup
}

// Service is one check's or heartbeat's month.
type Service struct {
	Name      string
	Heartbeat bool
	// Uptime is up and degraded time over the watched time outside
	// maintenance (as the status page counts it); Known is false when
	// the check was never watched in the month.
	Uptime                                   float64
	Known                                    bool
	Up, Degraded, Down, Unknown, Maintenance time.Duration
	Incidents                                int
}

// Incident is an outage that overlapped the month.
type Incident struct {
	ID       int64
	Check    string
	Start    time.Time
	End      time.Time // zero while still open
	Duration time.Duration
}

// Backup is one heartbeat's runs in the month.
type Backup struct {
	Name     string
	Runs     []Run // successes, oldest first
	Failures []Run
	// Partial says pings before Since were pruned (the store keeps the
	// last pings of each heartbeat only).
	Partial bool
	Since   time.Time
}

// Run is one ping that ended a run.
type Run struct {
	Time     time.Time
	Duration time.Duration // start to end; 0 when no /start was seen
	Size     int64         // bytes, -1 when the ping did not say
	ExitCode int           // -1 when not given
	Detail   string        // a failure's last log line
}

// keptPings is how many pings of each heartbeat the store keeps
// (heartbeat.Service.Ping prunes to it).
const keptPings = 100

// MonthOf returns the first instant of t's month in loc.
func MonthOf(t time.Time, loc *time.Location) time.Time {
	y, m, _ := t.In(loc).Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, loc)
}

// ParseMonth reads "2026-10" in loc.
func ParseMonth(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01", s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("month %q: want YYYY-MM", s)
	}
	return t, nil
}

// Build reads the month holding month (in the configuration's time zone)
// from db; now ends a month still running and any incident still open.
func Build(ctx context.Context, db *sql.DB, cfg *config.Config, month, now time.Time) (*Report, error) {
	loc := cfg.Location()
	start := MonthOf(month, loc)
	end := start.AddDate(0, 1, 0)
	r := &Report{Month: start, End: end, Location: loc, Generated: now}
	if now.Before(end) {
		r.End = now
	}
	if !r.End.After(start) {
		return nil, fmt.Errorf("month %s has not begun", start.Format("2006-01"))
	}
	since, ok, err := store.WatchingSince(ctx, db)
	if err != nil {
		return nil, err
	}
	switch {
	case !ok || !since.Before(r.End):
		r.NotWatched = true
		r.WatchedSince = since
	case since.After(start):
		r.WatchedSince = since
	}
	if r.Incidents, err = incidents(ctx, db, start, r.End); err != nil {
		return nil, err
	}
	count := map[string]int{}
	for _, in := range r.Incidents {
		count[in.Check]++
	}
	for _, c := range cfg.Checks {
		s, err := service(ctx, db, c.Name, start, end)
		if err != nil {
			return nil, err
		}
		s.Incidents = count[c.Name]
		r.Services = append(r.Services, s)
	}
	for _, h := range cfg.Heartbeats {
		s, err := service(ctx, db, h.Name, start, end)
		if err != nil {
			return nil, err
		}
		s.Heartbeat, s.Incidents = true, count[h.Name]
		r.Services = append(r.Services, s)
		b, err := backup(ctx, db, h.Name, start, r.End)
		if err != nil {
			return nil, err
		}
		r.Backups = append(r.Backups, b)
	}
	return r, nil
}

func service(ctx context.Context, db *sql.DB, name string, start, end time.Time) (Service, error) {
	s := Service{Name: name}
	// Days are the tracker's days, drawn in the same time zone.
	var up, deg, down, unk, maint int64
	err := db.QueryRowContext(ctx, `SELECT coalesce(sum(up_ms),0), coalesce(sum(degraded_ms),0), coalesce(sum(down_ms),0),
		coalesce(sum(unknown_ms),0), coalesce(sum(maintenance_ms),0) FROM uptime_daily WHERE check_name = ? AND day >= ? AND day < ?`,
		name, start.Format("2006-01-02"), end.Format("2006-01-02")).Scan(&up, &deg, &down, &unk, &maint)
	if err != nil {
		return s, fmt.Errorf("uptime of %s: %w", name, err)
	}
	ms := time.Millisecond
	s.Up, s.Degraded, s.Down, s.Unknown, s.Maintenance = time.Duration(up)*ms, time.Duration(deg)*ms, time.Duration(down)*ms, time.Duration(unk)*ms, time.Duration(maint)*ms
	if total := up + deg + down; total > 0 {
		s.Uptime, s.Known = float64(up+deg)/float64(total), true
	}
	return s, nil
}

func incidents(ctx context.Context, db *sql.DB, start, end time.Time) ([]Incident, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, check_name, started, resolved FROM incidents
		WHERE source = 'check' AND started < ? AND (resolved IS NULL OR resolved >= ?) ORDER BY started, id`, end.UnixNano(), start.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		var in Incident
		var started int64
		var resolved sql.NullInt64
		if err := rows.Scan(&in.ID, &in.Check, &started, &resolved); err != nil {
			return nil, fmt.Errorf("incidents: %w", err)
		}
		in.Start = time.Unix(0, started)
		until := end
		if resolved.Valid {
			in.End = time.Unix(0, resolved.Int64)
			until = in.End
		}
		in.Duration = until.Sub(in.Start)
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	return out, nil
}

func backup(ctx context.Context, db *sql.DB, name string, start, end time.Time) (Backup, error) {
	b := Backup{Name: name}
	var n int
	var oldest sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT count(*), min(time) FROM heartbeat_pings WHERE name = ?`, name).Scan(&n, &oldest); err != nil {
		return b, fmt.Errorf("pings of %s: %w", name, err)
	}
	if n >= keptPings && oldest.Valid && oldest.Int64 > start.UnixNano() {
		b.Partial, b.Since = true, time.Unix(0, oldest.Int64)
	}
	rows, err := db.QueryContext(ctx, `SELECT time, kind, exit_code, duration_ms, body FROM heartbeat_pings
		WHERE name = ? AND time >= ? AND time < ? AND kind IN ('success', 'fail') ORDER BY time, id`, name, start.UnixNano(), end.UnixNano())
	if err != nil {
		return b, fmt.Errorf("pings of %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t int64
		var kind, body string
		var code, dur sql.NullInt64
		if err := rows.Scan(&t, &kind, &code, &dur, &body); err != nil {
			return b, fmt.Errorf("pings of %s: %w", name, err)
		}
		run := Run{Time: time.Unix(0, t), Size: -1, ExitCode: -1}
		if dur.Valid {
			run.Duration = time.Duration(dur.Int64) * time.Millisecond
		}
		if code.Valid {
			run.ExitCode = int(code.Int64)
		}
		if sz, ok := ParseSize(body); ok {
			run.Size = sz
		}
		if kind == "fail" {
			run.Detail = lastLine(body)
			b.Failures = append(b.Failures, run)
		} else {
			b.Runs = append(b.Runs, run)
		}
	}
	if err := rows.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return b, fmt.Errorf("pings of %s: %w", name, err)
	}
	return b, nil
}

// lastLine is a failure's last non-empty log line, cut to 200 bytes.
func lastLine(body string) string {
	lines := strings.Split(strings.TrimSpace(body), "\n")
	s := strings.Join(strings.Fields(lines[len(lines)-1]), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// Subject is the report message's subject.
func (r *Report) Subject() string {
	failed := 0
	for _, b := range r.Backups {
		failed += len(b.Failures)
	}
	return fmt.Sprintf("[watchpost] Monthly report %s: %d incidents, %d failed backup runs", r.Month.Format("2006-01"), len(r.Incidents), failed)
}
