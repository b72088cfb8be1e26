package subscribe

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	mail "github.com/wneessen/go-mail"

	"github.com/watchpost/watchpost/uptime"
)

// Mail is one message to one subscriber.
type Mail struct {
	To      string
	Subject string
	Text    string
	// Unsubscribe is the one-click unsubscribe URL (RFC 8058), "" for a
	// confirmation request.
	Unsubscribe string
	MessageID   string
}

// Mailer sends a message; an error marks the attempt failed.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// SMTP sends through a mail server with github.com/wneessen/go-mail, as
// alerts do.
type SMTP struct {
	Addr     string // host:port
	TLS      string // starttls (required; the default), implicit, none
	From     string
	Username string
	Password string
	HELO     string
}

// Send implements Mailer.
func (s SMTP) Send(ctx context.Context, m Mail) error {
	host, portStr, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("smtp address: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("smtp port: %w", err)
	}
	msg := mail.NewMsg()
	if err := msg.From(s.From); err != nil {
		return fmt.Errorf("email from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("email to: %w", err)
	}
	msg.Subject(headerSafe(m.Subject))
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(m.MessageID)
	}
	msg.SetDate()
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	if m.Unsubscribe != "" {
		msg.SetGenHeader("List-Unsubscribe", "<"+m.Unsubscribe+">")
		msg.SetGenHeader("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(30 * time.Second)}
	switch s.TLS {
	case "implicit":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.HELO != "" {
		opts = append(opts, mail.WithHELO(s.HELO))
	}
	if s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.Username), mail.WithPassword(s.Password))
	}
	c, err := mail.NewClient(host, opts...)
	if err != nil {
		return fmt.Errorf("email client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send email: %w", err)
	}
	return nil
}

func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// Sender fans status notices out to subscribers and sends them.
type Sender struct {
	Store *Store
	// Mailer is nil when subscriptions are off: notices are then marked
	// as not sent, so none goes out stale the day they are turned on.
	Mailer    Mailer
	PublicURL string         // links in messages point here
	Title     string         // the status page's title, in subjects
	Hostname  string         // right side of Message-IDs
	Location  *time.Location // times in messages (UTC when nil)
	RateLimit int            // messages a minute, all subscribers together (60)
	MaxAge    time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
	Metrics   *metrics.Set

	sent, failed *metrics.Counter
}

func (d *Sender) init() {
	if d.RateLimit <= 0 {
		d.RateLimit = 60
	}
	if d.MaxAge == 0 {
		d.MaxAge = 24 * time.Hour
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = metrics.NewSet()
	}
	if d.Hostname == "" {
		d.Hostname = "watchpost.invalid"
	}
	d.sent = d.Metrics.NewCounter(`watchpost_subscriber_messages_sent_total`)
	d.failed = d.Metrics.NewCounter(`watchpost_subscriber_send_failures_total`)
}

// Run fans out and sends every couple of seconds until ctx ends.
func (d *Sender) Run(ctx context.Context, every time.Duration) {
	d.init()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := d.Step(ctx); err != nil && ctx.Err() == nil {
			d.Logger.Error("status notices", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Step makes one pass: new notices get their deliveries, then what is
// due is sent, within the rate.
func (d *Sender) Step(ctx context.Context) error {
	if d.sent == nil {
		d.init()
	}
	now := d.Now()
	if err := d.fanout(ctx, now); err != nil {
		return err
	}
	if d.Mailer == nil {
		return nil
	}
	return d.send(ctx, now)
}

// notice is a status notice's payload: an incident's event, a
// maintenance window's, or a confirmation request.
type notice struct {
	Event       string    `json:"event"`
	Incident    int64     `json:"incident"`
	Subscriber  int64     `json:"subscriber"`
	Maintenance string    `json:"maintenance"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Components  []string  `json:"components"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
}

func (d *Sender) fanout(ctx context.Context, now time.Time) error {
	rows, err := d.Store.DB.QueryContext(ctx, `SELECT id, payload FROM outbox WHERE kind = ? AND sent IS NULL AND given_up IS NULL ORDER BY id LIMIT 100`,
		uptime.KindStatusNotice)
	if err != nil {
		return fmt.Errorf("read status notices: %w", err)
	}
	type pending struct {
		id int64
		n  notice
	}
	var ps []pending
	for rows.Next() {
		var p pending
		var raw string
		if err := rows.Scan(&p.id, &raw); err != nil {
			rows.Close()
			return fmt.Errorf("read status notices: %w", err)
		}
		json.Unmarshal([]byte(raw), &p.n)
		ps = append(ps, p)
	}
	rows.Close()
	for _, p := range ps {
		if err := d.fanoutOne(ctx, p.id, p.n, now); err != nil {
			return err
		}
	}
	return nil
}

// fanoutOne gives one notice a delivery per subscriber it concerns, and
// marks it routed, in one transaction.
func (d *Sender) fanoutOne(ctx context.Context, id int64, n notice, now time.Time) error {
	tx, err := d.Store.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("fan out: %w", err)
	}
	defer tx.Rollback()
	var targets []int64
	note := ""
	switch {
	case d.Mailer == nil:
		note = "not sent: status page subscriptions are off"
	case n.Event == EventConfirm:
		targets = []int64{n.Subscriber}
	default:
		comps := n.Components
		if n.Incident > 0 {
			var public bool
			var name, cj, source string
			err := tx.QueryRowContext(ctx, `SELECT public, check_name, components, source FROM incidents WHERE id = ?`, n.Incident).Scan(&public, &name, &cj, &source)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("fan out: %w", err)
			}
			comps = nil
			if public {
				if source == "check" {
					comps = []string{name}
				} else {
					json.Unmarshal([]byte(cj), &comps)
				}
			}
			if !public {
				note = "not sent: not a public incident"
				break
			}
		}
		targets, err = subscribersFor(ctx, tx, comps)
		if err != nil {
			return err
		}
	}
	for _, sid := range targets {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO subscriber_deliveries(outbox_id, subscriber_id, next_try)
			SELECT ?, id, ? FROM subscribers WHERE id = ?`, id, now.UnixNano(), sid); err != nil {
			return fmt.Errorf("fan out: %w", err)
		}
	}
	if note == "" {
		note = fmt.Sprintf("to %d subscribers", len(targets))
		if n.Event == EventConfirm {
			note = "confirmation request"
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET sent = ?, last_error = ? WHERE id = ?`, now.UnixNano(), note, id); err != nil {
		return fmt.Errorf("fan out: %w", err)
	}
	return tx.Commit()
}

// subscribersFor are the confirmed subscribers of any of comps (or of
// everything).
func subscribersFor(ctx context.Context, tx *sql.Tx, comps []string) ([]int64, error) {
	if len(comps) == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, components FROM subscribers WHERE confirmed IS NOT NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read subscribers: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		var cj string
		if err := rows.Scan(&id, &cj); err != nil {
			return nil, fmt.Errorf("read subscribers: %w", err)
		}
		var want []string
		json.Unmarshal([]byte(cj), &want)
		if len(want) == 0 || slices.ContainsFunc(comps, func(c string) bool { return slices.Contains(want, c) }) {
			out = append(out, id)
		}
	}
	return out, rows.Err()
}

// due is one delivery to send.
type due struct {
	outbox, subscriber int64
	attempts           int
	created            time.Time
	payload            string
	email, nonce       string
}

func (d *Sender) send(ctx context.Context, now time.Time) error {
	var recent int
	if err := d.Store.DB.QueryRowContext(ctx, `SELECT count(*) FROM subscriber_deliveries WHERE sent > ?`, now.Add(-time.Minute).UnixNano()).Scan(&recent); err != nil {
		return fmt.Errorf("read deliveries: %w", err)
	}
	budget := d.RateLimit - recent
	if budget <= 0 {
		return nil
	}
	rows, err := d.Store.DB.QueryContext(ctx, `SELECT d.outbox_id, d.subscriber_id, d.attempts, o.created, o.payload, s.email, s.nonce
		FROM subscriber_deliveries d JOIN outbox o ON o.id = d.outbox_id JOIN subscribers s ON s.id = d.subscriber_id
		WHERE d.sent IS NULL AND d.given_up IS NULL AND d.next_try <= ? ORDER BY d.next_try, d.outbox_id LIMIT ?`, now.UnixNano(), budget)
	if err != nil {
		return fmt.Errorf("read deliveries: %w", err)
	}
	var ds []due
	for rows.Next() {
		var x due
		var created int64
		if err := rows.Scan(&x.outbox, &x.subscriber, &x.attempts, &created, &x.payload, &x.email, &x.nonce); err != nil {
			rows.Close()
			return fmt.Errorf("read deliveries: %w", err)
		}
		x.created = time.Unix(0, created)
		ds = append(ds, x)
	}
	rows.Close()
	for _, x := range ds {
		if ctx.Err() != nil {
			return nil
		}
		if err := d.sendOne(ctx, x, now); err != nil {
			return err
		}
	}
	return nil
}

func (d *Sender) sendOne(ctx context.Context, x due, now time.Time) error {
	db := d.Store.DB
	if now.Sub(x.created) > d.MaxAge {
		_, err := db.ExecContext(ctx, `UPDATE subscriber_deliveries SET given_up = ?, last_error = 'too old to send' WHERE outbox_id = ? AND subscriber_id = ?`,
			now.UnixNano(), x.outbox, x.subscriber)
		return err
	}
	m, ok, err := d.render(ctx, x)
	if err != nil {
		return err
	}
	if !ok {
		_, err := db.ExecContext(ctx, `UPDATE subscriber_deliveries SET given_up = ?, last_error = 'nothing to say' WHERE outbox_id = ? AND subscriber_id = ?`,
			now.UnixNano(), x.outbox, x.subscriber)
		return err
	}
	sendCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err = d.Mailer.Send(sendCtx, m)
	cancel()
	if err == nil {
		d.sent.Inc()
		_, err := db.ExecContext(ctx, `UPDATE subscriber_deliveries SET sent = ?, attempts = attempts + 1, last_error = '' WHERE outbox_id = ? AND subscriber_id = ?`,
			now.UnixNano(), x.outbox, x.subscriber)
		return err
	}
	d.failed.Inc()
	backoff := min(30*time.Second<<min(x.attempts, 6), 30*time.Minute)
	backoff = backoff/2 + rand.N(backoff/2+1)
	// The address stays out of the log: it is personal data.
	d.Logger.Warn("status notice not delivered; will retry", "outbox", x.outbox, "subscriber", x.subscriber, "attempt", x.attempts+1,
		"retry_in", backoff.Round(time.Second), "err", err)
	_, err = db.ExecContext(ctx, `UPDATE subscriber_deliveries SET attempts = attempts + 1, next_try = ?, last_error = ? WHERE outbox_id = ? AND subscriber_id = ?`,
		now.Add(backoff).UnixNano(), err.Error(), x.outbox, x.subscriber)
	return err
}
