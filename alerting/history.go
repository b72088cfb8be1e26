package alerting

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// IncidentNotification is one outbox row about an incident (its opening, an
// update, a reminder, its end, a status notice) with what became of it
// at each receiver.
type IncidentNotification struct {
	ID      int64     `json:"id"`
	Created time.Time `json:"created"`
	Kind    string    `json:"kind"`
	Event   string    `json:"event,omitempty"`
	// Note says why the row went to no receiver ("not sent: ...",
	// "suppressed: silenced by #3 ..."); "" when it was routed.
	Note       string     `json:"note,omitempty"`
	Pending    bool       `json:"pending"` // not routed yet
	Deliveries []Delivery `json:"deliveries"`
	// Subscribers counts a status notice's deliveries to the status
	// page's subscribers (never who they are).
	Subscribers *SubscriberCounts `json:"subscribers,omitempty"`
}

// Delivery is one notification at one receiver channel.
type Delivery struct {
	Receiver string `json:"receiver"`
	// State is sent, retrying (LastError says why), waiting (for its
	// group or the receiver's rate), given_up, or muted (Why).
	State     string     `json:"state"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error,omitempty"`
	Why       string     `json:"why,omitempty"`
	Sent      *time.Time `json:"sent"`
	NextTry   *time.Time `json:"next_try"`
	GivenUp   *time.Time `json:"given_up"`
}

// SubscriberCounts are a status notice's deliveries by state.
type SubscriberCounts struct {
	Sent     int `json:"sent"`
	Waiting  int `json:"waiting"`
	Retrying int `json:"retrying"`
	GivenUp  int `json:"given_up"`
}

func nsPtr(v sql.NullInt64) *time.Time {
	if !v.Valid || v.Int64 == 0 {
		return nil
	}
	t := time.Unix(0, v.Int64).UTC()
	return &t
}

// Notifications returns every notification of incident id, oldest
// first, with its deliveries.
func Notifications(ctx context.Context, db *sql.DB, id int64) ([]IncidentNotification, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, created, kind, coalesce(json_extract(payload, '$.event'), ''), sent, last_error, given_up
		FROM outbox WHERE json_valid(payload) AND json_extract(payload, '$.incident') = ? ORDER BY id LIMIT 1000`, id)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	var out []IncidentNotification
	for rows.Next() {
		var n IncidentNotification
		var created int64
		var sent, givenUp sql.NullInt64
		if err := rows.Scan(&n.ID, &created, &n.Kind, &n.Event, &sent, &n.Note, &givenUp); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read notifications: %w", err)
		}
		n.Created = time.Unix(0, created).UTC()
		n.Pending = !sent.Valid && !givenUp.Valid
		n.Deliveries = []Delivery{}
		out = append(out, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	for i := range out {
		n := &out[i]
		if n.Kind == "status_notice" {
			var c SubscriberCounts
			if err := db.QueryRowContext(ctx, `SELECT count(sent), count(*) FILTER (WHERE sent IS NULL AND given_up IS NULL AND attempts = 0),
				count(*) FILTER (WHERE sent IS NULL AND given_up IS NULL AND attempts > 0), count(given_up)
				FROM subscriber_deliveries WHERE outbox_id = ?`, n.ID).Scan(&c.Sent, &c.Waiting, &c.Retrying, &c.GivenUp); err != nil {
				return nil, fmt.Errorf("read subscriber deliveries: %w", err)
			}
			n.Subscribers = &c
			continue
		}
		drows, err := db.QueryContext(ctx, `SELECT receiver, sent, attempts, next_try, last_error, given_up FROM deliveries
			WHERE outbox_id = ? ORDER BY receiver`, n.ID)
		if err != nil {
			return nil, fmt.Errorf("read deliveries: %w", err)
		}
		for drows.Next() {
			var d Delivery
			var sent, next, givenUp sql.NullInt64
			if err := drows.Scan(&d.Receiver, &sent, &d.Attempts, &next, &d.LastError, &givenUp); err != nil {
				drows.Close()
				return nil, fmt.Errorf("read deliveries: %w", err)
			}
			d.Sent, d.GivenUp = nsPtr(sent), nsPtr(givenUp)
			switch {
			case sent.Valid:
				d.State = "sent"
			case givenUp.Valid && strings.HasPrefix(d.LastError, "suppressed: "):
				d.State, d.Why, d.LastError = "muted", strings.TrimPrefix(d.LastError, "suppressed: "), ""
			case givenUp.Valid:
				d.State = "given_up"
			case d.Attempts > 0:
				d.State, d.NextTry = "retrying", nsPtr(next)
			default:
				d.State, d.NextTry = "waiting", nsPtr(next)
			}
			n.Deliveries = append(n.Deliveries, d)
		}
		drows.Close()
	}
	return out, nil
}
