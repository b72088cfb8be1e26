package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// SourceManual is the source of an incident an admin opened by hand (an
// announcement on the status page, POST /api/v1/incidents).
const SourceManual = "manual"

// IncidentInfo is an incident of any source as the admin pages and the
// API show it. Its JSON (MarshalJSON) is the one documented shape of
// GET /api/v1/incidents: snake_case keys, null for what is not known.
type IncidentInfo struct {
	ID int64
	// Source is check, heartbeat, rule, metric, host_silent, loghost or
	// manual.
	Source string
	// Check is the check or heartbeat of such an incident ("" for others).
	Check string
	Key   string // the incident's key within its source ("" for checks)
	Title string
	// Public incidents are on the status page; Components are the public
	// checks they concern.
	Public     bool
	Components []string
	Labels     map[string]string
	Severity   string // "" unknown; checks' and heartbeats' are critical
	State      string // firing, acknowledged, resolved
	Started    time.Time
	Resolved   time.Time // zero while open
	Fired      int
	LastFired  time.Time
	Acked      time.Time
	AckedBy    string
	ResolvedBy string
	URL        string // its admin page, when server.public_url is set
}

// incidentJSON is IncidentInfo on the wire.
type incidentJSON struct {
	ID         int64             `json:"id"`
	Source     string            `json:"source"`
	Check      *string           `json:"check"`
	Key        *string           `json:"key"`
	Title      string            `json:"title"`
	Public     bool              `json:"public"`
	Components []string          `json:"components"`
	Labels     map[string]string `json:"labels"`
	Severity   *string           `json:"severity"`
	State      string            `json:"state"`
	Started    time.Time         `json:"started"`
	Resolved   *time.Time        `json:"resolved"`
	Fired      int               `json:"fired"`
	LastFired  *time.Time        `json:"last_fired"`
	Acked      *time.Time        `json:"acked"`
	AckedBy    *string           `json:"acked_by"`
	ResolvedBy *string           `json:"resolved_by"`
	URL        *string           `json:"url"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// MarshalJSON writes the API's shape.
func (in IncidentInfo) MarshalJSON() ([]byte, error) {
	j := incidentJSON{ID: in.ID, Source: in.Source, Check: strPtr(in.Check), Key: strPtr(in.Key), Title: in.Title, Public: in.Public,
		Components: in.Components, Labels: in.Labels, Severity: strPtr(in.Severity), State: in.State, Started: in.Started.UTC(),
		Resolved: timePtr(in.Resolved), Fired: in.Fired, LastFired: timePtr(in.LastFired), Acked: timePtr(in.Acked),
		AckedBy: strPtr(in.AckedBy), ResolvedBy: strPtr(in.ResolvedBy), URL: strPtr(in.URL)}
	if j.Components == nil {
		j.Components = []string{}
	}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the API's shape back (clients and tests).
func (in *IncidentInfo) UnmarshalJSON(b []byte) error {
	var j incidentJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	dt := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return *p
	}
	*in = IncidentInfo{ID: j.ID, Source: j.Source, Check: deref(j.Check), Key: deref(j.Key), Title: j.Title, Public: j.Public,
		Components: j.Components, Labels: j.Labels, Severity: deref(j.Severity), State: j.State, Started: j.Started,
		Resolved: dt(j.Resolved), Fired: j.Fired, LastFired: dt(j.LastFired), Acked: dt(j.Acked), AckedBy: deref(j.AckedBy),
		ResolvedBy: deref(j.ResolvedBy), URL: deref(j.URL)}
	return nil
}

// ListOptions shape a list of incidents.
type ListOptions struct {
	Limit int // 200 when 0
	// Heartbeat tells which check names are heartbeats: their incidents
	// are stored as a check's and listed as source heartbeat.
	Heartbeat func(name string) bool
	// PublicURL, when set, gives each incident its page's URL.
	PublicURL string
	// Open lists only incidents not resolved.
	Open bool
}

// incidentCols are the columns scanIncident reads.
const incidentCols = `id, check_name, title, public, started, resolved, source, incident_key, labels, severity,
	fired, last_fired, acked, acked_by, resolved_by, components`

func scanIncident(sc interface{ Scan(...any) error }, o ListOptions) (IncidentInfo, error) {
	var in IncidentInfo
	var started int64
	var resolved, lastFired, acked sql.NullInt64
	var labels, components, name string
	if err := sc.Scan(&in.ID, &name, &in.Title, &in.Public, &started, &resolved, &in.Source, &in.Key, &labels, &in.Severity,
		&in.Fired, &lastFired, &acked, &in.AckedBy, &in.ResolvedBy, &components); err != nil {
		return in, err
	}
	json.Unmarshal([]byte(labels), &in.Labels)
	json.Unmarshal([]byte(components), &in.Components)
	if in.Source == "check" {
		in.Check = name
		if o.Heartbeat != nil && o.Heartbeat(name) {
			in.Source = "heartbeat"
		}
		// A check's incident is its outage: critical.
		in.Severity = cmpOr(in.Severity, "critical")
		if in.Public {
			in.Components = []string{name}
		}
		if in.Labels == nil {
			in.Labels = map[string]string{"check": name, "service": name}
		}
	}
	in.Started = time.Unix(0, started).UTC()
	in.State = "firing"
	if acked.Valid {
		in.Acked, in.State = time.Unix(0, acked.Int64).UTC(), "acknowledged"
	}
	if resolved.Valid {
		in.Resolved, in.State = time.Unix(0, resolved.Int64).UTC(), "resolved"
	}
	if lastFired.Valid {
		in.LastFired = time.Unix(0, lastFired.Int64).UTC()
	}
	if o.PublicURL != "" {
		in.URL = IncidentURL(o.PublicURL, in.ID)
	}
	return in, nil
}

// IncidentURL is the admin page of incident id under the loghost's
// public URL.
func IncidentURL(publicURL string, id int64) string {
	return fmt.Sprintf("%s/admin/incidents/%d", strings.TrimRight(publicURL, "/"), id)
}

// ListIncidents returns the open incidents of every source, newest
// first, then the most recent resolved ones, o.Limit in all.
func ListIncidents(ctx context.Context, db *sql.DB, o ListOptions) ([]IncidentInfo, error) {
	if o.Limit <= 0 {
		o.Limit = 200
	}
	where := ""
	if o.Open {
		where = "WHERE resolved IS NULL "
	}
	rows, err := db.QueryContext(ctx, `SELECT `+incidentCols+` FROM incidents `+where+`
		ORDER BY resolved IS NOT NULL, started DESC, id DESC LIMIT ?`, o.Limit)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	out := []IncidentInfo{}
	for rows.Next() {
		in, err := scanIncident(rows, o)
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// GetIncident returns one incident; ok is false when there is none.
func GetIncident(ctx context.Context, db *sql.DB, id int64, o ListOptions) (in IncidentInfo, ok bool, err error) {
	in, err = scanIncident(db.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = ?`, id), o)
	if err == sql.ErrNoRows {
		return in, false, nil
	}
	if err != nil {
		return in, false, fmt.Errorf("read incident %d: %w", id, err)
	}
	return in, true, nil
}
