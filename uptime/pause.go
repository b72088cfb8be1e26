package uptime

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Pause is a check or heartbeat an admin paused: it runs no probe, its
// time counts as unknown (neither up nor down), and it alerts on
// nothing until resumed, or until Until when set.
type Pause struct {
	Check string    `json:"check"`
	Since time.Time `json:"since"`
	By    string    `json:"by"`
	Until time.Time `json:"until"` // zero: until resumed
}

// Active reports whether the pause still holds at t.
func (p Pause) Active(t time.Time) bool { return p.Until.IsZero() || t.Before(p.Until) }

// pauses is the tracker's copy of the check_pause table: the scheduler
// asks before every probe, so it is kept in memory and written through.
type pauses struct {
	mu      sync.Mutex
	m       map[string]Pause
	resumed map[string]time.Time
}

// control is a pause or resume, carried through the batcher so that it
// is ordered with the check's results and shares their accounting.
type control struct {
	pause  bool
	by     string
	until  time.Time
	result *Pause
}

// ErrPaused is returned when asked to pause what is paused, or resume
// what is not.
var ErrPaused = errors.New("already in that state")

// LoadPauses reads the paused checks; call it once before probes start.
func (t *Tracker) LoadPauses(ctx context.Context) error {
	rows, err := t.db.QueryContext(ctx, `SELECT check_name, since, paused_by, until FROM check_pause`)
	if err != nil {
		return fmt.Errorf("read pauses: %w", err)
	}
	defer rows.Close()
	m := map[string]Pause{}
	for rows.Next() {
		var p Pause
		var since int64
		var until sql.NullInt64
		if err := rows.Scan(&p.Check, &since, &p.By, &until); err != nil {
			return fmt.Errorf("read pauses: %w", err)
		}
		p.Since = time.Unix(0, since)
		if until.Valid {
			p.Until = time.Unix(0, until.Int64)
		}
		m[p.Check] = p
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read pauses: %w", err)
	}
	t.p.mu.Lock()
	t.p.m = m
	t.p.mu.Unlock()
	return nil
}

// Paused returns the check's pause when it holds at now.
func (t *Tracker) Paused(check string, now time.Time) (Pause, bool) {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	p, ok := t.p.m[check]
	if !ok || !p.Active(now) {
		return Pause{}, false
	}
	return p, true
}

// Pauses returns every pause still holding at now.
func (t *Tracker) Pauses(now time.Time) map[string]Pause {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	out := make(map[string]Pause, len(t.p.m))
	for k, p := range t.p.m {
		if p.Active(now) {
			out[k] = p
		}
	}
	return out
}

// Resumed is when the check was last resumed (by hand or at the end of
// a timed pause, as of now) since this tracker started; zero when it
// was not.
func (t *Tracker) Resumed(check string, now time.Time) time.Time {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if p, ok := t.p.m[check]; ok && !p.Until.IsZero() && !p.Active(now) {
		return p.Until
	}
	return t.p.resumed[check]
}

// Pause stops a check at `at` for by, until `until` (zero: until
// resumed). The time up to now is credited to its state; from now on its
// time is unknown and its results are ignored.
func (t *Tracker) Pause(ctx context.Context, check, by string, at, until time.Time) (Pause, error) {
	c := &control{pause: true, by: by, until: until}
	if _, err := t.Observe(ctx, Observation{Check: check, Time: at, ctl: c}); err != nil {
		return Pause{}, err
	}
	if c.result == nil {
		return Pause{}, ErrPaused
	}
	return *c.result, nil
}

// Resume ends a check's pause at `at`: the paused time counts as
// unknown, and probes count again.
func (t *Tracker) Resume(ctx context.Context, check string, at time.Time) error {
	c := &control{}
	if _, err := t.Observe(ctx, Observation{Check: check, Time: at, ctl: c}); err != nil {
		return err
	}
	if c.result == nil {
		return ErrPaused
	}
	return nil
}

// pausedAt tells apply whether to ignore a result; a pause that ran out
// before it is ended first, at its end.
func (t *Tracker) pausedAt(ctx context.Context, q *queries, check string, at time.Time) (bool, error) {
	t.p.mu.Lock()
	p, ok := t.p.m[check]
	t.p.mu.Unlock()
	if !ok {
		return false, nil
	}
	if p.Active(at) {
		return true, nil
	}
	_, err := t.applyControl(ctx, q, Observation{Check: check, Time: p.Until, ctl: &control{}})
	return false, err
}

// applyControl pauses or resumes inside the batch's transaction; the
// memory follows once the transaction commits.
func (t *Tracker) applyControl(ctx context.Context, q *queries, o Observation) (*Change, error) {
	c := o.ctl
	c.result = nil
	var since int64
	var until sql.NullInt64
	err := q.tx.QueryRowContext(ctx, `SELECT since, until FROM check_pause WHERE check_name = ?`, o.Check).Scan(&since, &until)
	paused := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read pause: %w", err)
	}
	if paused && until.Valid && o.Time.UnixNano() >= until.Int64 && c.pause {
		paused = false // ran out: pausing again starts anew
	}
	if c.pause == paused {
		return nil, nil // nothing to do: c.result stays nil
	}
	st, err := q.load(ctx, o.Check)
	if err != nil {
		return nil, err
	}
	a := &accounts{t: t, check: o.Check}
	if c.pause {
		if st.known {
			from := st.last
			if st.pending != Unknown {
				from = st.pendingSince
			}
			if gap := t.cfg.MaxGap(o.Check); o.Time.Sub(st.last) > gap {
				a.credit(from, st.last.Add(gap), st.status)
				a.credit(st.last.Add(gap), o.Time, Unknown)
			} else {
				a.credit(from, o.Time, st.status)
			}
			st.last, st.pending, st.streak = maxTime(st.last, o.Time), Unknown, 0
		}
		var u any
		if !c.until.IsZero() {
			u = c.until.UnixNano()
		}
		if _, err := q.tx.ExecContext(ctx, `INSERT INTO check_pause(check_name, since, paused_by, until) VALUES(?,?,?,?)
			ON CONFLICT(check_name) DO UPDATE SET since = excluded.since, paused_by = excluded.paused_by, until = excluded.until`,
			o.Check, o.Time.UnixNano(), c.by, u); err != nil {
			return nil, fmt.Errorf("pause: %w", err)
		}
		c.result = &Pause{Check: o.Check, Since: o.Time, By: c.by, Until: c.until}
	} else {
		if st.known {
			// The paused time was nobody's: unknown.
			a.credit(st.last, o.Time, Unknown)
			st.last, st.pending, st.streak = maxTime(st.last, o.Time), Unknown, 0
		}
		if _, err := q.tx.ExecContext(ctx, `DELETE FROM check_pause WHERE check_name = ?`, o.Check); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		c.result = &Pause{Check: o.Check}
	}
	if st.known {
		if err := a.flush(ctx, q); err != nil {
			return nil, err
		}
		if err := q.save(ctx, o.Check, st); err != nil {
			return nil, err
		}
	}
	res, check, at, pause := *c.result, o.Check, o.Time, c.pause
	q.after = append(q.after, func() {
		t.p.mu.Lock()
		defer t.p.mu.Unlock()
		if t.p.m == nil {
			t.p.m = map[string]Pause{}
		}
		if pause {
			t.p.m[check] = res
			return
		}
		delete(t.p.m, check)
		if t.p.resumed == nil {
			t.p.resumed = map[string]time.Time{}
		}
		t.p.resumed[check] = at
	})
	return nil, nil
}
