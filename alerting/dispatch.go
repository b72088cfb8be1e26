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
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
)

// Message is one rendered notification.
type Message struct {
	Subject   string
	Text      string
	HTML      string
	MessageID string // without angle brackets
	InReplyTo string // the incident's first message, for threading
	// Alert is what message templates see (set when it is sent).
	Alert *msgtmpl.Alert
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
	Email   Sender       // nil: no email receiver configured
	Matrix  MatrixSender // nil: no Matrix receiver configured
	Webhook *Webhook     // nil: no webhook
	// Receivers are the named receivers (BuildReceivers); "default", when
	// absent, is made of Email, Matrix and Webhook above.
	Receivers map[string]Receiver
	// Router picks the receivers of an alert; nil sends everything to
	// the default receiver at once.
	Router *Router
	// Checks adds configured labels, the heartbeat source and check-level
	// dependencies to check rows.
	Checks map[string]CheckInfo
	// Flap detects flapping checks (zero: Nagios' 50 % / 25 %).
	Flap FlapDetector
	// Maintenance, when set, mutes alerts a maintenance window covers
	// (recorded as suppressed "maintenance"); an outage still down when
	// its window ends is sent then.
	Maintenance MaintenanceFunc
	// HostSilentAfter, when set, has each Drain look for collectors that
	// stopped reporting (see CheckHosts).
	HostSilentAfter time.Duration
	// RuleResolveAfter resolves a rule alert's incident that has not
	// fired again for this long (0: DefaultRuleResolveAfter); a rule's
	// resolve_after label overrides it.
	RuleResolveAfter time.Duration
	// Disk, when set, watches the loghost's own storage (see DiskWatcher).
	Disk     *DiskWatcher
	Hostname string // the right side of Message-IDs
	// PublicURL (server.public_url), when set, puts a link to the
	// incident's admin page in every message about an incident.
	PublicURL string
	MaxAge    time.Duration
	// SendTimeout bounds one attempt at one channel (default 30 s): a
	// receiver that hangs is given up on for this try and retried later.
	SendTimeout time.Duration
	Every       time.Duration // how often the outbox is looked at (2 s)
	Now         func() time.Time
	Metrics     *metrics.Set
	Logger      *slog.Logger
}

// Dispatcher drains the outbox.
type Dispatcher struct {
	db  *sql.DB
	cfg Config

	sent, failed, givenUp, skipped, suppressed *metrics.Counter

	flushes map[string]time.Time // expand's cache of group flush times

	// busy holds the channels whose worker is sending; workers counts
	// the workers, so that Run returns only after they did.
	mu      sync.Mutex
	busy    map[string]bool
	workers sync.WaitGroup
}

// New returns a dispatcher over the store's write handle.
func New(db *sql.DB, cfg Config) *Dispatcher {
	if cfg.MaxAge == 0 {
		cfg.MaxAge = 24 * time.Hour
	}
	if cfg.Every == 0 {
		cfg.Every = 2 * time.Second
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = 30 * time.Second
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
	if cfg.Receivers == nil {
		cfg.Receivers = map[string]Receiver{}
	}
	if _, ok := cfg.Receivers[DefaultReceiver]; !ok {
		cfg.Receivers[DefaultReceiver] = Receiver{Email: cfg.Email, Matrix: cfg.Matrix, Webhook: cfg.Webhook}
	}
	if cfg.Flap.High == 0 {
		cfg.Flap = FlapDetector{High: 50, Low: 25}
	}
	d := &Dispatcher{db: db, cfg: cfg, busy: map[string]bool{},
		sent:       cfg.Metrics.NewCounter(`watchpost_alerts_sent_total`),
		failed:     cfg.Metrics.NewCounter(`watchpost_alerts_send_failures_total`),
		givenUp:    cfg.Metrics.NewCounter(`watchpost_alerts_given_up_total`),
		skipped:    cfg.Metrics.NewCounter(`watchpost_alerts_not_sent_total`),
		suppressed: cfg.Metrics.NewCounter(`watchpost_alerts_suppressed_total`),
	}
	cfg.Metrics.NewGauge(`watchpost_alerts_pending`, func() float64 {
		var n int
		db.QueryRow(`SELECT (SELECT count(*) FROM outbox WHERE sent IS NULL AND given_up IS NULL) +
			(SELECT count(*) FROM deliveries WHERE sent IS NULL AND given_up IS NULL)`).Scan(&n)
		return float64(n)
	})
	return d
}

// newRowsEvery is how often Run looks for new outbox rows between full
// passes: one indexed lookup, so an alert waits a fifth of a second, not
// a whole pass interval, before it is routed and sent.
const newRowsEvery = 200 * time.Millisecond

// Run drains the outbox until ctx ends: a full pass every Every, and at
// once when new rows appear.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(min(newRowsEvery, d.cfg.Every))
	defer t.Stop()
	defer d.workers.Wait()
	var seen int64
	lastPass := time.Time{}
	for n := 0; ; {
		var top sql.NullInt64
		_ = d.db.QueryRowContext(ctx, `SELECT max(id) FROM outbox`).Scan(&top)
		if top.Int64 == seen && time.Since(lastPass) < d.cfg.Every {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			continue
		}
		seen, lastPass = top.Int64, time.Now()
		n++
		if err := d.drain(ctx, false); err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("alert outbox", "err", err)
		}
		if n%1800 == 0 {
			// Delivered and abandoned notifications are kept 30 days, for
			// the record of attempts.
			cut := d.cfg.Now().Add(-30 * 24 * time.Hour).UnixNano()
			for _, q := range []string{`DELETE FROM outbox WHERE sent < ? OR given_up < ?`,
				`DELETE FROM silences WHERE ends < ? AND ends < ?`,
				`DELETE FROM alert_groups WHERE last_flush < ? AND last_flush < ?`} {
				if _, err := d.db.ExecContext(ctx, q, cut, cut); err != nil && ctx.Err() == nil {
					d.cfg.Logger.Warn("prune outbox", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Drain makes one pass: reminders, escalations and flapping checks that
// calmed down are queued, new notifications are routed (a delivery per
// receiver, or a note why none), then what is due is sent, a group of
// deliveries as one message.
//
// Drain waits for what it sends; Run's passes do not (see send).
func (d *Dispatcher) Drain(ctx context.Context) error {
	return d.drain(ctx, true)
}

func (d *Dispatcher) drain(ctx context.Context, wait bool) error {
	now := d.cfg.Now()
	// The disk first: when it is full the writes below fail, and its
	// incident is what says why.
	if d.cfg.Disk != nil {
		if err := d.cfg.Disk.Check(ctx, now); err != nil {
			d.cfg.Logger.Warn("loghost disk", "err", err)
		}
	}
	if err := d.autoResolve(ctx, now); err != nil {
		return err
	}
	if err := d.remind(ctx, now); err != nil {
		return err
	}
	if err := d.flapCalm(ctx, now); err != nil {
		return err
	}
	if d.cfg.HostSilentAfter > 0 {
		if err := CheckHosts(ctx, d.db, now, d.cfg.HostSilentAfter); err != nil {
			return err
		}
	}
	if err := d.maintenanceEnded(ctx, now); err != nil {
		return err
	}
	if err := d.expand(ctx, now); err != nil {
		return err
	}
	return d.send(ctx, now, wait)
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
	// Reminders, escalations and flapping notices carry these.
	// An incident of another source than a check: its source, title and
	// labels (Check is empty).
	Source    string            `json:"source,omitempty"`
	Title     string            `json:"title,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Reminder  int               `json:"reminder,omitempty"`
	Percent   float64           `json:"percent,omitempty"`
	Receivers []string          `json:"receivers,omitempty"`
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
