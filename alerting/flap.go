package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// FlapDetector finds flapping checks as Nagios does: over the last 21
// states, each change of state counts with a weight rising from 0.8 (the
// oldest) to 1.2 (the newest); the weighted sum over the 20 possible
// changes is the percent state change. A check starts flapping at High
// percent and stops below Low (between, it keeps what it was).
type FlapDetector struct {
	High, Low float64 // percent; Nagios' defaults are 50 and 25
}

// FlapHistory is how many states count.
const FlapHistory = 21

// Percent is the weighted percent state change of states, oldest first;
// only the last FlapHistory count.
func (f FlapDetector) Percent(states []int) float64 {
	if len(states) > FlapHistory {
		states = states[len(states)-FlapHistory:]
	}
	// Weights belong to positions in a full history, so a short one
	// counts its changes as the newest ones.
	off := FlapHistory - len(states)
	sum := 0.0
	for i := 1; i < len(states); i++ {
		if states[i] != states[i-1] {
			pos := off + i - 1 // 0 .. 19
			sum += 0.8 + 0.4*float64(pos)/float64(FlapHistory-2)
		}
	}
	return sum * 100 / float64(FlapHistory-1)
}

// Next is whether a check is flapping after a percent, given whether it
// was.
func (f FlapDetector) Next(was bool, pct float64) bool {
	if was {
		return pct >= f.Low
	}
	return pct >= f.High
}

// recentStates reads a check's last probe states (0 ok, 1 degraded, 2
// failed), oldest first.
func recentStates(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, check string) ([]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT ok, degraded FROM check_samples WHERE check_name = ? ORDER BY time DESC LIMIT ?`, check, FlapHistory)
	if err != nil {
		return nil, fmt.Errorf("read samples: %w", err)
	}
	defer rows.Close()
	var st []int
	for rows.Next() {
		var ok, degraded bool
		if err := rows.Scan(&ok, &degraded); err != nil {
			return nil, fmt.Errorf("read samples: %w", err)
		}
		s := 2
		if ok {
			s = 0
			if degraded {
				s = 1
			}
		}
		st = append(st, s)
	}
	for i, j := 0, len(st)-1; i < j; i, j = i+1, j-1 {
		st[i], st[j] = st[j], st[i]
	}
	return st, rows.Err()
}

// flapStep updates a check's flapping state on one of its state changes.
// While it flaps, its state changes are suppressed; started says this
// change began it (the caller queues "flapping started"); when it stops
// here, flap_stop is queued and the change goes out.
func (d *Dispatcher) flapStep(ctx context.Context, tx *sql.Tx, check string, now time.Time) (flapping, started bool, pct float64, err error) {
	st, err := recentStates(ctx, tx, check)
	if err != nil {
		return false, false, 0, err
	}
	pct = d.cfg.Flap.Percent(st)
	var since int64
	err = tx.QueryRowContext(ctx, `SELECT since FROM check_flap WHERE check_name = ?`, check).Scan(&since)
	was := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, false, 0, fmt.Errorf("read flapping: %w", err)
	}
	is, err := d.cfg.Flap.Next(was, pct), nil
	switch {
	case is && !was:
		_, err = tx.ExecContext(ctx, `INSERT INTO check_flap(check_name, since, percent) VALUES(?,?,?)`, check, now.UnixNano(), pct)
	case is:
		_, err = tx.ExecContext(ctx, `UPDATE check_flap SET percent = ? WHERE check_name = ?`, pct, check)
	case was:
		err = d.flapStop(ctx, tx, check, time.Unix(0, since), pct, now)
	}
	if err != nil {
		return false, false, 0, fmt.Errorf("record flapping: %w", err)
	}
	return is, is && !was, pct, nil
}

// flapStop ends a check's flapping and queues the notice with its state.
func (d *Dispatcher) flapStop(ctx context.Context, tx *sql.Tx, check string, since time.Time, pct float64, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM check_flap WHERE check_name = ?`, check); err != nil {
		return err
	}
	status := statusUnknown
	tx.QueryRowContext(ctx, `SELECT status FROM check_state WHERE check_name = ?`, check).Scan(&status)
	p, _ := json.Marshal(change{Check: check, To: statusName(status), Since: since, Percent: pct})
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), "flap_stop", string(p))
	return err
}

// flapCalm looks at the flapping checks: one that calmed down stops
// flapping even when it changes state no more (no row would tell).
func (d *Dispatcher) flapCalm(ctx context.Context, now time.Time) error {
	rows, err := d.db.QueryContext(ctx, `SELECT check_name, since FROM check_flap`)
	if err != nil {
		return fmt.Errorf("read flapping: %w", err)
	}
	type fl struct {
		check string
		since int64
	}
	var all []fl
	for rows.Next() {
		var f fl
		if err := rows.Scan(&f.check, &f.since); err != nil {
			rows.Close()
			return fmt.Errorf("read flapping: %w", err)
		}
		all = append(all, f)
	}
	rows.Close()
	for _, f := range all {
		st, err := recentStates(ctx, d.db, f.check)
		if err != nil {
			return err
		}
		pct := d.cfg.Flap.Percent(st)
		if d.cfg.Flap.Next(true, pct) {
			continue
		}
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("stop flapping: %w", err)
		}
		if err := d.flapStop(ctx, tx, f.check, time.Unix(0, f.since), pct, now); err != nil {
			tx.Rollback()
			return fmt.Errorf("stop flapping: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("stop flapping: %w", err)
		}
	}
	return nil
}
