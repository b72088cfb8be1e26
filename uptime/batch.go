package uptime

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// The tracker's statements, prepared once and kept for its life: parsing
// them anew for every result was most of the cost of recording one.
type queryID int

const (
	qLoadState queryID = iota
	qSaveState
	qSample
	qDaily
	qOpenIncident
	qIncidentUpdate
	qFindIncident
	qResolveIncident
	qOutbox
	qLast
	qResult
	nQueries
)

func querySQL(id queryID) string {
	switch id {
	case qLoadState:
		return `SELECT status, since, last_time, pending, pending_since, streak, detail FROM check_state WHERE check_name = ?`
	case qSaveState:
		return `INSERT INTO check_state(check_name, status, since, last_time, pending, pending_since, streak, detail)
		VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(check_name) DO UPDATE SET status=excluded.status, since=excluded.since,
		last_time=excluded.last_time, pending=excluded.pending, pending_since=excluded.pending_since, streak=excluded.streak, detail=excluded.detail`
	case qSample:
		return `INSERT OR REPLACE INTO check_samples(check_name, time, ok, degraded, duration_us) VALUES(?,?,?,?,?)`
	case qDaily:
		return `INSERT INTO uptime_daily(check_name, day, up_ms, degraded_ms, down_ms, unknown_ms, maintenance_ms)
			VALUES(?,?,?,?,?,?,?) ON CONFLICT(check_name, day) DO UPDATE SET up_ms = up_ms + excluded.up_ms,
			degraded_ms = degraded_ms + excluded.degraded_ms, down_ms = down_ms + excluded.down_ms,
			unknown_ms = unknown_ms + excluded.unknown_ms, maintenance_ms = maintenance_ms + excluded.maintenance_ms`
	case qOpenIncident:
		return `INSERT INTO incidents(check_name, title, public, started) VALUES(?,?,?,?)`
	case qIncidentUpdate:
		return `INSERT INTO incident_updates(incident_id, time, status, message) VALUES(?,?,?,?)`
	case qFindIncident:
		return `SELECT id FROM incidents WHERE check_name = ? AND resolved IS NULL ORDER BY id DESC LIMIT 1`
	case qResolveIncident:
		return `UPDATE incidents SET resolved = ? WHERE check_name = ? AND resolved IS NULL`
	case qOutbox:
		return `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`
	case qLast:
		return `INSERT INTO check_last(check_name, time, ok, degraded, duration_us, error, conditions) VALUES(?,?,?,?,?,?,?)
			ON CONFLICT(check_name) DO UPDATE SET time=excluded.time, ok=excluded.ok, degraded=excluded.degraded,
			duration_us=excluded.duration_us, error=excluded.error, conditions=excluded.conditions`
	case qResult:
		return `INSERT OR REPLACE INTO check_results(check_name, time, ok, degraded, duration_us, error, conditions) VALUES(?,?,?,?,?,?,?)`
	}
	panic(fmt.Sprintf("uptime: no query %d", id))
}

// queries runs the prepared statements inside one transaction; each is
// bound to the transaction the first time it is used there.
type queries struct {
	tx    *sql.Tx
	stmts *[nQueries]*sql.Stmt
	inTx  [nQueries]*sql.Stmt
	// after runs once the transaction committed (pauses kept in memory).
	after []func()
}

func (q *queries) stmt(ctx context.Context, id queryID) *sql.Stmt {
	if q.inTx[id] == nil {
		// Reuses the statement already prepared on the transaction's
		// connection; the store's write handle has only one.
		q.inTx[id] = q.tx.StmtContext(ctx, q.stmts[id])
	}
	return q.inTx[id]
}

func (q *queries) exec(ctx context.Context, id queryID, args ...any) (sql.Result, error) {
	return q.stmt(ctx, id).ExecContext(ctx, args...)
}

func (q *queries) queryRow(ctx context.Context, id queryID, args ...any) *sql.Row {
	return q.stmt(ctx, id).QueryRowContext(ctx, args...)
}

// batcher is the group commit: results queue up, one flushing goroutine
// at a time commits whatever waits in one transaction, then answers each
// caller. It runs only while results wait, so a Tracker needs no Close.
type batcher struct {
	mu       sync.Mutex
	queue    []*pending
	flushing bool
	kick     chan struct{} // cut the window short: a full batch, or a caller whose context ended

	// Only the flushing goroutine touches these (flushing hands them on).
	prepared bool
	stmts    [nQueries]*sql.Stmt
}

type pending struct {
	o      Observation
	at     time.Time // when it was queued: it waits BatchWindow at most
	done   chan struct{}
	change *Change
	err    error
}

// Observe records one probe result and returns the change it confirmed,
// if any. It returns once the result is committed, together with the
// incident and the outbox row of that change, or failed: a caller is
// never told of a change that a crash could still take back. Results of
// one check must come one after the other (Observe returns before the
// next), as the scheduler gives them; results of different checks may
// come from any number of goroutines and share transactions.
func (t *Tracker) Observe(ctx context.Context, o Observation) (*Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("uptime: %w", err)
	}
	p := &pending{o: o, at: time.Now(), done: make(chan struct{})}
	b := &t.b
	b.mu.Lock()
	b.queue = append(b.queue, p)
	start := !b.flushing
	b.flushing = true
	full := len(b.queue) >= t.cfg.MaxBatch
	b.mu.Unlock()
	if start {
		// The flush outlives this caller's context: others' results ride
		// in the same transaction.
		go t.flush(context.WithoutCancel(ctx))
	}
	if full {
		b.hurry()
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		// Shutting down: commit now rather than after the window, and
		// still wait, so the answer says what really happened.
		b.hurry()
		<-p.done
	}
	return p.change, p.err
}

func (b *batcher) hurry() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// flush commits batches until nothing waits.
func (t *Tracker) flush(ctx context.Context) {
	b := &t.b
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.flushing = false
			b.mu.Unlock()
			return
		}
		wait := t.cfg.BatchWindow - time.Since(b.queue[0].at)
		full := len(b.queue) >= t.cfg.MaxBatch
		b.mu.Unlock()
		if wait > 0 && !full {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-b.kick:
				timer.Stop()
			}
		}
		b.mu.Lock()
		batch := b.queue
		b.queue = nil
		if len(batch) > t.cfg.MaxBatch {
			b.queue = append([]*pending(nil), batch[t.cfg.MaxBatch:]...)
			batch = batch[:t.cfg.MaxBatch]
		}
		b.mu.Unlock()
		t.commit(ctx, batch)
		for _, p := range batch {
			close(p.done)
		}
	}
}

// commit records a batch in one transaction. Should the database refuse
// it, each result is tried alone, so one bad result costs only its own.
func (t *Tracker) commit(ctx context.Context, batch []*pending) {
	changes, err := t.commitTx(ctx, batch)
	if err == nil {
		for i, p := range batch {
			p.change = changes[i]
		}
		return
	}
	if len(batch) == 1 {
		batch[0].err = err
		return
	}
	for _, p := range batch {
		ch, err := t.commitTx(ctx, []*pending{p})
		if err != nil {
			p.err = err
			continue
		}
		p.change = ch[0]
	}
}

func (t *Tracker) commitTx(ctx context.Context, batch []*pending) ([]*Change, error) {
	if err := t.prepare(ctx); err != nil {
		return nil, err
	}
	// The store's write handle begins IMMEDIATE (its _txlock), so the
	// write lock is taken up front, not upgraded half way.
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("uptime: %w", err)
	}
	defer tx.Rollback()
	q := &queries{tx: tx, stmts: &t.b.stmts}
	changes := make([]*Change, len(batch))
	for i, p := range batch {
		if changes[i], err = t.apply(ctx, q, p.o); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("uptime commit: %w", err)
	}
	for _, f := range q.after {
		f()
	}
	return changes, nil
}

func (t *Tracker) prepare(ctx context.Context) error {
	b := &t.b
	if b.prepared {
		return nil
	}
	for id := range nQueries {
		s, err := t.db.PrepareContext(ctx, querySQL(id))
		if err != nil {
			for _, s := range b.stmts[:id] {
				s.Close()
			}
			return fmt.Errorf("uptime prepare: %w", err)
		}
		b.stmts[id] = s
	}
	b.prepared = true
	return nil
}
