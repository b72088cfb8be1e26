package server

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/watchpost/watchpost/store"
)

// hostStats is the loghost's built-in stream consumer: lines and bytes per
// host and day, committed with its cursor, so its counts equal what the
// store holds, neither doubled nor short after any crash. The dashboard
// shows them; the crash tests check them.
type hostStats struct {
	loc *time.Location
}

const hostStatsConsumer = "hoststats"

func (h *hostStats) consume(ctx context.Context, tx *sql.Tx, recs []store.Record) error {
	type key struct{ host, day string }
	agg := map[key][2]int64{}
	for i := range recs {
		r := &recs[i]
		if r.Kind != store.KindLog {
			continue
		}
		k := key{r.Host, r.Time.In(h.loc).Format("2006-01-02")}
		v := agg[k]
		v[0]++
		v[1] += int64(len(r.Raw))
		agg[k] = v
	}
	for k, v := range agg {
		if _, err := tx.ExecContext(ctx, `INSERT INTO host_daily(host, day, lines, bytes) VALUES(?,?,?,?)
			ON CONFLICT(host, day) DO UPDATE SET lines = lines + excluded.lines, bytes = bytes + excluded.bytes`,
			k.host, k.day, v[0], v[1]); err != nil {
			return fmt.Errorf("host stats: %w", err)
		}
	}
	return nil
}
