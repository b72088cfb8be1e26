package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Ack acknowledges an open incident for who: reminders and escalation
// stop. It reports false when there is no such open, unacknowledged
// incident. The API's POST /api/v1/incidents/{id}/ack calls it.
func Ack(ctx context.Context, db *sql.DB, incidentID int64, who string, now time.Time) (bool, error) {
	res, err := db.ExecContext(ctx, `UPDATE incidents SET acked = ?, acked_by = ? WHERE id = ? AND acked IS NULL AND resolved IS NULL`,
		now.UnixNano(), who, incidentID)
	if err != nil {
		return false, fmt.Errorf("acknowledge incident: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// remind queues, for each open and unacknowledged incident whose
// outage was announced, a reminder every repeat interval (at most repeat
// max of them) to the receivers that had the outage, and one escalation
// to the route's escalate_to once escalate_after has passed.
func (d *Dispatcher) remind(ctx context.Context, now time.Time) error {
	rows, err := d.db.QueryContext(ctx, `SELECT i.id, i.started, i.source, i.title, i.labels, o.id, o.payload, o.labels, coalesce(n.reminders, 0), coalesce(n.last, 0), n.escalated IS NOT NULL
		FROM incidents i
		JOIN outbox o ON o.id = (SELECT min(o.id) FROM outbox o WHERE json_valid(o.payload) AND json_extract(o.payload, '$.incident') = i.id AND `+openingRow+`)
		LEFT JOIN incident_notices n ON n.incident_id = i.id
		WHERE i.resolved IS NULL AND i.acked IS NULL AND o.sent IS NOT NULL AND o.suppressed = ''`)
	if err != nil {
		return fmt.Errorf("read open incidents: %w", err)
	}
	type open struct {
		id, outbox      int64
		started, last   time.Time
		payload, labels string
		source, title   string
		incLabels       string
		reminders       int
		escalated       bool
	}
	var all []open
	for rows.Next() {
		var o open
		var started, last int64
		if err := rows.Scan(&o.id, &started, &o.source, &o.title, &o.incLabels, &o.outbox, &o.payload, &o.labels, &o.reminders, &last, &o.escalated); err != nil {
			rows.Close()
			return fmt.Errorf("read open incidents: %w", err)
		}
		o.started = time.Unix(0, started)
		o.last = o.started
		if last > 0 {
			o.last = time.Unix(0, last)
		}
		all = append(all, o)
	}
	rows.Close()
	for _, o := range all {
		var l Labels
		json.Unmarshal([]byte(o.labels), &l)
		routes := d.cfg.Router.Match(l)
		var c change
		if o.source == "check" {
			json.Unmarshal([]byte(o.payload), &c)
		} else {
			c = change{Source: o.source, Title: o.title, Since: o.started.UTC(), Incident: o.id}
			json.Unmarshal([]byte(o.incLabels), &c.Labels)
		}
		var queue []string // kinds
		var escTo []string
		rt := routes[0]
		if rt.RepeatInterval > 0 && o.reminders < rt.RepeatMax && !now.Before(o.last.Add(rt.RepeatInterval)) {
			queue = append(queue, "reminder")
		}
		if !o.escalated {
			for _, r := range routes {
				if r.EscalateAfter > 0 && !now.Before(o.started.Add(r.EscalateAfter)) {
					escTo = append(escTo, d.cfg.Receivers[r.EscalateTo].channels(r.EscalateTo)...)
				}
			}
			if len(escTo) > 0 {
				queue = append(queue, "escalation")
			}
		}
		if len(queue) == 0 {
			continue
		}
		had, err := d.channelsOf(ctx, o.outbox)
		if err != nil {
			return err
		}
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("queue reminder: %w", err)
		}
		reminders, escalated, last := o.reminders, o.escalated, o.last
		for _, kind := range queue {
			n := c
			n.Receivers = had
			if kind == "reminder" {
				reminders++
				last = now
				n.Reminder = reminders
			} else {
				n.Receivers, escalated = escTo, true
			}
			p, _ := json.Marshal(n)
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), kind, string(p)); err != nil {
				tx.Rollback()
				return fmt.Errorf("queue reminder: %w", err)
			}
		}
		var esc any
		if escalated {
			esc = now.UnixNano()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_notices(incident_id, reminders, last, escalated) VALUES(?,?,?,?)
			ON CONFLICT(incident_id) DO UPDATE SET reminders = excluded.reminders, last = excluded.last,
			escalated = coalesce(incident_notices.escalated, excluded.escalated)`,
			o.id, reminders, last.UnixNano(), esc); err != nil {
			tx.Rollback()
			return fmt.Errorf("queue reminder: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("queue reminder: %w", err)
		}
	}
	return nil
}

// channelsOf lists the channels an outbox row was handed to.
func (d *Dispatcher) channelsOf(ctx context.Context, outboxID int64) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT receiver FROM deliveries WHERE outbox_id = ? ORDER BY receiver`, outboxID)
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ch string
		if err := rows.Scan(&ch); err != nil {
			return nil, fmt.Errorf("read deliveries: %w", err)
		}
		out = append(out, ch)
	}
	return out, rows.Err()
}
