// Package alerting delivers what the outbox holds: the notifications a
// state change committed together with it (a check down or back up, a
// late backup, a rule's alert). Delivery is at least once, retried with
// backoff until it succeeds or the notification is too old to matter,
// and every attempt is recorded on its row. A receiver being down never
// slows anything else: the outbox is the buffer.
package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Message is one rendered notification.
type Message struct {
	Subject   string
	Text      string
	HTML      string
	MessageID string // without angle brackets
	InReplyTo string // the incident's first message, for threading
}

// Sender delivers a message; an error marks the attempt failed.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// MatrixSender posts to a room and returns the event id.
type MatrixSender interface {
	Send(ctx context.Context, m MatrixMessage) (string, error)
}

// Config configures a Dispatcher.
type Config struct {
	Email    Sender       // nil: no email receiver configured
	Matrix   MatrixSender // nil: no Matrix receiver configured
	Webhook  *Webhook     // nil: no webhook
	Hostname string       // the right side of Message-IDs
	MaxAge   time.Duration
	Every    time.Duration // how often the outbox is looked at (2 s)
	Now      func() time.Time
	Metrics  *metrics.Set
	Logger   *slog.Logger
}

// Dispatcher drains the outbox.
type Dispatcher struct {
	db  *sql.DB
	cfg Config

	sent, failed, givenUp, skipped *metrics.Counter
}

// New returns a dispatcher over the store's write handle.
func New(db *sql.DB, cfg Config) *Dispatcher {
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	if cfg.Every == 0 {
		cfg.Every = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewSet()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "watchpost.invalid"
	}
	d := &Dispatcher{db: db, cfg: cfg,
		sent:    cfg.Metrics.NewCounter(`watchpost_alerts_sent_total`),
		failed:  cfg.Metrics.NewCounter(`watchpost_alerts_send_failures_total`),
		givenUp: cfg.Metrics.NewCounter(`watchpost_alerts_given_up_total`),
		skipped: cfg.Metrics.NewCounter(`watchpost_alerts_not_sent_total`),
	}
	cfg.Metrics.NewGauge(`watchpost_alerts_pending`, func() float64 {
		var n int
		db.QueryRow(`SELECT (SELECT count(*) FROM outbox WHERE sent IS NULL AND given_up IS NULL) +
			(SELECT count(*) FROM deliveries WHERE sent IS NULL AND given_up IS NULL)`).Scan(&n)
		return float64(n)
	})
	return d
}

// Run drains the outbox until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Every)
	defer t.Stop()
	for n := 0; ; n++ {
		if err := d.Drain(ctx); err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("alert outbox", "err", err)
		}
		if n%1800 == 0 {
			// Delivered and abandoned notifications are kept 30 days, for
			// the record of attempts.
			cut := d.cfg.Now().Add(-30 * 24 * time.Hour).UnixNano()
			if _, err := d.db.ExecContext(ctx, `DELETE FROM outbox WHERE sent < ? OR given_up < ?`, cut, cut); err != nil && ctx.Err() == nil {
				d.cfg.Logger.Warn("prune outbox", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type row struct {
	id       int64
	created  time.Time
	kind     string
	payload  []byte
	receiver string
	attempts int
}

// Drain makes one pass: new notifications are handed to each configured
// receiver (a delivery each), then the deliveries that are due are tried.
func (d *Dispatcher) Drain(ctx context.Context) error {
	if err := d.expand(ctx); err != nil {
		return err
	}
	now := d.cfg.Now()
	rows, err := d.db.QueryContext(ctx, `SELECT o.id, o.created, o.kind, o.payload, d.receiver, d.attempts
		FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.sent IS NULL AND d.given_up IS NULL AND d.next_try <= ? ORDER BY o.id LIMIT 100`, now.UnixNano())
	if err != nil {
		return fmt.Errorf("read deliveries: %w", err)
	}
	var due []row
	for rows.Next() {
		var r row
		var created int64
		var payload string
		if err := rows.Scan(&r.id, &created, &r.kind, &payload, &r.receiver, &r.attempts); err != nil {
			rows.Close()
			return fmt.Errorf("read deliveries: %w", err)
		}
		r.created, r.payload = time.Unix(0, created), []byte(payload)
		due = append(due, r)
	}
	rows.Close()
	for _, r := range due {
		if ctx.Err() != nil {
			return nil
		}
		if err := d.deliver(ctx, r, now); err != nil {
			return err
		}
	}
	return nil
}

// expand turns new outbox rows into deliveries, one per receiver, in one
// transaction with marking the row handed over. A row that needs no
// message (a check's first state) or has no receiver is closed at once.
func (d *Dispatcher) expand(ctx context.Context) error {
	rows, err := d.db.QueryContext(ctx, `SELECT id, kind, payload FROM outbox WHERE sent IS NULL AND given_up IS NULL ORDER BY id LIMIT 500`)
	if err != nil {
		return fmt.Errorf("read outbox: %w", err)
	}
	var fresh []row
	for rows.Next() {
		var r row
		var payload string
		if err := rows.Scan(&r.id, &r.kind, &payload); err != nil {
			rows.Close()
			return fmt.Errorf("read outbox: %w", err)
		}
		r.payload = []byte(payload)
		fresh = append(fresh, r)
	}
	rows.Close()
	if len(fresh) == 0 {
		return nil
	}
	var receivers []string
	if d.cfg.Email != nil {
		receivers = append(receivers, "email")
	}
	if d.cfg.Matrix != nil {
		receivers = append(receivers, "matrix")
	}
	if d.cfg.Webhook != nil {
		receivers = append(receivers, "webhook")
	}
	now := d.cfg.Now().UnixNano()
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("expand outbox: %w", err)
	}
	defer tx.Rollback()
	for _, r := range fresh {
		_, ok, err := d.render(r)
		note := ""
		switch {
		case err != nil:
			d.cfg.Logger.Error("alert not rendered", "id", r.id, "kind", r.kind, "err", err)
			note = "not sent: unreadable payload"
		case !ok:
			note = "not sent: nothing to say"
		case len(receivers) == 0:
			note = "not sent: no receiver configured"
		}
		if note != "" {
			d.skipped.Inc()
		} else {
			for _, rc := range receivers {
				if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO deliveries(outbox_id, receiver) VALUES(?, ?)`, r.id, rc); err != nil {
					return fmt.Errorf("expand outbox: %w", err)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET sent = ?, last_error = ? WHERE id = ?`, now, note, r.id); err != nil {
			return fmt.Errorf("expand outbox: %w", err)
		}
	}
	return tx.Commit()
}

func (d *Dispatcher) deliver(ctx context.Context, r row, now time.Time) error {
	if now.Sub(r.created) > d.cfg.MaxAge {
		d.givenUp.Inc()
		d.cfg.Logger.Error("alert given up: too old to send", "id", r.id, "kind", r.kind, "receiver", r.receiver, "attempts", r.attempts)
		_, err := d.db.ExecContext(ctx, `UPDATE deliveries SET given_up = ? WHERE outbox_id = ? AND receiver = ?`, now.UnixNano(), r.id, r.receiver)
		return err
	}
	msg, _, err := d.render(r)
	if err != nil {
		return nil // expand has closed such rows
	}
	sendCtx, cancel := context.WithTimeout(ctx, time.Minute)
	ref := ""
	switch r.receiver {
	case "email":
		err = d.cfg.Email.Send(sendCtx, msg)
	case "matrix":
		ref, err = d.cfg.Matrix.Send(sendCtx, d.matrixMessage(ctx, r, msg))
	case "webhook":
		err = d.cfg.Webhook.Post(sendCtx, WebhookPayload{ID: fmt.Sprintf("%s.%d", d.cfg.Hostname, r.id), Kind: r.kind,
			Subject: msg.Subject, Text: msg.Text, Data: json.RawMessage(r.payload)})
	default:
		err = fmt.Errorf("unknown receiver %q", r.receiver)
	}
	cancel()
	if err == nil {
		d.sent.Inc()
		_, err := d.db.ExecContext(ctx, `UPDATE deliveries SET sent = ?, attempts = attempts + 1, last_error = '', ref = ? WHERE outbox_id = ? AND receiver = ?`,
			now.UnixNano(), ref, r.id, r.receiver)
		return err
	}
	d.failed.Inc()
	// 10 s, 20 s, 40 s ... up to 10 min, with jitter; the server's own
	// wait when it gave one.
	backoff := min(10*time.Second<<min(r.attempts, 6), 10*time.Minute)
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
		d.cfg.Logger.Error("alert receiver refuses: fix its configuration", "receiver", r.receiver, "err", err)
	}
	d.cfg.Logger.Warn("alert not delivered; will retry", "id", r.id, "kind", r.kind, "receiver", r.receiver, "attempt", r.attempts+1, "retry_in", backoff.Round(time.Second), "err", err)
	_, uerr := d.db.ExecContext(ctx, `UPDATE deliveries SET attempts = attempts + 1, next_try = ?, last_error = ? WHERE outbox_id = ? AND receiver = ?`,
		now.Add(backoff).UnixNano(), err.Error(), r.id, r.receiver)
	return uerr
}

// matrixMessage is the Matrix form of a message: a fixed transaction id,
// m.text for what must wake someone and m.notice for resolutions, and
// follow-ups in the thread of the incident's first message.
func (d *Dispatcher) matrixMessage(ctx context.Context, r row, m Message) MatrixMessage {
	mm := MatrixMessage{TxnID: fmt.Sprintf("watchpost-%d", r.id), Text: m.Subject + "\n" + m.Text, HTML: m.HTML}
	if r.kind == "check_up" {
		mm.Notice = true
		var c change
		if json.Unmarshal(r.payload, &c) == nil && c.Incident > 0 {
			var root string
			err := d.db.QueryRowContext(ctx, `SELECT d.ref FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
				WHERE d.receiver = 'matrix' AND d.ref != '' AND o.kind = 'check_down' AND json_extract(o.payload, '$.incident') = ?
				ORDER BY o.id LIMIT 1`, c.Incident).Scan(&root)
			if err == nil {
				mm.Thread = root
			}
		}
	}
	return mm
}

// change is the payload of a check or heartbeat state change
// (uptime.Change).
type change struct {
	Check    string    `json:"check"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Since    time.Time `json:"since"`
	Detail   string    `json:"detail"`
	Incident int64     `json:"incident"`
}

// alert is the payload of a rule's alert action (rules.Alert).
type alert struct {
	Severity string
	Title    string
	Labels   map[string]string
	Time     time.Time
	Line     string
}

func (d *Dispatcher) incidentID(n int64) string {
	return fmt.Sprintf("watchpost.incident.%d@%s", n, d.cfg.Hostname)
}

// render turns a row into a message; ok=false when it needs none.
func (d *Dispatcher) render(r row) (Message, bool, error) {
	switch r.kind {
	case "check_down", "check_up":
		var c change
		if err := json.Unmarshal(r.payload, &c); err != nil {
			return Message{}, false, err
		}
		if c.To == "up" && c.From != "down" {
			return Message{}, false, nil // first state, or back from degraded
		}
		return renderChange(c, d.incidentID(c.Incident), fmt.Sprintf("watchpost.outbox.%d@%s", r.id, d.cfg.Hostname)), true, nil
	case "rule_alert":
		var a alert
		if err := json.Unmarshal(r.payload, &a); err != nil {
			return Message{}, false, err
		}
		return renderAlert(a, fmt.Sprintf("watchpost.outbox.%d@%s", r.id, d.cfg.Hostname)), true, nil
	}
	return Message{}, false, nil // check_degraded and kinds for later receivers
}
