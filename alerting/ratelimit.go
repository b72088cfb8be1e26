package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// rateWindow is the span a receiver's rate limit counts messages over.
const rateWindow = time.Minute

// allow says whether a receiver may have one more message now: fewer
// than per messages (batches) went to its channels in the last minute.
// The count comes from the deliveries' sent times, so a restart (or a
// crash loop) does not open a fresh window. When the receiver is full it
// says when its oldest message in the window leaves it.
func (d *Dispatcher) allow(ctx context.Context, rcName string, per int, now time.Time) (bool, time.Time, error) {
	if per <= 0 {
		return true, now, nil
	}
	chans, _ := json.Marshal(d.cfg.Receivers[rcName].channels(rcName))
	var n int
	var oldest *int64
	err := d.db.QueryRowContext(ctx, `SELECT count(*), min(sent) FROM (SELECT min(sent) AS sent FROM deliveries
		WHERE receiver IN (SELECT value FROM json_each(?)) AND sent > ? AND sent <= ?
		GROUP BY receiver, coalesce(batch, -outbox_id))`,
		string(chans), now.Add(-rateWindow).UnixNano(), now.UnixNano()).Scan(&n, &oldest)
	if err != nil {
		return false, now, fmt.Errorf("rate limit: %w", err)
	}
	if n < per || oldest == nil {
		return true, now, nil
	}
	return false, time.Unix(0, *oldest).Add(rateWindow), nil
}
