package alerting

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// FireLoghost opens, or keeps open, a source=loghost incident about the
// loghost itself (its syslog listener full, say), with text saying what
// happened. It resolves by itself once it has not fired for quiet.
func FireLoghost(ctx context.Context, db *sql.DB, key, severity, title, text string, now time.Time, quiet time.Duration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("loghost incident: %w", err)
	}
	defer tx.Rollback()
	labels := map[string]string{"source": SourceLoghost, "service": "loghost", "severity": severity}
	ev := incidentEvent{Source: SourceLoghost, Key: key, Title: title, Severity: severity, Labels: labels,
		Started: now.UTC(), Time: now.UTC(), Text: text, Fired: 1}
	if _, _, err := Fire(ctx, tx, Alert{Source: SourceLoghost, Key: key, Labels: labels, Severity: severity, Title: title,
		Time: now, Kind: KindIncident, Payload: ev, ResolveAfter: quiet}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("loghost incident: %w", err)
	}
	return nil
}
