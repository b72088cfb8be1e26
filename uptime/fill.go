package uptime

import (
	"context"
	"fmt"
	"time"
)

// Span is a stretch of a check's time in one state.
type Span struct {
	From, To time.Time
	Status   Status
}

// gap records [from, to) as time nobody watched, counted unknown, so that
// results that arrive late (from a vantage that could not reach the
// loghost) can fill it later, once.
func (q *queries) gap(ctx context.Context, check string, from, to time.Time) error {
	if !to.After(from) {
		return nil
	}
	if _, err := q.tx.ExecContext(ctx, `INSERT OR REPLACE INTO uptime_gaps(check_name, start, end) VALUES(?,?,?)`,
		check, from.UnixNano(), to.UnixNano()); err != nil {
		return fmt.Errorf("uptime gap: %w", err)
	}
	return nil
}

// Gaps returns the check's unknown stretches that end after since and
// have not been filled, oldest first.
func (t *Tracker) Gaps(ctx context.Context, check string, since time.Time) ([]Span, error) {
	rows, err := t.db.QueryContext(ctx, `SELECT start, end FROM uptime_gaps WHERE check_name = ? AND end > ? ORDER BY start`, check, since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("uptime gaps: %w", err)
	}
	defer rows.Close()
	var out []Span
	for rows.Next() {
		var a, b int64
		if err := rows.Scan(&a, &b); err != nil {
			return nil, fmt.Errorf("uptime gaps: %w", err)
		}
		out = append(out, Span{From: time.Unix(0, a), To: time.Unix(0, b), Status: Unknown})
	}
	return out, rows.Err()
}

// Fill gives the parts of the check's gaps that spans cover to the spans'
// states: late results tell what nobody could see at the time. It moves
// time in the daily figures from unknown to those states and consumes
// that part of the gap, so the same time is never filled twice. It
// changes no state and opens or resolves no incident: those are
// decided when they happen, never after the fact. samples join the
// response-time graph. It returns how much time it filled.
func (t *Tracker) Fill(ctx context.Context, check string, spans []Span, samples []Sample) (time.Duration, error) {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("uptime fill: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT start, end FROM uptime_gaps WHERE check_name = ? ORDER BY start`, check)
	if err != nil {
		return 0, fmt.Errorf("uptime fill: %w", err)
	}
	var gaps [][2]time.Time
	for rows.Next() {
		var a, b int64
		if err := rows.Scan(&a, &b); err != nil {
			rows.Close()
			return 0, fmt.Errorf("uptime fill: %w", err)
		}
		gaps = append(gaps, [2]time.Time{time.Unix(0, a), time.Unix(0, b)})
	}
	rows.Close()
	a := &accounts{t: t, check: check}
	var filled time.Duration
	for _, g := range gaps {
		// What of the gap stays unfilled, in pieces.
		rest := [][2]time.Time{g}
		touched := false
		for _, sp := range spans {
			if sp.Status == Unknown {
				continue
			}
			var next [][2]time.Time
			for _, r := range rest {
				from, to := maxTime(r[0], sp.From), minTime(r[1], sp.To)
				if !to.After(from) {
					next = append(next, r)
					continue
				}
				a.debit = false
				a.credit(from, to, sp.Status)
				a.debit = true
				a.credit(from, to, Unknown)
				filled += to.Sub(from)
				touched = true
				if from.After(r[0]) {
					next = append(next, [2]time.Time{r[0], from})
				}
				if r[1].After(to) {
					next = append(next, [2]time.Time{to, r[1]})
				}
			}
			rest = next
		}
		if !touched {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM uptime_gaps WHERE check_name = ? AND start = ?`, check, g[0].UnixNano()); err != nil {
			return 0, fmt.Errorf("uptime fill: %w", err)
		}
		for _, r := range rest {
			if r[1].Sub(r[0]) < time.Millisecond {
				continue // a rounding crumb
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO uptime_gaps(check_name, start, end) VALUES(?,?,?)`,
				check, r[0].UnixNano(), r[1].UnixNano()); err != nil {
				return 0, fmt.Errorf("uptime fill: %w", err)
			}
		}
	}
	a.debit = false
	for _, d := range a.days {
		v := d.ms
		if _, err := tx.ExecContext(ctx, querySQL(qDaily), check, d.day, v[0], v[1], v[2], v[3], v[4]); err != nil {
			return 0, fmt.Errorf("uptime fill: %w", err)
		}
	}
	for _, s := range samples {
		// OR IGNORE: a sample already there (a result that came in time)
		// stays as it was.
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO check_samples(check_name, time, ok, degraded, duration_us) VALUES(?,?,?,?,?)`,
			check, s.Time.UnixNano(), s.OK, s.Degraded, s.Duration.Microseconds()); err != nil {
			return 0, fmt.Errorf("uptime fill: %w", err)
		}
	}
	return filled, tx.Commit()
}
