// Package uptime turns probe results into honest up/down states and
// time-weighted uptime. A check goes down only after FailThreshold
// consecutive failures and up after SuccessThreshold successes; once
// confirmed, a state counts from its first probe. Degraded is not
// downtime. Time inside a maintenance window, and time the loghost was not
// watching (a gap longer than MaxGap between probes), is left out of the
// denominator rather than counted as down. Time is kept per day, days as
// the configured time zone draws them.
//
// A confirmed change, the incident it opens or resolves, and the outbox
// row that will notify someone commit in one transaction. Results are
// committed in batches (see Config.BatchWindow), and Observe answers only
// once its result is durable.
package uptime

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// Status is a check's state.
type Status int

// Statuses, in the order of their severity.
const (
	Unknown Status = iota
	Up
	Degraded
	Down
)

func (s Status) String() string {
	return [...]string{"unknown", "up", "degraded", "down"}[s]
}

// Observation is one probe result, as the tracker needs it.
type Observation struct {
	Check    string
	Time     time.Time
	OK       bool // every condition passed
	Degraded bool // a warn condition failed
	Duration time.Duration
	Detail   string // why it failed, for the incident and the alert
	// Error and Conditions, when set (a probe's result), are kept as the
	// check's last result, and with its failures, for the console.
	Error      string
	Conditions []Condition

	// Verdict: the state was decided by the caller (several vantages'
	// quorum), not by this one result: it takes effect at once, without
	// the thresholds. A change worse than up counts from the pending
	// failure a Suspect observation noted, when there is one.
	Verdict bool
	// Suspect: a failure is being confirmed elsewhere. The check keeps its
	// state, but an outage confirmed next counts from here (the first
	// failing observation), not from its confirmation.
	Suspect bool
	// NoSample: not a probe's result (a vantage went silent): no sample,
	// no last result.
	NoSample bool

	ctl *control // a pause or resume (Tracker.Pause), not a result
}

// Condition is one condition's verdict in a result.
type Condition struct {
	Condition string `json:"condition"`
	OK        bool   `json:"ok"`
	Warn      bool   `json:"warn,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// Window is a maintenance window over some checks (none: all): one-off
// (Start, End) or recurring (Every gives each start, Duration the length).
type Window struct {
	Start, End time.Time
	Every      Schedule
	Duration   time.Duration
	Checks     map[string]bool
}

// Schedule gives the next start after a time (a parsed cron expression).
type Schedule interface {
	Next(time.Time) time.Time
}

func (w Window) covers(check string) bool { return len(w.Checks) == 0 || w.Checks[check] }

// spans returns the window's occurrences that overlap [from, to).
func (w Window) spans(from, to time.Time) [][2]time.Time {
	if w.Every == nil {
		if w.End.After(from) && to.After(w.Start) {
			return [][2]time.Time{{w.Start, w.End}}
		}
		return nil
	}
	var out [][2]time.Time
	for s := w.Every.Next(from.Add(-w.Duration)); s.Before(to) && len(out) < 1000; s = w.Every.Next(s) {
		if e := s.Add(w.Duration); e.After(from) {
			out = append(out, [2]time.Time{s, e})
		}
	}
	return out
}

// Config configures a Tracker.
type Config struct {
	FailThreshold int // consecutive failures before down (2)
	// FailThresholdFor overrides FailThreshold per check (a missed backup
	// is down at once); 0 keeps the default.
	FailThresholdFor func(check string) int
	// SuccessThresholdFor overrides SuccessThreshold per check.
	SuccessThresholdFor func(check string) int
	SuccessThreshold    int // consecutive successes before up again (1)
	// MaxGap is how long after a probe the next one must come before the
	// time between counts as unknown (the loghost was not running).
	MaxGap      func(check string) time.Duration
	Public      func(check string) bool
	Maintenance []Window
	Location    *time.Location
	KeepDays    int // daily rows kept (800)
	KeepSamples time.Duration
	// BatchWindow is how long a result may wait for others to share its
	// transaction: with synchronous=FULL every commit is an fsync, and
	// 1,000 checks every 30 s are 33 commits a second one at a time.
	// 0 waits for nobody: results share a transaction only when they
	// arrive while another commits. Observe returns after the commit
	// either way.
	BatchWindow time.Duration
	MaxBatch    int // results in one transaction at most (256)
}

// Tracker keeps checks' states in the store's database.
type Tracker struct {
	db  *sql.DB
	cfg Config
	b   batcher
	p   pauses
	// maint is Config.Maintenance, replaced by SetMaintenance when
	// windows are made or ended in the console.
	maint atomic.Pointer[[]Window]
}

// New returns a tracker writing to db (the store's write handle).
func New(db *sql.DB, cfg Config) *Tracker {
	if cfg.FailThreshold < 1 {
		cfg.FailThreshold = 2
	}
	if cfg.SuccessThreshold < 1 {
		cfg.SuccessThreshold = 1
	}
	if cfg.MaxGap == nil {
		cfg.MaxGap = func(string) time.Duration { return 3 * time.Minute }
	}
	if cfg.Public == nil {
		cfg.Public = func(string) bool { return false }
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.KeepDays == 0 {
		cfg.KeepDays = 800
	}
	if cfg.KeepSamples == 0 {
		cfg.KeepSamples = 8 * 24 * time.Hour
	}
	if cfg.MaxBatch < 1 {
		cfg.MaxBatch = 256
	}
	t := &Tracker{db: db, cfg: cfg, b: batcher{kick: make(chan struct{}, 1)}}
	ws := cfg.Maintenance
	t.maint.Store(&ws)
	return t
}

// SetMaintenance replaces the maintenance windows results are counted
// against from now on (time already counted stays as it was).
func (t *Tracker) SetMaintenance(ws []Window) {
	t.maint.Store(&ws)
}

type state struct {
	status       Status
	since        time.Time
	last         time.Time // the last probe
	pending      Status    // a change waiting for its threshold, or Unknown
	pendingSince time.Time
	streak       int
	detail       string
	known        bool
}

// Change is a confirmed change of state.
type Change struct {
	Check    string    `json:"check"`
	From     Status    `json:"-"`
	To       Status    `json:"-"`
	FromName string    `json:"from"`
	ToName   string    `json:"to"`
	Since    time.Time `json:"since"` // the first probe that showed it
	Detail   string    `json:"detail,omitempty"`
	Incident int64     `json:"incident,omitempty"`
	Public   bool      `json:"public"`
}

// apply folds one probe result into the check's state inside tx and
// returns the change it confirmed, if any. The caller commits.
func (t *Tracker) apply(ctx context.Context, q *queries, o Observation) (*Change, error) {
	if o.ctl != nil {
		return t.applyControl(ctx, q, o)
	}
	if paused, err := t.pausedAt(ctx, q, o.Check, o.Time); paused || err != nil {
		return nil, err // a paused check's results count for nothing
	}
	st, err := q.load(ctx, o.Check)
	if err != nil {
		return nil, err
	}
	obs := Down
	switch {
	case o.OK && o.Degraded:
		obs = Degraded
	case o.OK:
		obs = Up
	}
	a := &accounts{t: t, check: o.Check}
	var change *Change
	if !st.known {
		st = state{status: Unknown, since: o.Time, last: o.Time, known: true}
	}
	if o.Time.Before(st.last) {
		return nil, nil // an old result after a newer one: nothing to learn
	}
	if gap := t.cfg.MaxGap(o.Check); o.Time.Sub(st.last) > gap {
		// Nobody was watching: whatever was pending is dropped.
		from := st.last
		if st.pending != Unknown {
			from = st.pendingSince
		}
		a.credit(from, st.last.Add(gap), st.status)
		a.credit(st.last.Add(gap), o.Time, Unknown)
		if err := q.gap(ctx, o.Check, st.last.Add(gap), o.Time); err != nil {
			return nil, err
		}
		st.pending, st.streak, st.last = Unknown, 0, o.Time
	}
	accounted := st.last
	if st.pending != Unknown {
		accounted = st.pendingSince
	}
	need := func(to Status) int {
		switch {
		case to == Down:
			if t.cfg.FailThresholdFor != nil {
				if n := t.cfg.FailThresholdFor(o.Check); n > 0 {
					return n
				}
			}
			return t.cfg.FailThreshold
		case st.status == Down:
			if t.cfg.SuccessThresholdFor != nil {
				if n := t.cfg.SuccessThresholdFor(o.Check); n > 0 {
					return n
				}
			}
			return t.cfg.SuccessThreshold
		}
		return 1 // up ↔ degraded, and the first state of a check
	}
	if o.Verdict {
		need = func(Status) int { return 1 }
	}
	switch {
	case o.Suspect:
		if obs != st.status && st.pending == Unknown {
			a.credit(accounted, o.Time, st.status)
			st.pending, st.pendingSince, st.streak = obs, o.Time, 0
		}
	case obs == st.status:
		a.credit(accounted, o.Time, st.status)
		st.pending, st.streak = Unknown, 0
	case o.Verdict && st.pending != Unknown && obs != Up:
		// A suspected failure confirmed as this: it counts from the
		// failure, not from the confirmation.
		a.credit(st.pendingSince, o.Time, obs)
		change = &Change{Check: o.Check, From: st.status, To: obs, Since: st.pendingSince, Detail: o.Detail, Public: t.cfg.Public(o.Check)}
		st.status, st.since = obs, st.pendingSince
		st.pending, st.streak = Unknown, 0
	default:
		if st.pending != obs {
			// A new candidate: time so far belongs to the old state.
			a.credit(accounted, o.Time, st.status)
			st.pending, st.pendingSince, st.streak = obs, o.Time, 0
		}
		st.streak++
		if st.streak >= need(obs) {
			a.credit(st.pendingSince, o.Time, obs)
			change = &Change{Check: o.Check, From: st.status, To: obs, Since: st.pendingSince, Detail: o.Detail, Public: t.cfg.Public(o.Check)}
			st.status, st.since = obs, st.pendingSince
			st.pending, st.streak = Unknown, 0
		}
	}
	st.last = o.Time
	if !o.OK && !o.Suspect {
		st.detail = o.Detail
	}
	if err := a.flush(ctx, q); err != nil {
		return nil, err
	}
	if err := q.save(ctx, o.Check, st); err != nil {
		return nil, err
	}
	if !o.NoSample && !o.Suspect {
		if err := q.record(ctx, o); err != nil {
			return nil, err
		}
	}
	if change != nil {
		if err := t.recordChange(ctx, q, change, o.Time); err != nil {
			return nil, err
		}
	}
	return change, nil
}

// record keeps a probe's result: its sample for the graph, and as the
// check's last result (and a failure) for the console.
func (q *queries) record(ctx context.Context, o Observation) error {
	if _, err := q.exec(ctx, qSample, o.Check, o.Time.UnixNano(), o.OK, o.Degraded, o.Duration.Microseconds()); err != nil {
		return fmt.Errorf("uptime sample: %w", err)
	}
	if o.Error != "" || o.Conditions != nil {
		cj := ""
		if len(o.Conditions) > 0 {
			b, _ := json.Marshal(o.Conditions)
			cj = string(b)
		}
		args := []any{o.Check, o.Time.UnixNano(), o.OK, o.Degraded, o.Duration.Microseconds(), o.Error, cj}
		if _, err := q.exec(ctx, qLast, args...); err != nil {
			return fmt.Errorf("uptime last result: %w", err)
		}
		if !o.OK || o.Degraded || (o.Verdict && o.Error != "") {
			if _, err := q.exec(ctx, qResult, args...); err != nil {
				return fmt.Errorf("uptime result: %w", err)
			}
		}
	}
	return nil
}

// recordChange opens or resolves the check's incident and queues the
// notification, in the transaction of the state change itself.
func (t *Tracker) recordChange(ctx context.Context, q *queries, c *Change, now time.Time) error {
	c.FromName, c.ToName = c.From.String(), c.To.String()
	switch {
	case c.To == Down:
		res, err := q.exec(ctx, qOpenIncident, c.Check, c.Check+" is down", c.Public, c.Since.UnixNano())
		if err != nil {
			return fmt.Errorf("open incident: %w", err)
		}
		c.Incident, _ = res.LastInsertId()
		if _, err := q.exec(ctx, qIncidentUpdate, c.Incident, now.UnixNano(), "investigating", "The check failed; we are looking into it."); err != nil {
			return fmt.Errorf("incident update: %w", err)
		}
	case c.From == Down:
		var id int64
		err := q.queryRow(ctx, qFindIncident, c.Check).Scan(&id)
		if err == nil {
			c.Incident = id
			if _, err := q.exec(ctx, qResolveIncident, c.Since.UnixNano(), c.Check); err != nil {
				return fmt.Errorf("resolve incident: %w", err)
			}
			if _, err := q.exec(ctx, qIncidentUpdate, id, now.UnixNano(), "resolved", "Recovered automatically."); err != nil {
				return fmt.Errorf("incident update: %w", err)
			}
		} else if err != sql.ErrNoRows {
			return fmt.Errorf("find incident: %w", err)
		}
	}
	payload, _ := json.Marshal(c)
	if _, err := q.exec(ctx, qOutbox, now.UnixNano(), "check_"+c.ToName, string(payload)); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if c.Public && c.Incident > 0 && (c.To == Down || c.From == Down) {
		ev := "opened"
		if c.From == Down {
			ev = "resolved"
		}
		if err := StatusNotice(ctx, q.tx, now, c.Incident, ev); err != nil {
			return err
		}
	}
	return nil
}

// KindStatusNotice is the outbox kind of what a public incident's
// status page subscribers are told: its opening, each public update,
// its end (package subscribe sends them).
const KindStatusNotice = "status_notice"

// StatusNotice queues a notice of a public incident's event (opened,
// update, resolved) in tx, beside the change that causes it.
func StatusNotice(ctx context.Context, tx *sql.Tx, now time.Time, incident int64, event string) error {
	p, _ := json.Marshal(map[string]any{"incident": incident, "event": event})
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), KindStatusNotice, string(p)); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

func (q *queries) load(ctx context.Context, check string) (state, error) {
	var st state
	var status, pending int
	var since, last, pendingSince int64
	err := q.queryRow(ctx, qLoadState, check).
		Scan(&status, &since, &last, &pending, &pendingSince, &st.streak, &st.detail)
	if err == sql.ErrNoRows {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("uptime state: %w", err)
	}
	st.status, st.pending = Status(status), Status(pending)
	st.since, st.last, st.pendingSince = time.Unix(0, since), time.Unix(0, last), time.Unix(0, pendingSince)
	st.known = true
	return st, nil
}

func (q *queries) save(ctx context.Context, check string, st state) error {
	_, err := q.exec(ctx, qSaveState,
		check, int(st.status), st.since.UnixNano(), st.last.UnixNano(), int(st.pending), st.pendingSince.UnixNano(), st.streak, st.detail)
	if err != nil {
		return fmt.Errorf("uptime state: %w", err)
	}
	return nil
}

// accounts gathers per-day milliseconds before one write per day. A
// result rarely touches more than one day, so a short slice beats a map.
type accounts struct {
	t     *Tracker
	check string
	days  []dayAccount
	// debit: credit takes time away instead (Fill moves unknown time
	// to what late results say it was).
	debit bool
}

type dayAccount struct {
	day string
	ms  [5]int64 // up, degraded, down, unknown, maintenance
}

const colMaintenance = 4

// credit adds [from, to) to status, cut at day boundaries and
// maintenance windows.
func (a *accounts) credit(from, to time.Time, s Status) {
	if !to.After(from) {
		return
	}
	// Maintenance first: the parts inside a window go there.
	for _, w := range *a.t.maint.Load() {
		if !w.covers(a.check) {
			continue
		}
		for _, sp := range w.spans(from, to) {
			ms, me := maxTime(from, sp[0]), minTime(to, sp[1])
			a.credit(from, ms, s)
			a.addDays(ms, me, colMaintenance)
			a.credit(me, to, s)
			return
		}
	}
	col := 3 // Unknown
	switch s {
	case Up:
		col = 0
	case Degraded:
		col = 1
	case Down:
		col = 2
	}
	a.addDays(from, to, col)
}

func (a *accounts) addDays(from, to time.Time, col int) {
	loc := a.t.cfg.Location
	for from.Before(to) {
		local := from.In(loc)
		y, m, d := local.Date()
		next := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		end := minTime(to, next)
		day := local.Format("2006-01-02")
		i := len(a.days) - 1
		for ; i >= 0 && a.days[i].day != day; i-- {
		}
		if i < 0 {
			a.days = append(a.days, dayAccount{day: day})
			i = len(a.days) - 1
		}
		ms := end.Sub(from).Milliseconds()
		if a.debit {
			ms = -ms
		}
		a.days[i].ms[col] += ms
		from = end
	}
}

func (a *accounts) flush(ctx context.Context, q *queries) error {
	for _, d := range a.days {
		v := d.ms
		if _, err := q.exec(ctx, qDaily, a.check, d.day, v[0], v[1], v[2], v[3], v[4]); err != nil {
			return fmt.Errorf("uptime daily: %w", err)
		}
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Prune drops daily rows older than KeepDays and samples older than
// KeepSamples.
func (t *Tracker) Prune(ctx context.Context, now time.Time) error {
	day := now.In(t.cfg.Location).AddDate(0, 0, -t.cfg.KeepDays).Format("2006-01-02")
	if _, err := t.db.ExecContext(ctx, `DELETE FROM uptime_daily WHERE day < ?`, day); err != nil {
		return fmt.Errorf("prune uptime: %w", err)
	}
	if _, err := t.db.ExecContext(ctx, `DELETE FROM check_samples WHERE time < ?`, now.Add(-t.cfg.KeepSamples).UnixNano()); err != nil {
		return fmt.Errorf("prune samples: %w", err)
	}
	if _, err := t.db.ExecContext(ctx, `DELETE FROM uptime_gaps WHERE end < ?`, now.Add(-t.cfg.KeepSamples).UnixNano()); err != nil {
		return fmt.Errorf("prune gaps: %w", err)
	}
	if _, err := t.db.ExecContext(ctx, `DELETE FROM check_results WHERE time < ?`, now.Add(-t.cfg.KeepSamples).UnixNano()); err != nil {
		return fmt.Errorf("prune results: %w", err)
	}
	return nil
}

// AddUpdate posts an admin's update to an incident; status "resolved"
// also resolves it. It reports false when there is no such incident.
func (t *Tracker) AddUpdate(ctx context.Context, id int64, status, message string, now time.Time) (bool, error) {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("incident update: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO incident_updates(incident_id, time, status, message)
		SELECT id, ?, ?, ? FROM incidents WHERE id = ?`, now.UnixNano(), status, message, id)
	if err != nil {
		return false, fmt.Errorf("incident update: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	ev := "update"
	if status == "resolved" {
		res, err := tx.ExecContext(ctx, `UPDATE incidents SET resolved = ? WHERE id = ? AND resolved IS NULL`, now.UnixNano(), id)
		if err != nil {
			return false, fmt.Errorf("resolve incident: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			ev = "resolved"
		}
	}
	var public bool
	if err := tx.QueryRowContext(ctx, `SELECT public FROM incidents WHERE id = ?`, id).Scan(&public); err != nil {
		return false, fmt.Errorf("incident update: %w", err)
	}
	if public {
		if err := StatusNotice(ctx, tx, now, id, ev); err != nil {
			return false, err
		}
	}
	return true, tx.Commit()
}
