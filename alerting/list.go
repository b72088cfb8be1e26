package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// IncidentInfo is an incident of any source as the admin page and the API
// show it. The field names ID, Check, Title, Public, Started and Resolved
// are those GET /api/v1/incidents always had.
type IncidentInfo struct {
	ID         int64             `json:"ID"`
	Check      string            `json:"Check"`
	Title      string            `json:"Title"`
	Public     bool              `json:"Public"`
	Started    time.Time         `json:"Started"`
	Resolved   time.Time         `json:"Resolved"` // zero while open
	Source     string            `json:"source"`
	Key        string            `json:"key"`
	Labels     map[string]string `json:"labels"`
	Severity   string            `json:"severity"`
	State      string            `json:"state"` // firing, acknowledged, resolved
	Fired      int               `json:"fired"`
	LastFired  time.Time         `json:"last_fired"`
	Acked      time.Time         `json:"acked"`
	AckedBy    string            `json:"acked_by"`
	ResolvedBy string            `json:"resolved_by"`
}

// ListIncidents returns the open incidents of every source, newest
// first, then the most recent resolved ones, limit in all.
func ListIncidents(ctx context.Context, db *sql.DB, limit int) ([]IncidentInfo, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, check_name, title, public, started, resolved, source, incident_key, labels, severity,
		fired, last_fired, acked, acked_by, resolved_by FROM incidents
		ORDER BY resolved IS NOT NULL, started DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	out := []IncidentInfo{}
	for rows.Next() {
		var in IncidentInfo
		var started int64
		var resolved, lastFired, acked sql.NullInt64
		var labels string
		if err := rows.Scan(&in.ID, &in.Check, &in.Title, &in.Public, &started, &resolved, &in.Source, &in.Key, &labels, &in.Severity,
			&in.Fired, &lastFired, &acked, &in.AckedBy, &in.ResolvedBy); err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		json.Unmarshal([]byte(labels), &in.Labels)
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
		out = append(out, in)
	}
	return out, rows.Err()
}
