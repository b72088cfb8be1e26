package alerting

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
	"github.com/watchpost/watchpost/config"
)

// Notifier is a chat or push receiver (ntfy, Gotify, Slack, Discord,
// Telegram, Pushover): it sends one notification and may return a
// reference to what it posted (a message id) that later messages of the
// same incident thread under or update.
type Notifier interface {
	Notify(ctx context.Context, n Notification) (ref string, err error)
	// Describe says where it sends, for route-test (no secrets).
	Describe() string
}

// Notification is one message to a Notifier.
type Notification struct {
	// ID is the same on every retry of one message, for services that
	// drop duplicates by it.
	ID    string
	Alert msgtmpl.Alert
	// Thread is the reference the incident's first message got at this
	// receiver ("" for a first message, or when there is none).
	Thread string
}

// defaultSubject is the chat and push services' title: the message's
// subject, and for a recovery a title that says so at a glance (the
// email subject stays the incident's, for threading).
const defaultSubject = `{{ if eq .State "resolved" }}RESOLVED: {{ .Title }}{{ else }}{{ .Subject }}{{ end }}`

// notifierKinds are the channel kinds of the notifiers, in the order a
// receiver's channels are listed.
var notifierKinds = []string{"ntfy", "gotify", "slack", "discord", "telegram", "pushover"}

// notification is the Notifier form of a message: its alert object and,
// for a follow-up, the reference of the incident's first message at the
// same channel (as Matrix threads).
func (d *Dispatcher) notification(ctx context.Context, rows []row, m Message) Notification {
	r := rows[0]
	n := Notification{ID: fmt.Sprintf("%s.b%d", d.cfg.Hostname, r.batch)}
	if m.Alert != nil {
		n.Alert = *m.Alert
	} else {
		n.Alert = d.alertData(ctx, rows, m)
	}
	inc, ev := eventOf(r.payload)
	if len(rows) == 1 && inc > 0 && r.kind != "check_down" && ev != EventOpened && r.kind != "flap_start" && r.kind != "flap_stop" {
		var root string
		err := d.db.QueryRowContext(ctx, `SELECT d.ref FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
			WHERE d.receiver = ? AND d.ref != '' AND json_valid(o.payload) AND json_extract(o.payload, '$.incident') = ? AND `+openingRow+`
			ORDER BY o.id LIMIT 1`, r.receiver, inc).Scan(&root)
		if err == nil {
			n.Thread = root
		}
	}
	return n
}

// withAlert gives a message the alert object its templates see.
func (d *Dispatcher) withAlert(ctx context.Context, rows []row, m Message) Message {
	a := d.alertData(ctx, rows, m)
	m.Alert = &a
	return m
}

// alertData is the alert object templates see, made from the rows of
// one message and its default rendering.
func (d *Dispatcher) alertData(ctx context.Context, rows []row, m Message) msgtmpl.Alert {
	r := rows[0]
	last := rows[len(rows)-1]
	var p struct {
		Check, From, To, Detail, Source, Title, Severity, Line, Text, Event, By, Host string
		Since, Time, Started                                                          time.Time
		Labels                                                                        map[string]string
		Incident                                                                      int64
	}
	json.Unmarshal(r.payload, &p)
	rcName, _ := splitChannel(r.receiver)
	a := msgtmpl.Alert{Subject: m.Subject, Text: m.Text, Kind: r.kind, Count: len(rows), Receiver: rcName,
		Check: p.Check, Line: p.Line, Detail: p.Detail, Incident: p.Incident, Severity: p.Severity, Title: p.Title}
	a.Labels = map[string]string{}
	for k, v := range p.Labels {
		a.Labels[k] = v
	}
	for k, v := range r.labels {
		a.Labels[k] = v
	}
	a.Host = cmp.Or(p.Host, a.Labels["host"])
	a.Title = cmp.Or(a.Title, p.Check, a.Host)
	a.State = "firing"
	if isResolved(last.kind, last.payload) {
		a.State = "resolved"
	}
	if a.Severity == "" {
		a.Severity = a.Labels["severity"]
	}
	if a.Severity == "" {
		switch r.kind {
		case "check_degraded", "flap_start", "flap_stop", "host_silent", "host_back":
			a.Severity = "warning"
		case KindMonthlyReport:
			a.Severity = "info"
		default:
			a.Severity = "critical"
		}
	}
	if _, ev := eventOf(last.payload); ev == EventUpdate || ev == EventResolved {
		a.Update = p.Text
		if ev == EventResolved && a.Update == "" {
			a.Update = "resolved"
			if p.By != "" {
				a.Update = "resolved by " + p.By
			}
		}
	}
	a.Start = firstNonZero(p.Started, p.Since, p.Time, r.created)
	end := d.cfg.Now()
	if inc, _ := eventOf(last.payload); inc > 0 {
		a.Incident = inc
		var started int64
		var resolved sql.NullInt64
		if err := d.db.QueryRowContext(ctx, `SELECT started, resolved FROM incidents WHERE id = ?`, inc).Scan(&started, &resolved); err == nil {
			a.Start = time.Unix(0, started).UTC()
			if resolved.Valid && a.State == "resolved" {
				end = time.Unix(0, resolved.Int64)
			}
		}
		if d.cfg.PublicURL != "" {
			a.URL = IncidentURL(d.cfg.PublicURL, inc)
		}
	}
	if !a.Start.IsZero() && end.After(a.Start) {
		a.Duration = end.Sub(a.Start)
	}
	a.Start = a.Start.UTC()
	return a
}

func firstNonZero(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// serviceClient is the HTTP client of the notifiers: no timeout of its
// own (each attempt's context carries the dispatcher's deadline), no
// redirects followed (a webhook URL that moved is a configuration to fix,
// and a redirect must not carry a token elsewhere).
func serviceClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// apiCall is one request to a service's API and what came of it.
type apiCall struct {
	receiver, service string
	client            *http.Client
	method, url       string
	header            http.Header
	body              []byte
	// secretURL: the URL holds the credential (a webhook URL, a bot
	// token): errors name only its scheme and host.
	secretURL bool
}

// apiError is a refusal's detail read from the answer's body.
type apiError func(body []byte) string

// do sends the request; 2xx returns the body. 429 and 5xx are retried
// (after the service's Retry-After when it gives one); other 4xx are a
// PermanentError naming the receiver: the configuration must change.
func (c apiCall) do(ctx context.Context, detail apiError) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, bytes.NewReader(c.body))
	if err != nil {
		return nil, &PermanentError{Msg: fmt.Sprintf("receiver %s, %s: bad URL %s", c.receiver, c.service, c.shownURL())}
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "watchpost")
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold the token
		}
		return nil, fmt.Errorf("receiver %s, %s: %s %s: %w", c.receiver, c.service, c.method, c.shownURL(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return body, nil
	}
	why := resp.Status
	if detail != nil {
		if s := detail(body); s != "" {
			why += ": " + s
		}
	} else if s := strings.TrimSpace(string(body)); s != "" && len(s) < 300 && !strings.Contains(s, "<") {
		why += ": " + s
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return nil, &RetryAfterError{Wait: retryAfter(resp.Header, body), Msg: fmt.Sprintf("receiver %s, %s: %s", c.receiver, c.service, why)}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, &PermanentError{Msg: fmt.Sprintf("receiver %s, %s: %s (redirected to %s; fix the URL)", c.receiver, c.service, why, RedactURL(resp.Header.Get("Location")))}
	}
	return nil, &PermanentError{Msg: fmt.Sprintf("receiver %s, %s refuses: %s (check its configuration)", c.receiver, c.service, why)}
}

func (c apiCall) shownURL() string {
	if c.secretURL {
		return RedactURL(c.url)
	}
	return c.url
}

// retryAfter reads how long a service asked to wait: the Retry-After
// header (seconds or a date), else a JSON body's retry_after (Discord:
// seconds, possibly fractional; Telegram: parameters.retry_after).
func retryAfter(h http.Header, body []byte) time.Duration {
	if s := h.Get("Retry-After"); s != "" {
		if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 {
			return capWait(time.Duration(n * float64(time.Second)))
		}
		if t, err := http.ParseTime(s); err == nil {
			return capWait(time.Until(t))
		}
	}
	var b struct {
		RetryAfter float64 `json:"retry_after"`
		Parameters struct {
			RetryAfter float64 `json:"retry_after"`
		} `json:"parameters"`
	}
	if json.Unmarshal(body, &b) == nil {
		if b.RetryAfter > 0 {
			return capWait(time.Duration(b.RetryAfter * float64(time.Second)))
		}
		if b.Parameters.RetryAfter > 0 {
			return capWait(time.Duration(b.Parameters.RetryAfter * float64(time.Second)))
		}
	}
	return 0
}

// capWait keeps a service's wait between a second and an hour: a wait of
// 0 would retry at once, a day would lose the alert.
func capWait(d time.Duration) time.Duration {
	return min(max(d, time.Second), time.Hour)
}

// render runs a configured template, or the receiver's default.
func render(t, def *msgtmpl.Template, a msgtmpl.Alert) (string, error) {
	if t == nil {
		t = def
	}
	return t.Execute(a)
}

// parseOptional parses a configured template; "" is none.
func parseOptional(key, src string) (*msgtmpl.Template, error) {
	if src == "" {
		return nil, nil
	}
	return msgtmpl.Parse(key, src, nil)
}

// clipRunes cuts s to n characters for a service's field limit.
func clipRunes(s string, n int) string { return msgtmpl.Trunc(n, s) }

// stateEmoji marks a message for the eye in services without colours.
func stateWord(a msgtmpl.Alert) string {
	if a.State == "resolved" {
		return "RESOLVED"
	}
	return strings.ToUpper(a.Severity)
}

// addNotifiers builds the receiver's chat and push destinations, and
// its webhook's templates.
func (rc *Receiver) addNotifiers(name string, s config.Services, w *config.Webhook) error {
	if w != nil && rc.Webhook != nil {
		if err := rc.Webhook.setTemplates(w); err != nil {
			return fmt.Errorf("webhook: %w", err)
		}
	}
	add := func(kind string, n Notifier, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		if rc.Notifiers == nil {
			rc.Notifiers = map[string]Notifier{}
		}
		rc.Notifiers[kind] = n
		rc.describe = append(rc.describe, n.Describe())
		return nil
	}
	var errs []error
	if s.Ntfy != nil {
		n, err := NewNtfy(name, s.Ntfy)
		errs = append(errs, add("ntfy", n, err))
	}
	if s.Gotify != nil {
		n, err := NewGotify(name, s.Gotify)
		errs = append(errs, add("gotify", n, err))
	}
	if s.Slack != nil {
		n, err := NewSlack(name, s.Slack)
		errs = append(errs, add("slack", n, err))
	}
	if s.Discord != nil {
		n, err := NewDiscord(name, s.Discord)
		errs = append(errs, add("discord", n, err))
	}
	if s.Telegram != nil {
		n, err := NewTelegram(name, s.Telegram)
		errs = append(errs, add("telegram", n, err))
	}
	if s.Pushover != nil {
		n, err := NewPushover(name, s.Pushover)
		errs = append(errs, add("pushover", n, err))
	}
	return errors.Join(errs...)
}
