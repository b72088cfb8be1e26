package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/watchpost/watchpost/uptime"
)

// The sources of incidents besides checks and heartbeats (which the
// uptime tracker opens itself, source "check").
const (
	SourceRule    = "rule"
	SourceMetric  = "metric"
	SourceHost    = "host_silent"
	SourceLoghost = "loghost"
)

// Incident events, carried in an outbox payload's "event" beside its
// "incident": the row that opened the incident (its thread root), a
// change of an open one (a new severity), and its end.
const (
	EventOpened   = "opened"
	EventUpdate   = "update"
	EventResolved = "resolved"
)

// Alert is a source firing. Source and Key name the incident: the same
// pair firing again while it is open updates it instead of opening a
// second one. Kind and Payload are the outbox row that announces it
// (rendered by the kind's renderer); the incident id and event are
// added to the payload.
type Alert struct {
	Source   string
	Key      string // "" : the labels, sorted
	Labels   map[string]string
	Severity string
	Title    string
	Time     time.Time
	Kind     string // outbox kind: rule_alert, metric_threshold, host_silent, loghost_disk
	Payload  any    // a JSON object
	// ResolveAfter, when set, resolves the incident once it has not fired
	// for that long (rule alerts: they have no "ok" of their own).
	ResolveAfter time.Duration
}

// Fire opens the incident of a.Source and a.Key, or updates the open one,
// in tx, with its notification. A repeat at the same severity only
// counts (no second message); a new severity is announced as an update
// threaded under the incident.
func Fire(ctx context.Context, tx *sql.Tx, a Alert) (id int64, opened bool, err error) {
	if a.Source == "" || a.Source == "check" {
		return 0, false, fmt.Errorf("fire: source %q is not for Fire", a.Source)
	}
	if a.Key == "" {
		a.Key = Labels(a.Labels).String()
	}
	if a.Time.IsZero() {
		return 0, false, errors.New("fire: no time")
	}
	lj, _ := json.Marshal(a.Labels)
	var sev string
	err = tx.QueryRowContext(ctx, `SELECT id, severity FROM incidents WHERE source = ? AND incident_key = ? AND resolved IS NULL AND source != 'check'`,
		a.Source, a.Key).Scan(&id, &sev)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res, err := tx.ExecContext(ctx, `INSERT INTO incidents(check_name, title, public, started, source, incident_key, labels, severity, last_fired, resolve_after)
			VALUES(?,?,0,?,?,?,?,?,?,?)`, a.Source+":"+a.Key, a.Title, a.Time.UnixNano(), a.Source, a.Key, string(lj), a.Severity, a.Time.UnixNano(), int64(a.ResolveAfter))
		if err != nil {
			return 0, false, fmt.Errorf("open incident: %w", err)
		}
		id, _ = res.LastInsertId()
		return id, true, outbox(ctx, tx, a.Kind, a.Payload, id, EventOpened, a.Time)
	case err != nil:
		return 0, false, fmt.Errorf("find incident: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET fired = fired + 1, last_fired = max(coalesce(last_fired, 0), ?), severity = ?, labels = ?,
		resolve_after = ? WHERE id = ?`, a.Time.UnixNano(), a.Severity, string(lj), int64(a.ResolveAfter), id); err != nil {
		return 0, false, fmt.Errorf("update incident: %w", err)
	}
	if sev == a.Severity {
		return id, false, nil
	}
	return id, false, outbox(ctx, tx, a.Kind, a.Payload, id, EventUpdate, a.Time)
}

// Resolution ends an incident: Kind and Payload are its "resolved"
// message (nil Payload: a plain one saying Text).
type Resolution struct {
	Source, Key string
	Time        time.Time
	Text        string
	By          string // "" when the source recovered by itself
	Kind        string
	Payload     any
}

// Resolve resolves the open incident of r.Source and r.Key in tx and
// queues its "resolved" message, threaded under it. ok is false (and
// nothing is written) when no such incident is open.
func Resolve(ctx context.Context, tx *sql.Tx, r Resolution) (id int64, ok bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT id FROM incidents WHERE source = ? AND incident_key = ? AND resolved IS NULL AND source != 'check'`, r.Source, r.Key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("find incident: %w", err)
	}
	return id, true, resolveID(ctx, tx, id, r)
}

func resolveID(ctx context.Context, tx *sql.Tx, id int64, r Resolution) error {
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET resolved = ?, resolved_by = ? WHERE id = ? AND resolved IS NULL`,
		r.Time.UnixNano(), r.By, id); err != nil {
		return fmt.Errorf("resolve incident: %w", err)
	}
	kind, payload := r.Kind, r.Payload
	if payload == nil {
		ev, err := loadIncidentEvent(ctx, tx, id)
		if err != nil {
			return err
		}
		ev.Text, ev.Time, ev.By = r.Text, r.Time.UTC(), r.By
		kind, payload = KindIncident, ev
	}
	return outbox(ctx, tx, kind, payload, id, EventResolved, r.Time)
}

// KindIncident is the outbox kind of an incident message that has no
// source-specific form (a rule alert resolved after its quiet period or
// by hand).
const KindIncident = "incident"

// incidentEvent is the payload of KindIncident rows.
type incidentEvent struct {
	Source   string            `json:"source"`
	Key      string            `json:"key"`
	Title    string            `json:"title"`
	Severity string            `json:"severity"`
	Labels   map[string]string `json:"labels"`
	Started  time.Time         `json:"started"`
	Fired    int               `json:"fired"`
	Time     time.Time         `json:"time"`
	Text     string            `json:"text"`
	By       string            `json:"by,omitempty"`
	Incident int64             `json:"incident"`
	Event    string            `json:"event"`
}

func loadIncidentEvent(ctx context.Context, q rowQuerier, id int64) (incidentEvent, error) {
	var ev incidentEvent
	var started int64
	var labels string
	if err := q.QueryRowContext(ctx, `SELECT source, incident_key, title, severity, labels, started, fired FROM incidents WHERE id = ?`, id).
		Scan(&ev.Source, &ev.Key, &ev.Title, &ev.Severity, &labels, &started, &ev.Fired); err != nil {
		return ev, fmt.Errorf("read incident %d: %w", id, err)
	}
	json.Unmarshal([]byte(labels), &ev.Labels)
	ev.Started = time.Unix(0, started).UTC()
	return ev, nil
}

// outbox queues kind's payload with the incident and event added.
func outbox(ctx context.Context, tx *sql.Tx, kind string, payload any, incident int64, event string, at time.Time) error {
	if kind == "" {
		return nil // the source keeps the incident but announces nothing
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("outbox payload: %w", err)
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("outbox payload: not an object: %w", err)
	}
	m["incident"], _ = json.Marshal(incident)
	m["event"], _ = json.Marshal(event)
	p, _ := json.Marshal(m)
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, at.UnixNano(), kind, string(p)); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// ErrCheckIncident is returned when asked to resolve a check's incident
// by hand: it ends when the check recovers.
var ErrCheckIncident = errors.New("a check's or heartbeat's incident resolves when it recovers")

// ResolveByHand resolves an open incident for who (the admin page's and
// the API's "resolve"), with its message. ok is false when it is not
// open.
func ResolveByHand(ctx context.Context, db *sql.DB, id int64, who string, now time.Time) (ok bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("resolve incident: %w", err)
	}
	defer tx.Rollback()
	var source string
	err = tx.QueryRowContext(ctx, `SELECT source FROM incidents WHERE id = ? AND resolved IS NULL`, id).Scan(&source)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("resolve incident: %w", err)
	}
	if source == "check" {
		return false, ErrCheckIncident
	}
	if source == SourceManual {
		// Opened by hand, on the status page: its end is a public update
		// (and a notice to its subscribers), not an alert.
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET resolved = ?, resolved_by = ? WHERE id = ?`, now.UnixNano(), who, id); err != nil {
			return false, fmt.Errorf("resolve incident: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_updates(incident_id, time, status, message) VALUES(?,?,'resolved','Resolved.')`,
			id, now.UnixNano()); err != nil {
			return false, fmt.Errorf("resolve incident: %w", err)
		}
		if err := uptime.StatusNotice(ctx, tx, now, id, EventResolved); err != nil {
			return false, err
		}
	} else if err := resolveID(ctx, tx, id, Resolution{Time: now, By: who, Text: "Resolved by " + who + "."}); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("resolve incident: %w", err)
	}
	return true, nil
}

// autoResolve ends the incidents that resolve by going quiet (rule
// alerts): no firing for their resolve_after, or the configured default.
func (d *Dispatcher) autoResolve(ctx context.Context, now time.Time) error {
	def := d.cfg.RuleResolveAfter
	if def == 0 {
		def = DefaultRuleResolveAfter
	}
	// Rule alerts, and the loghost's own alarms that said when they end
	// (FireLoghost; the disk watcher resolves its own).
	rows, err := d.db.QueryContext(ctx, `SELECT id FROM incidents WHERE resolved IS NULL AND (source = ? OR source = ? AND resolve_after > 0)
		AND coalesce(last_fired, started) + CASE WHEN resolve_after > 0 THEN resolve_after ELSE ? END <= ?`, SourceRule, SourceLoghost, int64(def), now.UnixNano())
	if err != nil {
		return fmt.Errorf("read quiet incidents: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("read quiet incidents: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("resolve quiet incident: %w", err)
		}
		if err := resolveID(ctx, tx, id, Resolution{Time: now, Text: "No longer firing."}); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("resolve quiet incident: %w", err)
		}
	}
	return nil
}

// DefaultRuleResolveAfter is how long a rule alert's incident stays open
// without firing again (Alertmanager's resolve_timeout is 5 minutes; log
// rules fire more sparsely).
const DefaultRuleResolveAfter = time.Hour

// eventOf reads the incident and event a payload carries (zero for rows
// written before incidents covered every source).
func eventOf(payload []byte) (incident int64, event string) {
	var x struct {
		Incident int64  `json:"incident"`
		Event    string `json:"event"`
	}
	json.Unmarshal(payload, &x)
	return x.Incident, x.Event
}

// ResolveAfterLabel is the label a rule's alert action may set to
// override Config.RuleResolveAfter for its incidents ("30m", "2h").
const ResolveAfterLabel = "resolve_after"

// RuleAlert is the incident form of a rule's alert action, firing at now:
// keyed by its title and labels, so the same rule matching the same
// thing again updates one incident.
func RuleAlert(severity, title string, labels map[string]string, now time.Time, payload any) Alert {
	l := make(map[string]string, len(labels)+1)
	for k, v := range labels {
		if k != ResolveAfterLabel {
			l[k] = v
		}
	}
	var after time.Duration
	if v := labels[ResolveAfterLabel]; v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			after = d
		}
	}
	l["alertname"] = title
	key := Labels(l).String()
	delete(l, "alertname")
	return Alert{Source: SourceRule, Key: key, Labels: l, Severity: cmpOr(severity, "warning"), Title: title, Time: now,
		Kind: "rule_alert", Payload: payload, ResolveAfter: after}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
