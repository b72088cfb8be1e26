// Package maintenance keeps maintenance windows, those of the
// configuration file and those made in the console or through the API
// (stored, so they survive restarts and reloads): one-off or recurring
// (cron, in the configured time zone), over checks by name or labels and
// over hosts, with a public description. While a window runs, the checks
// it covers count their time as maintenance and their alerts are muted;
// a window with a description that covers a public check is shown on the
// status page ahead of time and while it runs, is in the feed, and is
// announced to the status page's subscribers.
package maintenance

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/watchpost/watchpost/internal/wallclock"
	"github.com/watchpost/watchpost/uptime"
)

// Window is one maintenance window.
type Window struct {
	// ID is the stored window's number; 0 for one of the configuration
	// file (changed there, not here).
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// Start and End make a one-off window; Schedule (cron) and Duration
	// a recurring one.
	Start    time.Time `json:"-"`
	End      time.Time `json:"-"`
	Schedule string    `json:"schedule,omitempty"`
	Duration time.Duration
	Checks   []string          `json:"checks"`
	Labels   map[string]string `json:"labels"`
	Hosts    []string          `json:"hosts"`
	// Description, when set, is what the status page says about the
	// window (for the public checks it covers).
	Description string    `json:"description"`
	Source      string    `json:"source"` // config or console
	Created     time.Time `json:"-"`
	CreatedBy   string    `json:"created_by,omitempty"`
	Cancelled   time.Time `json:"-"`

	sched *wallclock.Schedule
	loc   *time.Location
}

// windowJSON is the API's shape of a window.
type windowJSON struct {
	ID          int64             `json:"id"`
	Name        string            `json:"name"`
	Start       *time.Time        `json:"start"`
	End         *time.Time        `json:"end"`
	Schedule    string            `json:"schedule,omitempty"`
	Duration    string            `json:"duration,omitempty"`
	Checks      []string          `json:"checks"`
	Labels      map[string]string `json:"labels"`
	Hosts       []string          `json:"hosts"`
	Description string            `json:"description"`
	Source      string            `json:"source"`
	Created     *time.Time        `json:"created"`
	CreatedBy   string            `json:"created_by,omitempty"`
	Cancelled   *time.Time        `json:"cancelled"`
	// Next is the window's current or next occurrence, when it has one.
	Next *Occurrence `json:"next,omitempty"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// MarshalJSON writes the API's shape.
func (w Window) MarshalJSON() ([]byte, error) {
	j := windowJSON{ID: w.ID, Name: w.Name, Start: tp(w.Start), End: tp(w.End), Schedule: w.Schedule, Checks: w.Checks, Labels: w.Labels,
		Hosts: w.Hosts, Description: w.Description, Source: w.Source, Created: tp(w.Created), CreatedBy: w.CreatedBy, Cancelled: tp(w.Cancelled)}
	if w.Duration > 0 {
		j.Duration = w.Duration.String()
	}
	if j.Checks == nil {
		j.Checks = []string{}
	}
	if j.Hosts == nil {
		j.Hosts = []string{}
	}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	return json.Marshal(j)
}

// Recurring reports whether the window repeats on a schedule.
func (w Window) Recurring() bool { return w.Schedule != "" }

// Scoped reports whether the window names what it covers; an unscoped
// window covers everything.
func (w Window) Scoped() bool { return len(w.Checks) > 0 || len(w.Labels) > 0 || len(w.Hosts) > 0 }

// Occurrence is one run of a window.
type Occurrence struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// ErrInvalid is a window that cannot be made as given.
var ErrInvalid = errors.New("bad maintenance window")

// Prepare checks a window and readies its schedule, read in loc.
func (w *Window) Prepare(loc *time.Location) error {
	w.loc = loc
	w.Name = strings.TrimSpace(w.Name)
	if w.Name == "" || len(w.Name) > 200 {
		return fmt.Errorf("%w: name: 1 to 200 characters", ErrInvalid)
	}
	if len(w.Description) > 2000 {
		return fmt.Errorf("%w: description: at most 2000 characters", ErrInvalid)
	}
	if len(w.Checks) > 1000 || len(w.Hosts) > 1000 || len(w.Labels) > 100 {
		return fmt.Errorf("%w: too many checks, hosts or labels", ErrInvalid)
	}
	switch {
	case w.Schedule != "":
		if !w.Start.IsZero() || !w.End.IsZero() {
			return fmt.Errorf("%w: give start and end, or schedule and duration, not both", ErrInvalid)
		}
		s, err := wallclock.Parse(w.Schedule, loc)
		if err != nil {
			return fmt.Errorf("%w: schedule: %v", ErrInvalid, err)
		}
		if w.Duration <= 0 || w.Duration > 31*24*time.Hour {
			return fmt.Errorf("%w: duration: want a positive duration up to 31 days", ErrInvalid)
		}
		w.sched = &s
	default:
		if w.Start.IsZero() || w.End.IsZero() {
			return fmt.Errorf("%w: give start and end (or schedule and duration)", ErrInvalid)
		}
		if !w.End.After(w.Start) {
			return fmt.Errorf("%w: end must be after start", ErrInvalid)
		}
	}
	return nil
}

// Next returns the occurrence running at t, or else the next one to
// start after t; ok is false when there is none (a past or cancelled
// window).
func (w Window) Next(t time.Time) (Occurrence, bool) {
	if !w.Cancelled.IsZero() && !t.Before(w.Cancelled) {
		return Occurrence{}, false
	}
	if w.sched == nil {
		if t.Before(w.End) {
			return w.clip(Occurrence{w.Start, w.End})
		}
		return Occurrence{}, false
	}
	s := w.sched.Next(t.Add(-w.Duration))
	if s.IsZero() {
		return Occurrence{}, false
	}
	return w.clip(Occurrence{s, s.Add(w.Duration)})
}

// clip ends an occurrence at the window's cancellation.
func (w Window) clip(o Occurrence) (Occurrence, bool) {
	if !w.Cancelled.IsZero() {
		if !o.Start.Before(w.Cancelled) {
			return Occurrence{}, false
		}
		if o.End.After(w.Cancelled) {
			o.End = w.Cancelled
		}
	}
	return o, true
}

// Active reports whether the window runs at t.
func (w Window) Active(t time.Time) bool {
	o, ok := w.Next(t)
	return ok && !t.Before(o.Start)
}

// Catalog is what a window's scope is resolved against: the checks and
// heartbeats configured now, with their labels and public flags.
type Catalog struct {
	Labels map[string]map[string]string // check → its labels
	Public map[string]bool
}

// CoversCheck reports whether the window's scope includes check.
func (w Window) CoversCheck(check string, c Catalog) bool {
	if !w.Scoped() {
		return true
	}
	if slices.Contains(w.Checks, check) {
		return true
	}
	if len(w.Labels) > 0 {
		have := c.Labels[check]
		for k, v := range w.Labels {
			if have[k] != v {
				return false
			}
		}
		return true
	}
	return false
}

// Components are the public checks the window covers, sorted.
func (w Window) Components(c Catalog) []string {
	var out []string
	for name := range c.Public {
		if c.Public[name] && w.CoversCheck(name, c) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Public reports whether the status page shows the window: it has a
// description and covers a public check.
func (w Window) Public(c Catalog) bool {
	return strings.TrimSpace(w.Description) != "" && len(w.Components(c)) > 0
}

// uptimeWindow is the tracker's form: the checks it covers, resolved.
func (w Window) uptimeWindow(c Catalog) uptime.Window {
	u := uptime.Window{Start: w.Start, End: w.End, Duration: w.Duration}
	if w.sched != nil {
		u.Every = *w.sched
	}
	if w.Scoped() {
		u.Checks = map[string]bool{}
		for name := range c.Labels {
			if w.CoversCheck(name, c) {
				u.Checks[name] = true
			}
		}
		for _, name := range w.Checks {
			u.Checks[name] = true
		}
	}
	if !w.Cancelled.IsZero() {
		if w.sched == nil && w.End.After(w.Cancelled) {
			u.End = w.Cancelled
		}
		if w.sched != nil {
			// A cancelled recurring window stops: what ran before it was
			// cancelled was counted then.
			u.Every, u.Start, u.End = nil, time.Time{}, time.Time{}
		}
	}
	return u
}

// scan reads a stored window.
func scan(sc interface{ Scan(...any) error }, loc *time.Location) (Window, error) {
	var w Window
	var starts, ends, cancelled sql.NullInt64
	var dur, created int64
	var checks, labels, hosts string
	if err := sc.Scan(&w.ID, &w.Name, &starts, &ends, &w.Schedule, &dur, &checks, &labels, &hosts, &w.Description, &created, &w.CreatedBy, &cancelled); err != nil {
		return w, err
	}
	if starts.Valid {
		w.Start = time.Unix(0, starts.Int64)
	}
	if ends.Valid {
		w.End = time.Unix(0, ends.Int64)
	}
	if cancelled.Valid {
		w.Cancelled = time.Unix(0, cancelled.Int64)
	}
	w.Duration, w.Created, w.Source = time.Duration(dur), time.Unix(0, created), "console"
	json.Unmarshal([]byte(checks), &w.Checks)
	json.Unmarshal([]byte(labels), &w.Labels)
	json.Unmarshal([]byte(hosts), &w.Hosts)
	if err := w.Prepare(loc); err != nil {
		return w, err
	}
	return w, nil
}

const cols = `id, name, starts, ends, schedule, duration, checks, labels, hosts, description, created, created_by, cancelled`

// Load reads the stored windows not cancelled more than a week ago
// (one-off windows that ended long ago are kept for the record, but not
// loaded).
func Load(ctx context.Context, db *sql.DB, loc *time.Location, now time.Time) ([]Window, error) {
	week := now.Add(-7 * 24 * time.Hour).UnixNano()
	rows, err := db.QueryContext(ctx, `SELECT `+cols+` FROM maintenance_windows
		WHERE (cancelled IS NULL OR cancelled > ?) AND (ends IS NULL OR ends > ?) ORDER BY id`, week, week)
	if err != nil {
		return nil, fmt.Errorf("read maintenance windows: %w", err)
	}
	defer rows.Close()
	var out []Window
	for rows.Next() {
		w, err := scan(rows, loc)
		if err != nil {
			continue // a row this version cannot read is skipped, not fatal
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Create stores a new window (validated with Prepare) made by by.
func Create(ctx context.Context, db *sql.DB, w Window, loc *time.Location, by string, now time.Time) (Window, error) {
	if err := w.Prepare(loc); err != nil {
		return w, err
	}
	if w.Schedule == "" && !w.End.After(now) {
		return w, fmt.Errorf("%w: the window is over already", ErrInvalid)
	}
	w.Source, w.Created, w.CreatedBy = "console", now, by
	cj, _ := json.Marshal(nonNil(w.Checks))
	lj, _ := json.Marshal(w.Labels)
	if w.Labels == nil {
		lj = []byte("{}")
	}
	hj, _ := json.Marshal(nonNil(w.Hosts))
	var starts, ends any
	if !w.Start.IsZero() {
		starts, ends = w.Start.UnixNano(), w.End.UnixNano()
	}
	res, err := db.ExecContext(ctx, `INSERT INTO maintenance_windows(name, starts, ends, schedule, duration, checks, labels, hosts, description, created, created_by)
		VALUES(?,?,?,?,?,?,?,?,?,?,?)`, w.Name, starts, ends, w.Schedule, int64(w.Duration), string(cj), string(lj), string(hj), w.Description, now.UnixNano(), by)
	if err != nil {
		return w, fmt.Errorf("store maintenance window: %w", err)
	}
	w.ID, _ = res.LastInsertId()
	return w, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Cancel ends a stored window now (a running one stops at once); false
// when there is no such window still to come or running.
func Cancel(ctx context.Context, db *sql.DB, id int64, now time.Time) (bool, error) {
	res, err := db.ExecContext(ctx, `UPDATE maintenance_windows SET cancelled = ? WHERE id = ? AND cancelled IS NULL AND (ends IS NULL OR ends > ?)`,
		now.UnixNano(), id, now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("cancel maintenance window: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}
