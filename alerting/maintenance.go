package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaintenanceFunc reports whether a maintenance window covers an alert at
// a time: check is the check or heartbeat it is about ("" for rule
// alerts and other sources), labels are the alert's labels (host,
// service, the check's configured labels). The loghost builds it from
// the same windows the uptime tracker leaves out of uptime.
type MaintenanceFunc func(check string, labels map[string]string, at time.Time) bool

// mutedMaintenance is what an outbox row muted by a window says; the
// sweep looks for it when windows end.
const mutedMaintenance = "maintenance"

// resentKey marks a check_down row re-queued when its window ended:
// it is the same state change, so flap detection must not count it again.
const resentKey = "resent_after_maintenance"

// inMaintenance is why a row is muted by a window now ("" if it is not).
func (d *Dispatcher) inMaintenance(r row, now time.Time) string {
	if d.cfg.Maintenance == nil {
		return ""
	}
	if d.cfg.Maintenance(r.labels["check"], r.labels, now) {
		return mutedMaintenance
	}
	return ""
}

func requeued(payload []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return false
	}
	_, ok := m[resentKey]
	return ok
}

// maintenanceEnded looks at the outages a window muted: once no window
// covers them any more, one still down is queued again (the same
// incident, so it threads and its recovery follows it), and one that
// recovered meanwhile is closed without a word.
func (d *Dispatcher) maintenanceEnded(ctx context.Context, now time.Time) error {
	if d.cfg.Maintenance == nil {
		return nil
	}
	rows, err := d.db.QueryContext(ctx, `SELECT o.id, o.kind, o.payload, o.labels FROM outbox o WHERE o.suppressed = ? AND `+openingRow+` ORDER BY o.id LIMIT 1000`, mutedMaintenance)
	if err != nil {
		return fmt.Errorf("read muted outages: %w", err)
	}
	type muted struct {
		id      int64
		kind    string
		payload []byte
		labels  Labels
	}
	var due []muted
	for rows.Next() {
		var m muted
		var payload, labels string
		if err := rows.Scan(&m.id, &m.kind, &payload, &labels); err != nil {
			rows.Close()
			return fmt.Errorf("read muted outages: %w", err)
		}
		m.payload = []byte(payload)
		json.Unmarshal([]byte(labels), &m.labels)
		var c change
		json.Unmarshal(m.payload, &c)
		if !d.cfg.Maintenance(c.Check, m.labels, now) {
			due = append(due, m)
		}
	}
	rows.Close()
	for _, m := range due {
		if err := d.resend(ctx, m.id, m.kind, m.payload, now); err != nil {
			return err
		}
	}
	return nil
}

func (d *Dispatcher) resend(ctx context.Context, id int64, kind string, payload []byte, now time.Time) error {
	var c change
	if err := json.Unmarshal(payload, &c); err != nil {
		return d.closeMuted(ctx, d.db, id, "maintenance (ended; unreadable payload)")
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("maintenance end: %w", err)
	}
	defer tx.Rollback()
	firing := true
	if c.Incident > 0 {
		var resolved sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT resolved FROM incidents WHERE id = ?`, c.Incident).Scan(&resolved)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("maintenance end: %w", err)
		}
		firing = err == nil && !resolved.Valid
	}
	var status int
	if err := tx.QueryRowContext(ctx, `SELECT status FROM check_state WHERE check_name = ?`, c.Check).Scan(&status); kind == "check_down" && err == nil && status != statusDown {
		firing = false
	}
	note := "maintenance (ended; recovered during the window)"
	if kind != "check_down" {
		note = "maintenance (ended; resolved during the window)"
	}
	if firing {
		var p map[string]any
		json.Unmarshal(payload, &p)
		p[resentKey] = true
		if kind == "check_down" {
			p["detail"] = c.Detail + " (still down when the maintenance window ended)"
		}
		pj, _ := json.Marshal(p)
		res, err := tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), kind, string(pj))
		if err != nil {
			return fmt.Errorf("maintenance end: %w", err)
		}
		n, _ := res.LastInsertId()
		note = fmt.Sprintf("maintenance (ended; still down, sent as #%d)", n)
	}
	if err := d.closeMuted(ctx, tx, id, note); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("maintenance end: %w", err)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (d *Dispatcher) closeMuted(ctx context.Context, db execer, id int64, note string) error {
	if _, err := db.ExecContext(ctx, `UPDATE outbox SET suppressed = ?, last_error = ? WHERE id = ?`, note, "suppressed: "+note, id); err != nil {
		return fmt.Errorf("maintenance end: %w", err)
	}
	return nil
}
