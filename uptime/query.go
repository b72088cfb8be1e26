package uptime

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Day is one day of a check's time, in milliseconds.
type Day struct {
	Day                                      string
	Up, Degraded, Down, Unknown, Maintenance int64
}

// Ratio is the uptime of the day: up and degraded over the time the
// check was watched outside maintenance; ok=false when there is none.
func (d Day) Ratio() (float64, bool) {
	total := d.Up + d.Degraded + d.Down
	if total == 0 {
		return 0, false
	}
	return float64(d.Up+d.Degraded) / float64(total), true
}

// Current is a check's confirmed state.
type Current struct {
	Status Status
	Since  time.Time
	Last   time.Time
	Detail string
}

// Reader answers the status page's questions.
type Reader struct {
	db  *sql.DB
	loc *time.Location
}

// NewReader reads from db (the store's read handle).
func NewReader(db *sql.DB, loc *time.Location) *Reader {
	if loc == nil {
		loc = time.Local
	}
	return &Reader{db: db, loc: loc}
}

// Current returns the check's state; Unknown when it never ran.
func (r *Reader) Current(ctx context.Context, check string) (Current, error) {
	var c Current
	var status int
	var since, last int64
	err := r.db.QueryRowContext(ctx, `SELECT status, since, last_time, detail FROM check_state WHERE check_name = ?`, check).Scan(&status, &since, &last, &c.Detail)
	if err == sql.ErrNoRows {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("check state: %w", err)
	}
	c.Status, c.Since, c.Last = Status(status), time.Unix(0, since), time.Unix(0, last)
	return c, nil
}

// Days returns the last n days up to now's day, oldest first, with empty
// days filled in.
func (r *Reader) Days(ctx context.Context, check string, n int, now time.Time) ([]Day, error) {
	first := now.In(r.loc).AddDate(0, 0, -(n - 1)).Format("2006-01-02")
	rows, err := r.db.QueryContext(ctx, `SELECT day, up_ms, degraded_ms, down_ms, unknown_ms, maintenance_ms FROM uptime_daily
		WHERE check_name = ? AND day >= ? ORDER BY day`, check, first)
	if err != nil {
		return nil, fmt.Errorf("uptime days: %w", err)
	}
	defer rows.Close()
	got := map[string]Day{}
	for rows.Next() {
		var d Day
		if err := rows.Scan(&d.Day, &d.Up, &d.Degraded, &d.Down, &d.Unknown, &d.Maintenance); err != nil {
			return nil, fmt.Errorf("uptime days: %w", err)
		}
		got[d.Day] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("uptime days: %w", err)
	}
	out := make([]Day, n)
	y, m, d := now.In(r.loc).Date()
	for i := 0; i < n; i++ {
		day := time.Date(y, m, d-(n-1-i), 12, 0, 0, 0, r.loc).Format("2006-01-02")
		out[i] = got[day]
		out[i].Day = day
	}
	return out, nil
}

// Ratio sums days into one uptime figure.
func Ratio(days []Day) (float64, bool) {
	var sum Day
	for _, d := range days {
		sum.Up += d.Up
		sum.Degraded += d.Degraded
		sum.Down += d.Down
	}
	return sum.Ratio()
}

// Sample is one probe's outcome for the response-time graph.
type Sample struct {
	Time     time.Time
	OK       bool
	Degraded bool // up, but a warn condition failed
	Duration time.Duration
}

// Samples returns the check's probes since a time, oldest first.
func (r *Reader) Samples(ctx context.Context, check string, since time.Time) ([]Sample, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT time, ok, degraded, duration_us FROM check_samples WHERE check_name = ? AND time >= ? ORDER BY time`, check, since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("samples: %w", err)
	}
	defer rows.Close()
	var out []Sample
	for rows.Next() {
		var t, us int64
		var s Sample
		if err := rows.Scan(&t, &s.OK, &s.Degraded, &us); err != nil {
			return nil, fmt.Errorf("samples: %w", err)
		}
		s.Time, s.Duration = time.Unix(0, t), time.Duration(us)*time.Microsecond
		out = append(out, s)
	}
	return out, rows.Err()
}

// Incident is an outage with its updates.
type Incident struct {
	ID       int64
	Check    string
	Title    string
	Public   bool
	Started  time.Time
	Resolved time.Time // zero while open
	Updates  []Update
	// Source is "check" for checks' and heartbeats' incidents, "manual"
	// for one opened by hand (whose Components are the public checks it
	// concerns), or another alert source.
	Source     string
	Components []string
}

// Update is one public note on an incident.
type Update struct {
	Time    time.Time
	Status  string
	Message string
}

// Incidents returns the newest incidents, public ones only when asked.
func (r *Reader) Incidents(ctx context.Context, publicOnly bool, limit int) ([]Incident, error) {
	return r.incidents(ctx, `SELECT id, check_name, title, public, started, resolved, source, components FROM incidents
		WHERE public = 1 OR ? = 0 ORDER BY started DESC LIMIT ?`, publicOnly, limit)
}

func (r *Reader) incidents(ctx context.Context, q string, args ...any) ([]Incident, error) {
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	var out []Incident
	for rows.Next() {
		var in Incident
		var started int64
		var resolved sql.NullInt64
		var comps string
		if err := rows.Scan(&in.ID, &in.Check, &in.Title, &in.Public, &started, &resolved, &in.Source, &comps); err != nil {
			rows.Close()
			return nil, fmt.Errorf("incidents: %w", err)
		}
		in.Started = time.Unix(0, started)
		if resolved.Valid {
			in.Resolved = time.Unix(0, resolved.Int64)
		}
		if comps != "" {
			json.Unmarshal([]byte(comps), &in.Components)
		}
		out = append(out, in)
	}
	rows.Close()
	for i := range out {
		ur, err := r.db.QueryContext(ctx, `SELECT time, status, message FROM incident_updates WHERE incident_id = ? ORDER BY time`, out[i].ID)
		if err != nil {
			return nil, fmt.Errorf("incident updates: %w", err)
		}
		for ur.Next() {
			var t int64
			var u Update
			if err := ur.Scan(&t, &u.Status, &u.Message); err == nil {
				u.Time = time.Unix(0, t)
				out[i].Updates = append(out[i].Updates, u)
			}
		}
		ur.Close()
	}
	return out, nil
}

// Incident returns one incident with its updates.
func (r *Reader) Incident(ctx context.Context, id int64) (Incident, bool, error) {
	ins, err := r.incidents(ctx, `SELECT id, check_name, title, public, started, resolved, source, components FROM incidents WHERE id = ?`, id)
	if err != nil || len(ins) == 0 {
		return Incident{}, false, err
	}
	return ins[0], true, nil
}

// Result is one probe's result as the console shows it.
type Result struct {
	Time       time.Time   `json:"time"`
	OK         bool        `json:"ok"`
	Degraded   bool        `json:"degraded"`
	Duration   float64     `json:"duration_ms"`
	Error      string      `json:"error"`
	Conditions []Condition `json:"conditions"`
}

func scanResult(sc interface{ Scan(...any) error }) (Result, error) {
	var r Result
	var t, us int64
	var cj string
	if err := sc.Scan(&t, &r.OK, &r.Degraded, &us, &r.Error, &cj); err != nil {
		return r, err
	}
	r.Time, r.Duration = time.Unix(0, t), float64(us)/1000
	if cj != "" {
		json.Unmarshal([]byte(cj), &r.Conditions)
	}
	if r.Conditions == nil {
		r.Conditions = []Condition{}
	}
	return r, nil
}

// LastResults returns each check's last probe result, by check.
func (r *Reader) LastResults(ctx context.Context) (map[string]Result, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT check_name, time, ok, degraded, duration_us, error, conditions FROM check_last`)
	if err != nil {
		return nil, fmt.Errorf("last results: %w", err)
	}
	defer rows.Close()
	out := map[string]Result{}
	for rows.Next() {
		var name string
		var res Result
		var t, us int64
		var cj string
		if err := rows.Scan(&name, &t, &res.OK, &res.Degraded, &us, &res.Error, &cj); err != nil {
			return nil, fmt.Errorf("last results: %w", err)
		}
		res.Time, res.Duration = time.Unix(0, t), float64(us)/1000
		if cj != "" {
			json.Unmarshal([]byte(cj), &res.Conditions)
		}
		out[name] = res
	}
	return out, rows.Err()
}

// Failures returns the check's failed or degraded results between from
// and to, newest first, limit at most.
func (r *Reader) Failures(ctx context.Context, check string, from, to time.Time, limit int) ([]Result, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT time, ok, degraded, duration_us, error, conditions FROM check_results
		WHERE check_name = ? AND time >= ? AND time < ? ORDER BY time DESC LIMIT ?`, check, from.UnixNano(), to.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	defer rows.Close()
	out := []Result{}
	for rows.Next() {
		res, err := scanResult(rows)
		if err != nil {
			return nil, fmt.Errorf("results: %w", err)
		}
		out = append(out, res)
	}
	return out, rows.Err()
}

// AllCurrent returns every check's confirmed state, by check.
func (r *Reader) AllCurrent(ctx context.Context) (map[string]Current, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT check_name, status, since, last_time, detail FROM check_state`)
	if err != nil {
		return nil, fmt.Errorf("check states: %w", err)
	}
	defer rows.Close()
	out := map[string]Current{}
	for rows.Next() {
		var name string
		var c Current
		var status int
		var since, last int64
		if err := rows.Scan(&name, &status, &since, &last, &c.Detail); err != nil {
			return nil, fmt.Errorf("check states: %w", err)
		}
		c.Status, c.Since, c.Last = Status(status), time.Unix(0, since), time.Unix(0, last)
		out[name] = c
	}
	return out, rows.Err()
}

// CheckIncidents returns the newest incidents of one check or
// heartbeat, limit at most.
func (r *Reader) CheckIncidents(ctx context.Context, check string, limit int) ([]Incident, error) {
	return r.incidents(ctx, `SELECT id, check_name, title, public, started, resolved, source, components FROM incidents
		WHERE check_name = ? AND source = 'check' ORDER BY started DESC LIMIT ?`, check, limit)
}
