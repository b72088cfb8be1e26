package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// MatrixAcks acknowledges incidents from the room: a reaction to an
// incident's first message, or a reply in its thread, by anyone but the
// bot, acknowledges it (as POST /api/v1/incidents/{id}/ack does), so
// reminders and escalation stop. It needs the bot to be allowed to read
// the room; it follows the room with /sync long polls.
type MatrixAcks struct {
	mx     *Matrix
	db     *sql.DB
	now    func() time.Time
	log    *slog.Logger
	client *http.Client
}

// NewMatrixAcks listens to mx's room; acknowledgements go to db.
func NewMatrixAcks(mx *Matrix, db *sql.DB, now func() time.Time, logger *slog.Logger) *MatrixAcks {
	if logger == nil {
		logger = slog.Default()
	}
	return &MatrixAcks{mx: mx, db: db, now: now, log: logger, client: &http.Client{Timeout: 60 * time.Second}}
}

type syncReply struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Timeline struct {
				Events []roomEvent `json:"events"`
			} `json:"timeline"`
		} `json:"join"`
	} `json:"rooms"`
}

type roomEvent struct {
	Type    string `json:"type"`
	Sender  string `json:"sender"`
	Content struct {
		RelatesTo struct {
			RelType   string `json:"rel_type"`
			EventID   string `json:"event_id"`
			InReplyTo struct {
				EventID string `json:"event_id"`
			} `json:"m.in_reply_to"`
		} `json:"m.relates_to"`
	} `json:"content"`
}

// Run follows the room until ctx ends. Errors are logged and retried with
// backoff: a homeserver outage delays acknowledgements, nothing else.
func (a *MatrixAcks) Run(ctx context.Context) {
	me, since := "", ""
	backoff := time.Second
	for ctx.Err() == nil {
		if me == "" {
			var who struct {
				UserID string `json:"user_id"`
			}
			if err := a.get(ctx, "/_matrix/client/v3/account/whoami", nil, &who); err == nil {
				me = who.UserID
			}
		}
		q := url.Values{"timeout": {"30000"}}
		if since != "" {
			q.Set("since", since)
		}
		var s syncReply
		if err := a.get(ctx, "/_matrix/client/v3/sync", q, &s); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("matrix: reading the room for acknowledgements failed", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Minute)
			continue
		}
		backoff = time.Second
		since = s.NextBatch
		for _, ev := range s.Rooms.Join[a.mx.cfg.Room].Timeline.Events {
			if me == "" || ev.Sender == me {
				continue
			}
			if err := a.handle(ctx, ev); err != nil {
				a.log.Warn("matrix: acknowledgement not recorded", "err", err)
			}
		}
	}
}

// handle acknowledges the incident whose first message ev reacts to or
// replies to (in its thread, or as a plain reply).
func (a *MatrixAcks) handle(ctx context.Context, ev roomEvent) error {
	rel := ev.Content.RelatesTo
	target := ""
	switch {
	case ev.Type == "m.reaction" && rel.RelType == "m.annotation":
		target = rel.EventID
	case ev.Type == "m.room.message" && rel.RelType == "m.thread":
		target = rel.EventID
	case ev.Type == "m.room.message" && rel.InReplyTo.EventID != "":
		target = rel.InReplyTo.EventID
	}
	if target == "" {
		return nil
	}
	var incident sql.NullInt64
	err := a.db.QueryRowContext(ctx, `SELECT json_extract(o.payload, '$.incident') FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
		WHERE d.ref = ? AND json_valid(o.payload) AND json_extract(o.payload, '$.incident') > 0 LIMIT 1`, target).Scan(&incident)
	if errors.Is(err, sql.ErrNoRows) || !incident.Valid {
		return nil // a reaction to something else
	}
	if err != nil {
		return fmt.Errorf("find incident: %w", err)
	}
	ok, err := Ack(ctx, a.db, incident.Int64, ev.Sender+" (Matrix)", a.now())
	if ok {
		a.log.Info("incident acknowledged from Matrix", "incident", incident.Int64, "by", ev.Sender)
	}
	return err
}

func (a *MatrixAcks) get(ctx context.Context, path string, q url.Values, out any) error {
	hs, err := a.mx.base(ctx)
	if err != nil {
		return err
	}
	u := hs + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	// The token goes in the header, never in the URL (logs, proxies).
	req.Header.Set("Authorization", "Bearer "+a.mx.cfg.AccessToken)
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("matrix: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("matrix: %s: %s", resp.Status, b)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(out)
}
