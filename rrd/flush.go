package rrd

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/watchpost/watchpost/store"
)

// Flush writes every dirty series, its raw blocks and consolidated rows,
// the changed graph metadata and the consumer cursor in one transaction.
// It holds the lock throughout, so a read never sees rows in neither
// memory nor the database.
func (d *DB) Flush(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rrd flush: %w", err)
	}
	// Series first written now get their ids in this transaction; if it
	// does not commit, those ids name nothing and must be asked for again.
	var fresh []*series
	for _, s := range d.series {
		if s.dirty && s.id == 0 {
			fresh = append(fresh, s)
		}
	}
	undo := func() {
		for _, s := range fresh {
			s.id = 0
		}
	}
	n, err := d.flushTx(ctx, tx)
	if err == nil && d.opts.Observer != nil {
		err = d.opts.Observer.FlushTx(ctx, tx)
	}
	if err != nil {
		tx.Rollback()
		undo()
		return fmt.Errorf("rrd flush: %w", err)
	}
	if err := tx.Commit(); err != nil {
		undo()
		return fmt.Errorf("rrd flush: commit: %w", err)
	}
	if d.opts.Observer != nil {
		d.opts.Observer.Flushed()
	}
	// Only now is memory clean: a failed transaction leaves it dirty and
	// the next flush writes it all again.
	for _, s := range d.series {
		if s.dirty {
			s.dirty, s.defDirty, s.rawDirty = false, false, false
			s.closed = s.closed[:0]
			for i := range s.pending {
				s.pending[i] = s.pending[i][:0]
			}
		}
	}
	for _, g := range d.graphs {
		g.dirty = false
	}
	d.flushes.Inc()
	d.flushBytes.Add(int(n))
	return nil
}

type flushStmts struct {
	insSeries, updSeries, state, raw, getCdp, putCdp, graph *sql.Stmt
}

func prepare(ctx context.Context, tx *sql.Tx) (*flushStmts, error) {
	var f flushStmts
	for _, p := range []struct {
		s **sql.Stmt
		q string
	}{
		{&f.insSeries, `INSERT INTO rrd_series(host, graph, field, type, min, max) VALUES(?,?,?,?,?,?)
			ON CONFLICT(host, graph, field) DO UPDATE SET type=excluded.type, min=excluded.min, max=excluded.max RETURNING id`},
		{&f.updSeries, `UPDATE rrd_series SET type=?, min=?, max=? WHERE id=?`},
		{&f.state, `INSERT OR REPLACE INTO rrd_state(series_id, data) VALUES(?,?)`},
		{&f.raw, `INSERT OR REPLACE INTO rrd_raw(slot, series_id, start, data) VALUES(?,?,?,?)`},
		{&f.getCdp, `SELECT chunk, data FROM rrd_cdp WHERE tier=? AND slot=? AND series_id=?`},
		{&f.putCdp, `INSERT OR REPLACE INTO rrd_cdp(tier, slot, series_id, chunk, data) VALUES(?,?,?,?,?)`},
		{&f.graph, `INSERT OR REPLACE INTO rrd_graphs(host, graph, meta, updated) VALUES(?,?,?,?)`},
	} {
		st, err := tx.PrepareContext(ctx, p.q)
		if err != nil {
			f.close()
			return nil, err
		}
		*p.s = st
	}
	return &f, nil
}

func (f *flushStmts) close() {
	for _, s := range []*sql.Stmt{f.insSeries, f.updSeries, f.state, f.raw, f.getCdp, f.putCdp, f.graph} {
		if s != nil {
			s.Close()
		}
	}
}

func (d *DB) flushTx(ctx context.Context, tx *sql.Tx) (int64, error) {
	f, err := prepare(ctx, tx)
	if err != nil {
		return 0, err
	}
	defer f.close()
	var written int64
	var buf []byte
	for _, s := range d.series {
		if !s.dirty {
			continue
		}
		if s.id == 0 {
			if err := f.insSeries.QueryRowContext(ctx, s.k.host, s.k.graph, s.k.field, s.typ, s.min, s.max).Scan(&s.id); err != nil {
				return 0, err
			}
		} else if s.defDirty {
			if _, err := f.updSeries.ExecContext(ctx, s.typ, s.min, s.max, s.id); err != nil {
				return 0, err
			}
		}
		buf = encodeState(buf[:0], &s.st, &s.raw)
		if _, err := f.state.ExecContext(ctx, s.id, buf); err != nil {
			return 0, err
		}
		written += int64(len(buf))
		for _, b := range s.closed {
			if _, err := f.raw.ExecContext(ctx, rawSlot(b.start), s.id, b.start, b.data); err != nil {
				return 0, err
			}
			written += int64(len(b.data))
		}
		if s.rawDirty && s.raw.n > 0 {
			if _, err := f.raw.ExecContext(ctx, rawSlot(s.raw.start), s.id, s.raw.start, s.raw.data); err != nil {
				return 0, err
			}
			written += int64(len(s.raw.data))
		}
		for ti := range s.pending {
			n, err := d.writeRows(ctx, f, s.id, ti, s.pending[ti], &buf)
			if err != nil {
				return 0, err
			}
			written += n
		}
	}
	for k, g := range d.graphs {
		if !g.dirty {
			continue
		}
		meta, err := json.Marshal(&g.g)
		if err != nil {
			return 0, err
		}
		if _, err := f.graph.ExecContext(ctx, k[0], k[1], meta, g.updated); err != nil {
			return 0, err
		}
		written += int64(len(meta))
	}
	// Raw blocks of series that stopped reporting are not overwritten by
	// the ring: drop the ones past RawKeep from the slot now being reused.
	now := d.opts.Now().Unix()
	if _, err := tx.ExecContext(ctx, "DELETE FROM rrd_raw WHERE slot=? AND start < ?",
		rawSlot(now-now%RawBlock), now-RawKeep-RawBlock); err != nil {
		return 0, err
	}
	if err := store.SetCursorTx(ctx, tx, CursorName, d.cursor, d.opts.Now()); err != nil {
		return 0, err
	}
	return written, nil
}

// writeRows merges a tier's pending rows into their chunks.
func (d *DB) writeRows(ctx context.Context, f *flushStmts, id int64, ti int, rows []row, buf *[]byte) (int64, error) {
	t := &d.tiers[ti]
	var written int64
	for i := 0; i < len(rows); {
		k := rows[i].idx / t.Chunk
		slot := k % t.slots()
		c, err := loadChunk(ctx, f.getCdp, ti, slot, id, k, t.Chunk)
		if err != nil {
			return 0, err
		}
		for ; i < len(rows) && rows[i].idx/t.Chunk == k; i++ {
			for cf := 0; cf < nCF; cf++ {
				c[cf][rows[i].idx%t.Chunk] = rows[i].v[cf]
			}
		}
		*buf = encodeChunk((*buf)[:0], &c)
		if _, err := f.putCdp.ExecContext(ctx, ti, slot, id, k, *buf); err != nil {
			return 0, err
		}
		written += int64(len(*buf))
	}
	return written, nil
}

func loadChunk(ctx context.Context, q *sql.Stmt, ti int, slot, id, k, rows int64) ([nCF][]float64, error) {
	var chunk int64
	var data []byte
	err := q.QueryRowContext(ctx, ti, slot, id).Scan(&chunk, &data)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && chunk != k) {
		data = nil
	} else if err != nil {
		return [nCF][]float64{}, err
	}
	c, err := decodeChunk(data, rows)
	if err != nil {
		c, _ = decodeChunk(nil, rows)
	}
	return c, nil
}

// Delete removes series: one field, a whole graph (field ""), or a whole
// host (graph and field ""). Pending changes of other series are written
// first, so the cursor stays consistent.
func (d *DB) Delete(ctx context.Context, host, graph, field string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rrd delete: %w", err)
	}
	defer tx.Rollback()
	for k, s := range d.series {
		if k.host != host || (graph != "" && k.graph != graph) || (field != "" && k.field != field) {
			continue
		}
		delete(d.series, k)
		if s.id == 0 {
			continue
		}
		for ti, t := range d.tiers {
			for slot := int64(0); slot < t.slots(); slot++ {
				if _, err := tx.ExecContext(ctx, "DELETE FROM rrd_cdp WHERE tier=? AND slot=? AND series_id=?", ti, slot, s.id); err != nil {
					return fmt.Errorf("rrd delete: %w", err)
				}
			}
		}
		for slot := int64(0); slot < rawSlots; slot++ {
			if _, err := tx.ExecContext(ctx, "DELETE FROM rrd_raw WHERE slot=? AND series_id=?", slot, s.id); err != nil {
				return fmt.Errorf("rrd delete: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM rrd_series WHERE id=?", s.id); err != nil {
			return fmt.Errorf("rrd delete: %w", err)
		}
	}
	if field == "" {
		for k := range d.graphs {
			if k[0] == host && (graph == "" || k[1] == graph) {
				delete(d.graphs, k)
				if _, err := tx.ExecContext(ctx, "DELETE FROM rrd_graphs WHERE host=? AND graph=?", k[0], k[1]); err != nil {
					return fmt.Errorf("rrd delete: %w", err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rrd delete: %w", err)
	}
	return nil
}
