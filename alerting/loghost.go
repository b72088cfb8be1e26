package alerting

import (
	"context"
	"database/sql"
	"time"
)

// FireLoghost opens (or counts again) a source=loghost incident about the
// loghost's own work — the rules' command queue full, say — named by key,
// with text saying what was lost and what to do. It is announced as a
// plain incident message. With quiet > 0 it resolves by itself once it
// has not fired for that long; else only ResolveLoghost resolves it.
func FireLoghost(ctx context.Context, tx *sql.Tx, key, severity, title, text string, now time.Time, quiet time.Duration) (int64, bool, error) {
	labels := map[string]string{"source": SourceLoghost, "service": "loghost", "severity": severity, "problem": key}
	ev := incidentEvent{Source: SourceLoghost, Key: key, Title: title, Severity: severity, Labels: labels,
		Started: now.UTC(), Fired: 1, Time: now.UTC(), Text: text}
	return Fire(ctx, tx, Alert{Source: SourceLoghost, Key: key, Labels: labels, Severity: severity, Title: title,
		Time: now, Kind: KindIncident, Payload: ev, ResolveAfter: quiet})
}

// ResolveLoghost resolves the open FireLoghost incident of key, if any.
func ResolveLoghost(ctx context.Context, tx *sql.Tx, key, text string, now time.Time) (bool, error) {
	_, ok, err := Resolve(ctx, tx, Resolution{Source: SourceLoghost, Key: key, Time: now, Text: text})
	return ok, err
}
