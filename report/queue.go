package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/config"
)

// Message is the report as the alerting senders take it (no Message-ID:
// the dispatcher gives one when it sends a queued report).
func (r *Report) Message() alerting.Message {
	return alerting.Message{Subject: r.Subject(), Text: r.Text(), HTML: r.HTML()}
}

// Payload is the report as a monthly_report outbox row carries it.
func (r *Report) Payload() alerting.ReportPayload {
	return alerting.ReportPayload{Month: r.Month.Format("2006-01"), Subject: r.Subject(), Text: r.Text(), HTML: r.HTML(),
		Labels: map[string]string{"source": "report", "severity": "info"}}
}

// stateName is the component_state row remembering the last month whose
// report the loghost queued by itself.
const stateName = "report.monthly"

// Queue puts the report in the outbox (the alerting dispatcher routes and
// sends it) and, when remember is set, records its month as done, in one
// transaction.
func Queue(ctx context.Context, db *sql.DB, r *Report, now time.Time, remember bool) (int64, error) {
	p, err := json.Marshal(r.Payload())
	if err != nil {
		return 0, fmt.Errorf("queue report: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("queue report: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), alerting.KindMonthlyReport, string(p))
	if err != nil {
		return 0, fmt.Errorf("queue report: %w", err)
	}
	id, _ := res.LastInsertId()
	if remember {
		if _, err := tx.ExecContext(ctx, `INSERT INTO component_state(name, data) VALUES(?, ?)
			ON CONFLICT(name) DO UPDATE SET data = excluded.data`, stateName, []byte(r.Month.Format("2006-01"))); err != nil {
			return 0, fmt.Errorf("queue report: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("queue report: %w", err)
	}
	return id, nil
}

// lastQueued is the month of the last report QueueDue queued ("" for none).
func lastQueued(ctx context.Context, db *sql.DB) (string, error) {
	var b []byte
	err := db.QueryRowContext(ctx, `SELECT data FROM component_state WHERE name = ?`, stateName).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("report state: %w", err)
	}
	return string(b), nil
}

// catchUp is how many days into a month last month's report is still
// sent: a loghost down on the 1st sends it when it is back, but one
// installed on the 20th does not mail a report of the month before.
const catchUp = 7

// QueueDue queues last month's report when it is due: from the 1st of a
// month (in the configuration's time zone), once, and only when the
// loghost was watching during some of that month. It reports the month
// queued ("" when nothing was due). db is the store's write handle.
func QueueDue(ctx context.Context, db *sql.DB, cfg *config.Config, now time.Time) (string, error) {
	loc := cfg.Location()
	if now.In(loc).Day() > catchUp {
		return "", nil
	}
	prev := MonthOf(now, loc).AddDate(0, -1, 0)
	month := prev.Format("2006-01")
	done, err := lastQueued(ctx, db)
	if err != nil {
		return "", err
	}
	if done >= month {
		return "", nil
	}
	r, err := Build(ctx, db, cfg, prev, now)
	if err != nil {
		return "", err
	}
	if r.NotWatched {
		// A loghost installed after the month ended has nothing to say
		// about it; mailing an empty report would only confuse.
		return "", nil
	}
	if _, err := Queue(ctx, db, r, now, true); err != nil {
		return "", err
	}
	return month, nil
}

// Loop calls QueueDue every interval (an hour is plenty) until ctx ends.
// Its first pass logs what it decided, so an admin (and a test) can see
// when the next report is due.
func Loop(ctx context.Context, db *sql.DB, cfg *config.Config, now func() time.Time, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for first := true; ; first = false {
		at := now()
		month, err := QueueDue(ctx, db, cfg, at)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error("monthly report", "err", err)
		case month != "":
			logger.Info("monthly report queued", "month", month)
		case first:
			next := MonthOf(at, cfg.Location()).AddDate(0, 1, 0)
			logger.Info("monthly report: none due now", "next", next.Format("2006-01-02 15:04 MST"))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
