package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// target is one delivery a row gets: a channel, its group there, and
// when the group goes out.
type target struct {
	channel, groupKey string
	next              time.Time
}

// expand routes new outbox rows (but status notices, which go to the
// status page's subscribers, package subscribe): each gets a delivery per receiver
// channel its routes name, or a note saying why it gets none (nothing to
// say, silenced, flapping, a parent down), in one transaction with
// marking the row handed over.
func (d *Dispatcher) expand(ctx context.Context, now time.Time) error {
	// A storm is routed at once, 500 rows a transaction, so grouping sees
	// it whole; the cap keeps one pass from starving the senders.
	for range 40 {
		n, err := d.expandSome(ctx, now)
		if err != nil || n < 500 {
			return err
		}
	}
	return nil
}

func (d *Dispatcher) expandSome(ctx context.Context, now time.Time) (int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, created, kind, payload FROM outbox WHERE sent IS NULL AND given_up IS NULL
		AND kind != 'status_notice' ORDER BY id LIMIT 500`)
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	var fresh []row
	for rows.Next() {
		var r row
		var payload string
		var created int64
		if err := rows.Scan(&r.id, &created, &r.kind, &payload); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read outbox: %w", err)
		}
		r.payload, r.created = []byte(payload), time.Unix(0, created)
		fresh = append(fresh, r)
	}
	rows.Close()
	if len(fresh) == 0 {
		return 0, nil
	}
	// When each group touched in this transaction goes out: a storm asks
	// the same few groups thousands of times.
	d.flushes = map[string]time.Time{}
	silences, err := ListSilences(ctx, d.db, now, false)
	if err != nil {
		return 0, err
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("expand outbox: %w", err)
	}
	defer tx.Rollback()
	for _, r := range fresh {
		r.labels = d.labelsOf(r.kind, r.payload)
		var targets []target
		note, muted := "", ""
		_, ok, err := d.render(r)
		switch {
		case err != nil:
			d.cfg.Logger.Error("alert not rendered", "id", r.id, "kind", r.kind, "err", err)
			note = "not sent: unreadable payload"
		case !ok:
			note = "not sent: nothing to say"
		default:
			targets, note, muted, err = d.plan(ctx, tx, r, silences, now)
			if err != nil {
				return 0, err
			}
		}
		if note == "" && muted == "" && len(targets) == 0 {
			note = "not sent: no receiver configured"
		}
		if muted != "" {
			d.suppressed.Inc()
			note = "suppressed: " + muted
		} else if note != "" {
			d.skipped.Inc()
		}
		for _, t := range targets {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO deliveries(outbox_id, receiver, group_key, next_try) VALUES(?, ?, ?, ?)`,
				r.id, t.channel, t.groupKey, t.next.UnixNano()); err != nil {
				return 0, fmt.Errorf("expand outbox: %w", err)
			}
		}
		lj, _ := json.Marshal(r.labels)
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET sent = ?, last_error = ?, labels = ?, suppressed = ? WHERE id = ?`,
			now.UnixNano(), note, string(lj), muted, r.id); err != nil {
			return 0, fmt.Errorf("expand outbox: %w", err)
		}
	}
	return len(fresh), tx.Commit()
}

// plan decides where a row goes. muted is why it goes nowhere although it
// has something to say (kept on the row as "suppressed").
func (d *Dispatcher) plan(ctx context.Context, tx *sql.Tx, r row, silences []Silence, now time.Time) (targets []target, note, muted string, err error) {
	var c change
	stateChange := r.kind == "check_down" || r.kind == "check_up" || r.kind == "check_degraded"
	if stateChange || r.kind == "reminder" || r.kind == "escalation" {
		json.Unmarshal(r.payload, &c)
	}
	if stateChange && !requeued(r.payload) {
		flapping, started, pct, err := d.flapStep(ctx, tx, c.Check, now)
		if err != nil {
			return nil, "", "", err
		}
		if started {
			p, _ := json.Marshal(change{Check: c.Check, To: c.To, Since: now, Percent: pct})
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), "flap_start", string(p)); err != nil {
				return nil, "", "", fmt.Errorf("outbox: %w", err)
			}
		}
		if flapping {
			return nil, "", fmt.Sprintf("flapping (%.0f %% state change)", pct), nil
		}
	}
	if r.kind == "check_up" && c.Incident > 0 {
		return d.followFiring(ctx, tx, c.Incident, now)
	}
	if inc, ev := eventOf(r.payload); inc > 0 && ev == EventResolved {
		return d.followFiring(ctx, tx, inc, now)
	}
	if r.kind == "reminder" || r.kind == "escalation" {
		var acked sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT acked FROM incidents WHERE id = ?`, c.Incident).Scan(&acked); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, "", "", fmt.Errorf("read incident: %w", err)
		}
		if acked.Valid {
			return nil, "not sent: acknowledged", "", nil
		}
	}
	if m := d.inMaintenance(r, now); m != "" {
		return nil, "", m, nil
	}
	for _, s := range silences {
		if matchAll(s.Matchers, r.labels) {
			return nil, "", fmt.Sprintf("silenced by #%d (%s: %s)", s.ID, s.Author, oneLine(s.Comment)), nil
		}
	}
	if stateChange || r.kind == "reminder" || r.kind == "escalation" {
		if p, err := d.parentDown(ctx, tx, c.Check, d.cfg.Checks[c.Check].DependsOn); err != nil || p != "" {
			return nil, "", dependsNote(p), err
		}
	}
	if len(c.Receivers) > 0 {
		for _, ch := range c.Receivers {
			rc, _ := splitChannel(ch)
			if _, ok := d.cfg.Receivers[rc]; ok {
				targets = append(targets, target{channel: ch, groupKey: fmt.Sprintf("notice:%d", r.id), next: now})
			}
		}
		return targets, "", "", nil
	}
	resolved := isResolved(r.kind, r.payload)
	seen := map[string]bool{}
	mutedBy := ""
	for _, rt := range d.cfg.Router.Match(r.labels) {
		p, err := d.parentDown(ctx, tx, c.Check, rt.DependsOn)
		if err != nil {
			return nil, "", "", err
		}
		if p != "" {
			mutedBy = p
			continue
		}
		inc := c.Incident
		if inc == 0 {
			inc, _ = eventOf(r.payload)
		}
		gk := groupKey(rt, r.labels, inc, r.id)
		res := resolved
		if rt.Digest > 0 {
			gk, res = fmt.Sprintf("r%d/digest", rt.Index), false
			rt.GroupWait, rt.GroupInterval = rt.Digest, rt.Digest
		}
		for _, ch := range d.cfg.Receivers[rt.Receiver].channels(rt.Receiver) {
			if seen[ch] {
				continue
			}
			seen[ch] = true
			next, err := d.nextFlush(ctx, tx, ch, gk, rt, now, res)
			if err != nil {
				return nil, "", "", err
			}
			targets = append(targets, target{channel: ch, groupKey: gk, next: next})
		}
	}
	if len(targets) == 0 && mutedBy != "" {
		return nil, "", dependsNote(mutedBy), nil
	}
	return targets, "", "", nil
}

func dependsNote(parent string) string {
	if parent == "" {
		return ""
	}
	return fmt.Sprintf("depends on %s, which is down", parent)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = strings.ToValidUTF8(s[:80], "") + "…"
	}
	return s
}

// followFiring sends a recovery where its outage went, in the outage's
// group; an outage that went nowhere (silenced, flapping, muted by a
// parent) recovers silently. An outage message still waiting, never
// attempted, is called forward so the two leave as one.
func (d *Dispatcher) followFiring(ctx context.Context, tx *sql.Tx, incident int64, now time.Time) ([]target, string, string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT d.receiver, d.group_key, d.outbox_id, d.attempts, d.sent IS NULL AND d.given_up IS NULL AND d.batch IS NULL
		FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE json_valid(o.payload) AND json_extract(o.payload, '$.incident') = ? AND `+openingRow+` AND d.last_error NOT LIKE 'suppressed:%'`, incident)
	if err != nil {
		return nil, "", "", fmt.Errorf("find the outage: %w", err)
	}
	var targets []target
	type waiting struct {
		id int64
		ch string
	}
	var pull []waiting
	for rows.Next() {
		var t target
		var id int64
		var attempts int
		var open bool
		if err := rows.Scan(&t.channel, &t.groupKey, &id, &attempts, &open); err != nil {
			rows.Close()
			return nil, "", "", fmt.Errorf("find the outage: %w", err)
		}
		t.next = now
		if rt, ok := d.digestRoute(t.groupKey); ok {
			// A digest's resolutions wait for the digest like the rest.
			if t.next, err = d.nextFlush(ctx, tx, t.channel, t.groupKey, rt, now, false); err != nil {
				rows.Close()
				return nil, "", "", err
			}
			open = false
		}
		targets = append(targets, t)
		if open && attempts == 0 {
			pull = append(pull, waiting{id, t.channel})
			delete(d.flushes, t.channel+"\x00"+t.groupKey)
		}
	}
	rows.Close()
	for _, p := range pull {
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET next_try = ? WHERE outbox_id = ? AND receiver = ?`, now.UnixNano(), p.id, p.ch); err != nil {
			return nil, "", "", fmt.Errorf("expand outbox: %w", err)
		}
	}
	if len(targets) == 0 {
		return nil, "", "its outage was not announced", nil
	}
	return targets, "", "", nil
}

// openingRow is the SQL condition on outbox o for the row that opened an
// incident: a check's outage, or another source's "opened" event.
const openingRow = `(o.kind = 'check_down' OR (json_valid(o.payload) AND json_extract(o.payload, '$.event') = 'opened'))`

// digestRoute returns the route of a digest group key.
func (d *Dispatcher) digestRoute(gk string) (Route, bool) {
	var idx int
	if !strings.HasSuffix(gk, "/digest") || d.cfg.Router == nil {
		return Route{}, false
	}
	if _, err := fmt.Sscanf(gk, "r%d/", &idx); err != nil || idx < 0 || idx >= len(d.cfg.Router.Routes) {
		return Route{}, false
	}
	rt := d.cfg.Router.Routes[idx]
	rt.GroupWait, rt.GroupInterval = rt.Digest, rt.Digest
	return rt, rt.Digest > 0
}

// nextFlush is when a new member of a group goes out: with the group's
// waiting members if it has some, else a group interval after the
// group's last message, else (a new group) after the group wait.
// Resolutions go at once.
func (d *Dispatcher) nextFlush(ctx context.Context, tx *sql.Tx, ch, gk string, rt Route, now time.Time, resolved bool) (time.Time, error) {
	if resolved {
		return now, nil
	}
	if t, ok := d.flushes[ch+"\x00"+gk]; ok {
		return t, nil
	}
	var pending sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT min(next_try) FROM deliveries WHERE receiver = ? AND group_key = ? AND sent IS NULL AND given_up IS NULL AND batch IS NULL`,
		ch, gk).Scan(&pending); err != nil {
		return now, fmt.Errorf("read group: %w", err)
	}
	if pending.Valid {
		t := time.Unix(0, pending.Int64)
		d.flushes[ch+"\x00"+gk] = t
		return t, nil
	}
	var last int64
	err := tx.QueryRowContext(ctx, `SELECT last_flush FROM alert_groups WHERE receiver = ? AND group_key = ?`, ch, gk).Scan(&last)
	if err == nil {
		if t := time.Unix(0, last).Add(rt.GroupInterval); t.After(now) {
			return t, nil
		}
	} else if !errors.Is(err, sql.ErrNoRows) {
		return now, fmt.Errorf("read group: %w", err)
	}
	t := now.Add(rt.GroupWait)
	d.flushes[ch+"\x00"+gk] = t
	return t, nil
}

// parentDown names the first of parents (other than the check itself)
// that is down now.
func (d *Dispatcher) parentDown(ctx context.Context, tx rowQuerier, check string, parents []string) (string, error) {
	for _, p := range parents {
		if p == check || p == "" {
			continue
		}
		var status int
		err := tx.QueryRowContext(ctx, `SELECT status FROM check_state WHERE check_name = ?`, p).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("read parent %s: %w", p, err)
		}
		if status == statusDown {
			return p, nil
		}
	}
	return "", nil
}

// rowQuerier is a *sql.DB or a *sql.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// The check states as uptime stores them (uptime.Status).
const (
	statusUnknown = iota
	statusUp
	statusDegraded
	statusDown
)

func statusName(s int) string {
	if s < 0 || s > statusDown {
		return "unknown"
	}
	return [...]string{"unknown", "up", "degraded", "down"}[s]
}
