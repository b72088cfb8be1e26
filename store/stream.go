package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

// ReadAfter returns up to limit records with seq > after, in seq order,
// without gaps: the event stream as a consumer reads it.
func (s *Store) ReadAfter(ctx context.Context, after int64, limit int) ([]Record, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.readWindow(ctx, after, after+int64(limit), -1)
}

// ReadAfterKind is ReadAfter for a consumer of one kind of record (the
// metric store): it returns that kind's records with seq in (after,
// through] and through, the seq the consumer may advance its cursor to.
// Blocks hold one kind each, so the others are skipped without being
// read; a window with none of the kind costs one index lookup.
func (s *Store) ReadAfterKind(ctx context.Context, after int64, window int, kind Kind) (recs []Record, through int64, err error) {
	if window <= 0 {
		window = 1000
	}
	// Everything up to LastSeq is committed, so a read transaction begun
	// after this sees every block of the window.
	through = min(after+int64(window), s.LastSeq())
	if through <= after {
		return nil, after, nil
	}
	recs, err = s.readWindow(ctx, after, through, int(kind))
	return recs, through, err
}

// readWindow reads the records with seq in (after, hi], of one kind when
// kind >= 0.
func (s *Store) readWindow(ctx context.Context, after, hi int64, kind int) ([]Record, error) {
	if out, ok := s.recent.read(after, hi, kind); ok {
		return out, nil
	}
	// Blocks are written in seq order; compaction may merge a host's blocks
	// so one block can span other blocks' seqs. Read the blocks that
	// overlap the window (after, hi].
	rows, err := s.rdb.QueryContext(ctx, `SELECT b.data, h.name FROM blocks b JOIN hosts h ON h.id=b.host_id
		WHERE b.max_seq > ? AND b.min_seq <= ? AND (? < 0 OR b.kind = ?)`, after, hi, kind, kind)
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	defer rows.Close()
	c, err := s.readCodec()
	if err != nil {
		return nil, err
	}
	var out []Record
	var r Record
	for rows.Next() {
		var data []byte
		var host string
		if err := rows.Scan(&data, &host); err != nil {
			return nil, fmt.Errorf("read stream: %w", err)
		}
		raw, err := c.dec.DecodeAll(data, nil)
		if err != nil {
			return nil, fmt.Errorf("read stream: decompress: %w", err)
		}
		d, err := newDecoder(raw, host)
		if err != nil {
			return nil, fmt.Errorf("read stream: %w", err)
		}
		for {
			ok, err := d.next(&r)
			if err != nil {
				return nil, fmt.Errorf("read stream: %w", err)
			}
			if !ok {
				break
			}
			if r.Seq > after && r.Seq <= hi {
				// raw is this block's own buffer: no clone needed but Fields.
				c := r
				if len(r.Fields) > 0 {
					c.Fields = append(c.Fields[:0:0], r.Fields...)
				}
				out = append(out, c)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

func (s *Store) readCodec() (*codec, error) {
	if s.w != nil {
		return s.w.codec, nil
	}
	s.codecOnce.Do(func() { s.codecRO, s.codecErr = newCodec() })
	return s.codecRO, s.codecErr
}

// Cursor returns the last seq the named consumer committed (0: none).
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := s.rdb.QueryRowContext(ctx, "SELECT seq FROM cursors WHERE name=?", name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor %s: %w", name, err)
	}
	return seq, nil
}

// SetCursorTx records, inside tx, that consumer name processed everything
// up to seq: a consumer whose effects live in the store commits both
// together and so sees every record exactly once.
func SetCursorTx(ctx context.Context, tx *sql.Tx, name string, seq int64, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cursors(name, seq, updated) VALUES(?,?,?)
		ON CONFLICT(name) DO UPDATE SET seq=excluded.seq, updated=excluded.updated`, name, seq, now.UnixNano())
	if err != nil {
		return fmt.Errorf("save cursor %s: %w", name, err)
	}
	return nil
}

// Consume runs fn over the stream from consumer name's cursor on, in seq
// order, until ctx ends. fn runs inside a write transaction in which the
// cursor advance is committed too: when fn writes its effects with tx, a
// crash at any moment neither repeats nor skips a record. Effects outside
// the store (a message sent) are at least once. A batch of 0 takes the
// store's choice: two blocks long, since reading decompresses every block
// a batch overlaps and shorter batches would decompress one many times.
func (s *Store) Consume(ctx context.Context, name string, batch int, fn func(ctx context.Context, tx *sql.Tx, recs []Record) error) error {
	return s.ConsumeGated(ctx, name, batch, nil, fn)
}

// ConsumeGated is Consume with a gate that runs before each batch is read,
// outside any transaction: a consumer whose effects queue up (the rules'
// commands) waits there for room, so it slows down instead of losing any.
func (s *Store) ConsumeGated(ctx context.Context, name string, batch int, gate func(ctx context.Context) error, fn func(ctx context.Context, tx *sql.Tx, recs []Record) error) error {
	if s.wdb == nil {
		return errors.New("consume: store is read-only")
	}
	if batch <= 0 {
		batch = 2 * s.opts.BlockLines
	}
	cur, err := s.Cursor(ctx, name)
	if err != nil {
		return err
	}
	lag := s.opts.Metrics.GetOrCreateGauge(fmt.Sprintf(`watchpost_consumer_lag{consumer=%q}`, name), nil)
	for {
		lag.Set(float64(s.LastSeq() - cur))
		if err := s.Wait(ctx, cur); err != nil {
			return err
		}
		if gate != nil {
			if err := gate(ctx); err != nil {
				return err
			}
		}
		recs, err := s.ReadAfter(ctx, cur, batch)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			// Retention deleted records before this consumer read them:
			// skip the hole to the oldest record still stored.
			var next sql.NullInt64
			if err := s.rdb.QueryRowContext(ctx, "SELECT MIN(min_seq) FROM blocks WHERE max_seq > ?", cur).Scan(&next); err != nil {
				return fmt.Errorf("consume %s: %w", name, err)
			}
			if !next.Valid {
				continue
			}
			s.opts.Logger.Warn("consumer skipped records deleted by retention", "consumer", name, "from", cur+1, "to", next.Int64-1)
			cur = next.Int64 - 1
			continue
		}
		tx, err := s.wdb.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("consume %s: %w", name, err)
		}
		if err := fn(ctx, tx, recs); err != nil {
			tx.Rollback()
			return fmt.Errorf("consume %s: %w", name, err)
		}
		last := recs[len(recs)-1].Seq
		if err := SetCursorTx(ctx, tx, name, last, s.opts.Now()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("consume %s: commit: %w", name, err)
		}
		cur = last
	}
}
