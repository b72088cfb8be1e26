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

// Config configures a Dispatcher.
type Config struct {
	Email    Sender // nil: no email receiver configured
	Hostname string // the right side of Message-IDs
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
		sent:    cfg.Metrics.NewCounter(`watchpost_alerts_sent_total{receiver="email"}`),
		failed:  cfg.Metrics.NewCounter(`watchpost_alerts_send_failures_total{receiver="email"}`),
		givenUp: cfg.Metrics.NewCounter(`watchpost_alerts_given_up_total`),
		skipped: cfg.Metrics.NewCounter(`watchpost_alerts_not_sent_total`),
	}
	cfg.Metrics.NewGauge(`watchpost_alerts_pending`, func() float64 {
		var n int
		db.QueryRow(`SELECT count(*) FROM outbox WHERE sent IS NULL AND given_up IS NULL`).Scan(&n)
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
	attempts int
}

// Drain makes one pass over the notifications that are due.
func (d *Dispatcher) Drain(ctx context.Context) error {
	now := d.cfg.Now()
	rows, err := d.db.QueryContext(ctx, `SELECT id, created, kind, payload, attempts FROM outbox
		WHERE sent IS NULL AND given_up IS NULL AND next_try <= ? ORDER BY id LIMIT 100`, now.UnixNano())
	if err != nil {
		return fmt.Errorf("read outbox: %w", err)
	}
	var due []row
	for rows.Next() {
		var r row
		var created int64
		var payload string
		if err := rows.Scan(&r.id, &created, &r.kind, &payload, &r.attempts); err != nil {
			rows.Close()
			return fmt.Errorf("read outbox: %w", err)
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

func (d *Dispatcher) deliver(ctx context.Context, r row, now time.Time) error {
	if now.Sub(r.created) > d.cfg.MaxAge {
		d.givenUp.Inc()
		d.cfg.Logger.Error("alert given up: too old to send", "id", r.id, "kind", r.kind, "attempts", r.attempts)
		_, err := d.db.ExecContext(ctx, `UPDATE outbox SET given_up = ? WHERE id = ?`, now.UnixNano(), r.id)
		return err
	}
	msg, ok, err := d.render(r)
	if err != nil || !ok || d.cfg.Email == nil {
		// Nothing to say (a check's first state), a payload this version
		// cannot read, or no receiver: the row is done with.
		if err != nil {
			d.cfg.Logger.Error("alert not rendered", "id", r.id, "kind", r.kind, "err", err)
		}
		d.skipped.Inc()
		_, err := d.db.ExecContext(ctx, `UPDATE outbox SET sent = ?, last_error = ? WHERE id = ?`, now.UnixNano(), "not sent: no receiver or nothing to say", r.id)
		return err
	}
	sendCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err = d.cfg.Email.Send(sendCtx, msg)
	cancel()
	if err == nil {
		d.sent.Inc()
		_, err := d.db.ExecContext(ctx, `UPDATE outbox SET sent = ?, attempts = attempts + 1, last_error = '' WHERE id = ?`, now.UnixNano(), r.id)
		return err
	}
	d.failed.Inc()
	// 10 s, 20 s, 40 s ... up to 10 min, with jitter.
	backoff := min(10*time.Second<<min(r.attempts, 6), 10*time.Minute)
	backoff = backoff/2 + rand.N(backoff/2+1)
	d.cfg.Logger.Warn("alert not delivered; will retry", "id", r.id, "kind", r.kind, "attempt", r.attempts+1, "retry_in", backoff.Round(time.Second), "err", err)
	_, uerr := d.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_try = ?, last_error = ? WHERE id = ?`,
		now.Add(backoff).UnixNano(), err.Error(), r.id)
	return uerr
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
