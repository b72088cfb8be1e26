package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// watchingSinceName is the component_state row holding when this store
// first started watching (Unix nanoseconds, as text). Reports use it so a
// loghost never reports on time it was not running.
const watchingSinceName = "store.watching_since"

// recordWatchingSince writes the row once, on the first writable open. A
// store made before the row existed gets the time of its oldest data
// instead of now, so upgrading does not hide months it did watch.
func recordWatchingSince(ctx context.Context, db *sql.DB, now time.Time) error {
	since := now
	if t, ok, err := oldestData(ctx, db); err != nil {
		return err
	} else if ok && t.Before(since) {
		since = t
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO component_state(name, data) VALUES(?, ?) ON CONFLICT(name) DO NOTHING`,
		watchingSinceName, []byte(strconv.FormatInt(since.UnixNano(), 10))); err != nil {
		return fmt.Errorf("record watching since: %w", err)
	}
	return nil
}

// oldestData is the earliest time any stored row was written: the first
// host seen, the first probe sample, the first heartbeat ping.
func oldestData(ctx context.Context, db *sql.DB) (time.Time, bool, error) {
	var ns sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT MIN(t) FROM (
		SELECT MIN(first_seen) AS t FROM hosts
		UNION ALL SELECT MIN(time) FROM check_samples
		UNION ALL SELECT MIN(time) FROM heartbeat_pings)`).Scan(&ns)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("oldest data: %w", err)
	}
	if !ns.Valid {
		return time.Time{}, false, nil
	}
	return time.Unix(0, ns.Int64), true, nil
}

// WatchingSince is when the store behind db first started watching: the
// first start of the loghost that made it. A store that no loghost has
// opened for writing since the row was introduced answers with its oldest
// data; an empty one answers ok=false.
func WatchingSince(ctx context.Context, db *sql.DB) (since time.Time, ok bool, err error) {
	var b []byte
	err = db.QueryRowContext(ctx, `SELECT data FROM component_state WHERE name = ?`, watchingSinceName).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return oldestData(ctx, db)
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("watching since: %w", err)
	}
	ns, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("watching since %q: %w", b, err)
	}
	return time.Unix(0, ns), true, nil
}
