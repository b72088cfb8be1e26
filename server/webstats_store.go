package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/watchpost/watchpost/webstats"
)

// compactParts is how many parts a month collects before they are merged
// into its row. Adding a part costs what the batch holds; merging costs
// what the month holds (≈ 200 ms for 20,000 visitors), so it is done once
// every compactParts batches, and a report merges at most this many parts.
const compactParts = 32

// querier is what reading a month needs: a transaction of the consumer or
// a read-only one of the dashboard.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// storedDefs returns the definitions key k's month was built with, "" when
// nothing of it is stored yet.
func storedDefs(ctx context.Context, q querier, k webstats.MonthKey) (string, error) {
	var defs string
	err := q.QueryRowContext(ctx, `SELECT defs FROM webstats_months WHERE site = ?1 AND month = ?2
		UNION ALL SELECT defs FROM (SELECT defs FROM webstats_parts WHERE site = ?1 AND month = ?2 LIMIT 1) LIMIT 1`,
		k.Site, k.YearMonth()).Scan(&defs)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("webstats: definitions of %s: %w", k, err)
	}
	return defs, nil
}

// loadMonth merges k's row and parts; nil when nothing is stored.
func loadMonth(ctx context.Context, q querier, k webstats.MonthKey) (*webstats.Month, error) {
	m, _, err := loadMonthParts(ctx, q, k)
	return m, err
}

// loadMonthParts is loadMonth that also returns the highest part id it
// read, so that compaction drops only the parts it merged.
func loadMonthParts(ctx context.Context, q querier, k webstats.MonthKey) (*webstats.Month, int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT 0, data FROM webstats_months WHERE site = ?1 AND month = ?2
		UNION ALL SELECT id, data FROM webstats_parts WHERE site = ?1 AND month = ?2 ORDER BY 1`, k.Site, k.YearMonth())
	if err != nil {
		return nil, 0, fmt.Errorf("webstats: load %s: %w", k, err)
	}
	defer rows.Close()
	var month *webstats.Month
	var last int64
	for rows.Next() {
		var blob []byte
		if err := rows.Scan(&last, &blob); err != nil {
			return nil, 0, fmt.Errorf("webstats: load %s: %w", k, err)
		}
		var m webstats.Month
		if err := m.UnmarshalBinary(blob); err != nil {
			return nil, 0, fmt.Errorf("webstats: decode %s: %w", k, err)
		}
		if month == nil {
			month = &m
		} else if err := month.Merge(&m); err != nil {
			return nil, 0, fmt.Errorf("webstats: merge %s: %w", k, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("webstats: load %s: %w", k, err)
	}
	return month, last, nil
}

// addPart stores m as a new part of its month, and merges the month's
// parts into its row once there are compactParts of them.
func addPart(ctx context.Context, tx *sql.Tx, m *webstats.Month, now time.Time) error {
	k := m.Key
	data, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("webstats: encode %s: %w", k, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO webstats_parts(site, month, defs, data, added) VALUES(?,?,?,?,?)`,
		k.Site, k.YearMonth(), m.Definitions().Key(), data, now.Unix()); err != nil {
		return fmt.Errorf("webstats: save %s: %w", k, err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM webstats_parts WHERE site = ? AND month = ?`, k.Site, k.YearMonth()).Scan(&n); err != nil {
		return fmt.Errorf("webstats: count parts of %s: %w", k, err)
	}
	if n < compactParts {
		return nil
	}
	return compactMonth(ctx, tx, k, now)
}

// compactMonth merges k's parts into its row.
func compactMonth(ctx context.Context, tx *sql.Tx, k webstats.MonthKey, now time.Time) error {
	month, last, err := loadMonthParts(ctx, tx, k)
	if err != nil || month == nil {
		return err
	}
	data, err := month.MarshalBinary()
	if err != nil {
		return fmt.Errorf("webstats: encode %s: %w", k, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO webstats_months(site, month, data, updated, defs) VALUES(?,?,?,?,?)
		ON CONFLICT(site, month) DO UPDATE SET data = excluded.data, updated = excluded.updated`,
		k.Site, k.YearMonth(), data, now.Unix(), month.Definitions().Key()); err != nil {
		return fmt.Errorf("webstats: save %s: %w", k, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM webstats_parts WHERE site = ? AND month = ? AND id <= ?`, k.Site, k.YearMonth(), last); err != nil {
		return fmt.Errorf("webstats: drop merged parts of %s: %w", k, err)
	}
	return nil
}
