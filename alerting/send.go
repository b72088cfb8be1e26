package alerting

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// send tries what is due: the due deliveries of one group at one channel
// leave as one message (up to maxBatch alerts). Once attempted, a batch
// is fixed (its members, its txnId and Message-ID), so every retry sends
// the same.
//
// Each channel (a receiver's email, Matrix or webhook) is sent by its own
// worker, one at a time and each attempt with its own deadline, so a
// receiver that hangs delays nobody else's messages. A channel whose
// worker is still busy from an earlier pass is left to it. With wait,
// send returns when the workers it started are done (Drain); Run does
// not wait, so its next pass routes and sends while a slow channel is
// still trying.
func (d *Dispatcher) send(ctx context.Context, now time.Time, wait bool) error {
	groups, err := d.db.QueryContext(ctx, `SELECT receiver, group_key, coalesce(batch, 0), min(outbox_id) FROM deliveries
		WHERE sent IS NULL AND given_up IS NULL AND next_try <= ? GROUP BY 1, 2, 3 ORDER BY 4 LIMIT 500`, now.UnixNano())
	if err != nil {
		return fmt.Errorf("read deliveries: %w", err)
	}
	due := map[string][]dueGroup{}
	var order []string
	for groups.Next() {
		var k dueGroup
		var first int64
		if err := groups.Scan(&k.ch, &k.group, &k.batch, &first); err != nil {
			groups.Close()
			return fmt.Errorf("read deliveries: %w", err)
		}
		if _, ok := due[k.ch]; !ok {
			order = append(order, k.ch)
		}
		due[k.ch] = append(due[k.ch], k)
	}
	groups.Close()
	var started sync.WaitGroup
	var errMu sync.Mutex
	var first error
	for _, ch := range order {
		d.mu.Lock()
		if d.busy[ch] {
			d.mu.Unlock()
			continue
		}
		d.busy[ch] = true
		d.mu.Unlock()
		d.workers.Add(1)
		started.Add(1)
		go func() {
			defer func() {
				d.mu.Lock()
				delete(d.busy, ch)
				d.mu.Unlock()
				started.Done()
				d.workers.Done()
			}()
			if err := d.sendChannel(ctx, due[ch], now); err != nil && ctx.Err() == nil {
				if !wait {
					d.cfg.Logger.Error("alert outbox", "channel", ch, "err", err)
				}
				errMu.Lock()
				first = cmp.Or(first, err)
				errMu.Unlock()
			}
		}()
	}
	if wait {
		started.Wait()
		return first
	}
	return nil
}

// dueGroup is a group (or a fixed batch) with deliveries due at a channel.
type dueGroup struct {
	ch, group string
	batch     int64
}

// sendChannel sends one channel's due groups, oldest first.
func (d *Dispatcher) sendChannel(ctx context.Context, due []dueGroup, now time.Time) error {
	const cols = `SELECT o.id, o.created, o.kind, o.payload, o.labels, d.receiver, d.attempts, d.group_key, coalesce(d.batch, 0)
		FROM deliveries d JOIN outbox o ON o.id = d.outbox_id `
	for _, k := range due {
		if ctx.Err() != nil {
			return nil
		}
		var rows *sql.Rows
		var err error
		if k.batch != 0 {
			rows, err = d.db.QueryContext(ctx, cols+`WHERE d.receiver = ? AND d.batch = ? AND d.sent IS NULL AND d.given_up IS NULL ORDER BY o.id`, k.ch, k.batch)
		} else {
			rows, err = d.db.QueryContext(ctx, cols+`WHERE d.receiver = ? AND d.group_key = ? AND d.batch IS NULL AND d.sent IS NULL AND d.given_up IS NULL AND d.next_try <= ?
				ORDER BY o.id LIMIT ?`, k.ch, k.group, now.UnixNano(), maxBatch)
		}
		if err != nil {
			return fmt.Errorf("read deliveries: %w", err)
		}
		var batch []row
		for rows.Next() {
			var r row
			var created int64
			var payload, labels string
			if err := rows.Scan(&r.id, &created, &r.kind, &payload, &labels, &r.receiver, &r.attempts, &r.groupKey, &r.batch); err != nil {
				rows.Close()
				return fmt.Errorf("read deliveries: %w", err)
			}
			r.created, r.payload = time.Unix(0, created), []byte(payload)
			json.Unmarshal([]byte(labels), &r.labels)
			batch = append(batch, r)
		}
		rows.Close()
		if len(batch) == 0 {
			continue
		}
		if err := d.sendBatch(ctx, batch, now); err != nil {
			return err
		}
	}
	return nil
}

// maxBatch bounds one message; a bigger group goes in several.
const maxBatch = 1000

func (d *Dispatcher) sendBatch(ctx context.Context, rows []row, now time.Time) error {
	ch := rows[0].receiver
	rcName, kind := splitChannel(ch)
	rc := d.cfg.Receivers[rcName]
	ok, at, err := d.allow(ctx, rcName, rc.RateLimit, now)
	if err != nil {
		return err
	}
	if !ok {
		// Over the receiver's rate: wait for the next minute. Unfixed
		// rows stay open, so what arrives meanwhile joins them.
		return d.update(ctx, rows, `UPDATE deliveries SET next_try = ? WHERE outbox_id = ? AND receiver = ?`, at.UnixNano())
	}
	if rows[0].batch == 0 {
		// A parent may have gone down while the group waited: its
		// children's alerts are muted now rather than sent.
		var err error
		if rows, err = d.muteOrphans(ctx, rows, now); err != nil || len(rows) == 0 {
			return err
		}
		lead := rows[0].id
		if err := d.update(ctx, rows, `UPDATE deliveries SET batch = ? WHERE outbox_id = ? AND receiver = ?`, lead); err != nil {
			return err
		}
		for i := range rows {
			rows[i].batch = lead
		}
	}
	oldest := rows[0].created
	for _, r := range rows {
		if r.created.Before(oldest) {
			oldest = r.created
		}
	}
	if now.Sub(oldest) > d.cfg.MaxAge {
		d.givenUp.Inc()
		d.cfg.Logger.Error("alert given up: too old to send", "id", rows[0].id, "kind", rows[0].kind, "receiver", ch, "attempts", rows[0].attempts)
		return d.update(ctx, rows, `UPDATE deliveries SET given_up = ? WHERE outbox_id = ? AND receiver = ?`, now.UnixNano())
	}
	msg, err := d.renderBatch(rows)
	if err != nil {
		return nil // expand has closed such rows
	}
	sendCtx, cancel := context.WithTimeout(ctx, d.cfg.SendTimeout)
	ref := ""
	switch {
	case kind == "email" && rc.Email != nil:
		err = rc.Email.Send(sendCtx, d.withAlert(ctx, rows, msg))
	case kind == "matrix" && rc.Matrix != nil:
		ref, err = rc.Matrix.Send(sendCtx, d.matrixMessage(ctx, rows, d.withAlert(ctx, rows, msg)))
	case kind == "webhook" && rc.Webhook != nil:
		err = rc.Webhook.Post(sendCtx, d.webhookPayload(rows, msg).withAlert(d.withAlert(ctx, rows, msg).Alert))
	case rc.Notifiers[kind] != nil:
		ref, err = rc.Notifiers[kind].Notify(sendCtx, d.notification(ctx, rows, msg))
	default:
		err = &PermanentError{Msg: fmt.Sprintf("receiver %q is no longer configured", ch)}
	}
	cancel()
	if err == nil {
		d.sent.Inc()
		if err := d.update(ctx, rows, `UPDATE deliveries SET sent = ?, attempts = attempts + 1, last_error = '', ref = ? WHERE outbox_id = ? AND receiver = ?`, now.UnixNano(), ref); err != nil {
			return err
		}
		done := map[string]bool{}
		for _, r := range rows {
			if done[r.groupKey] || (isResolved(r.kind, r.payload) && !strings.HasSuffix(r.groupKey, "/digest")) || strings.HasPrefix(r.groupKey, "notice:") {
				continue
			}
			done[r.groupKey] = true
			{
				if _, err := d.db.ExecContext(ctx, `INSERT INTO alert_groups(receiver, group_key, last_flush) VALUES(?,?,?)
					ON CONFLICT(receiver, group_key) DO UPDATE SET last_flush = excluded.last_flush`, ch, r.groupKey, now.UnixNano()); err != nil {
					return fmt.Errorf("record group: %w", err)
				}
			}
		}
		return nil
	}
	d.failed.Inc()
	// 10 s, 20 s, 40 s ... up to 10 min, with jitter; the server's own
	// wait when it gave one.
	attempts := rows[0].attempts
	backoff := min(10*time.Second<<min(attempts, 6), 10*time.Minute)
	backoff = backoff/2 + rand.N(backoff/2+1)
	var ra *RetryAfterError
	var perm *PermanentError
	switch {
	case errors.As(err, &ra) && ra.Wait > 0:
		backoff = ra.Wait
	case errors.As(err, &perm):
		// A configuration error: say it loudly, try again rarely (the
		// admin may fix it and reload).
		backoff = 10 * time.Minute
		d.cfg.Logger.Error("alert receiver refuses: fix its configuration", "receiver", ch, "err", err)
	}
	d.cfg.Logger.Warn("alert not delivered; will retry", "id", rows[0].id, "kind", rows[0].kind, "messages", len(rows), "receiver", ch,
		"attempt", attempts+1, "retry_in", backoff.Round(time.Second), "err", err)
	return d.update(ctx, rows, `UPDATE deliveries SET attempts = attempts + 1, next_try = ?, last_error = ? WHERE outbox_id = ? AND receiver = ?`,
		now.Add(backoff).UnixNano(), err.Error())
}

// update runs a statement over a batch's rows at one channel in one
// go; args come first, then the channel and the outbox ids (as JSON).
func (d *Dispatcher) update(ctx context.Context, rows []row, q string, args ...any) error {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	idj, _ := json.Marshal(ids)
	q = strings.Replace(q, "WHERE outbox_id = ? AND receiver = ?", "WHERE receiver = ? AND outbox_id IN (SELECT value FROM json_each(?))", 1)
	if _, err := d.db.ExecContext(ctx, q, append(args, rows[0].receiver, string(idj))...); err != nil {
		return fmt.Errorf("update deliveries: %w", err)
	}
	return nil
}

// matrixMessage is the Matrix form of a message: a fixed transaction id
// (the batch's, per receiver), m.text for what must wake someone and
// m.notice for resolutions and reminders, follow-ups in the thread of
// the incident's first message.
func (d *Dispatcher) matrixMessage(ctx context.Context, rows []row, m Message) MatrixMessage {
	r := rows[0]
	rcName, _ := splitChannel(r.receiver)
	txn := fmt.Sprintf("watchpost-%d", r.batch)
	if rcName != DefaultReceiver {
		txn = fmt.Sprintf("watchpost-%s-%d", idSafe(rcName), r.batch)
	}
	mm := MatrixMessage{TxnID: txn, Text: m.Subject + "\n" + m.Text, HTML: m.HTML, Notice: true, Alert: m.Alert}
	for _, x := range rows {
		if !isResolved(x.kind, x.payload) && x.kind != "reminder" {
			mm.Notice = false
		}
	}
	inc, ev := eventOf(r.payload)
	if len(rows) == 1 && inc > 0 && r.kind != "check_down" && ev != EventOpened && r.kind != "flap_start" && r.kind != "flap_stop" {
		var root string
		err := d.db.QueryRowContext(ctx, `SELECT d.ref FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
			WHERE d.receiver = ? AND d.ref != '' AND json_valid(o.payload) AND json_extract(o.payload, '$.incident') = ? AND `+openingRow+`
			ORDER BY o.id LIMIT 1`, r.receiver, inc).Scan(&root)
		if err == nil {
			mm.Thread = root
		}
	}
	return mm
}

// webhookPayload is one row as it always was; a batch is kind "group"
// with each alert (kind, labels, data) in an array.
func (d *Dispatcher) webhookPayload(rows []row, m Message) WebhookPayload {
	if len(rows) == 1 {
		r := rows[0]
		p := WebhookPayload{ID: fmt.Sprintf("%s.%d", d.cfg.Hostname, r.id), Kind: r.kind, Labels: r.labels,
			Subject: m.Subject, Text: m.Text, Data: json.RawMessage(r.payload)}
		if inc, _ := eventOf(r.payload); inc > 0 && d.cfg.PublicURL != "" {
			p.URL = IncidentURL(d.cfg.PublicURL, inc)
		}
		return p
	}
	type item struct {
		ID     int64           `json:"id"`
		Kind   string          `json:"kind"`
		Labels Labels          `json:"labels"`
		Data   json.RawMessage `json:"data"`
	}
	items := make([]item, len(rows))
	for i, r := range rows {
		items[i] = item{r.id, r.kind, r.labels, json.RawMessage(r.payload)}
	}
	data, _ := json.Marshal(items)
	return WebhookPayload{ID: fmt.Sprintf("%s.b%d", d.cfg.Hostname, rows[0].batch), Kind: "group",
		Subject: m.Subject, Text: m.Text, Data: data}
}

// muteOrphans drops, from a batch not yet attempted, the firing alerts
// whose check or route depends on a check that is down now, recording
// them as suppressed.
func (d *Dispatcher) muteOrphans(ctx context.Context, rows []row, now time.Time) ([]row, error) {
	keep := rows[:0:0]
	for _, r := range rows {
		if isResolved(r.kind, r.payload) {
			keep = append(keep, r)
			continue
		}
		// A window that began while the row waited in its group mutes it
		// as one that began before it was routed would have: the outbox
		// row is marked so that an outage still going at the window's end
		// is announced then.
		if m := d.inMaintenance(r, now); m != "" {
			d.suppressed.Inc()
			if err := d.update(ctx, []row{r}, `UPDATE deliveries SET given_up = ?, last_error = ? WHERE outbox_id = ? AND receiver = ?`,
				now.UnixNano(), "suppressed: "+m); err != nil {
				return nil, err
			}
			if _, err := d.db.ExecContext(ctx, `UPDATE outbox SET suppressed = ? WHERE id = ? AND suppressed = ''`, m, r.id); err != nil {
				return nil, fmt.Errorf("mark muted: %w", err)
			}
			continue
		}
		check := r.labels["check"]
		parents := d.cfg.Checks[check].DependsOn
		var idx int
		if _, err := fmt.Sscanf(r.groupKey, "r%d/", &idx); err == nil && d.cfg.Router != nil && idx >= 0 && idx < len(d.cfg.Router.Routes) {
			parents = append(append([]string{}, parents...), d.cfg.Router.Routes[idx].DependsOn...)
		}
		if len(parents) == 0 {
			keep = append(keep, r)
			continue
		}
		p, err := d.parentDown(ctx, d.db, check, parents)
		if err != nil {
			return nil, err
		}
		if p == "" {
			keep = append(keep, r)
			continue
		}
		d.suppressed.Inc()
		if err := d.update(ctx, []row{r}, `UPDATE deliveries SET given_up = ?, last_error = ? WHERE outbox_id = ? AND receiver = ?`,
			now.UnixNano(), "suppressed: "+dependsNote(p)); err != nil {
			return nil, err
		}
	}
	return keep, nil
}
