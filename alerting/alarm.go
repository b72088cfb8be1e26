package alerting

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// RaiseLoghost is FireLoghost in a transaction of its own, for alarms
// that have no state change to commit with (the syslog listener full,
// say): it resolves by itself once it has not fired for quiet.
func RaiseLoghost(ctx context.Context, db *sql.DB, key, severity, title, text string, now time.Time, quiet time.Duration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("loghost incident: %w", err)
	}
	defer tx.Rollback()
	if _, _, err := FireLoghost(ctx, tx, key, severity, title, text, now, quiet); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("loghost incident: %w", err)
	}
	return nil
}
