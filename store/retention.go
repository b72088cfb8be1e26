package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"
)

// Maintain runs retention and compaction every interval until ctx ends.
func (s *Store) Maintain(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.EnforceRetention(ctx); err != nil && ctx.Err() == nil {
			s.opts.Logger.Error("retention", "err", err)
		}
		if _, err := s.Compact(ctx, time.Minute); err != nil && ctx.Err() == nil {
			s.opts.Logger.Error("compaction", "err", err)
		}
		if _, err := s.BackfillStats(ctx, 500); err != nil && ctx.Err() == nil {
			s.opts.Logger.Error("block stats", "err", err)
		}
		if err := s.Vacuum(ctx); err != nil && ctx.Err() == nil {
			s.opts.Logger.Error("vacuum", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// EnforceRetention deletes blocks older than the retention and, while the
// stored bytes exceed MaxSize, the oldest blocks of the host that holds
// the most beyond its fair share (MaxSize divided among the hosts), so a
// noisy host cannot push the others' logs out.
func (s *Store) EnforceRetention(ctx context.Context) (deleted int, err error) {
	if s.wdb == nil {
		return 0, nil
	}
	if s.opts.Retention > 0 {
		cutoff := s.opts.Now().Add(-s.opts.Retention).UnixNano()
		keepAfter := int64(1<<63 - 1)
		if s.opts.KeepAfter != nil {
			keepAfter = s.opts.KeepAfter()
		}
		for {
			// A few hundred blocks a transaction, so ingestion waits little.
			n, err := s.deleteBlocks(ctx, "SELECT id FROM blocks WHERE max_time < ? AND max_seq <= ? LIMIT 500", cutoff, keepAfter)
			deleted += n
			if err != nil {
				return deleted, err
			}
			if n < 500 {
				break
			}
		}
	}
	if s.opts.MaxSize <= 0 {
		return deleted, nil
	}
	for {
		type usage struct {
			host  int64
			bytes int64
		}
		rows, err := s.wdb.QueryContext(ctx, "SELECT host_id, SUM(size) FROM blocks GROUP BY host_id")
		if err != nil {
			return deleted, fmt.Errorf("retention: %w", err)
		}
		var us []usage
		var total int64
		for rows.Next() {
			var u usage
			if err := rows.Scan(&u.host, &u.bytes); err != nil {
				rows.Close()
				return deleted, fmt.Errorf("retention: %w", err)
			}
			us = append(us, u)
			total += u.bytes
		}
		rows.Close()
		if total <= s.opts.MaxSize || len(us) == 0 {
			return deleted, nil
		}
		share := s.opts.MaxSize / int64(len(us))
		worst := us[0]
		for _, u := range us[1:] {
			if u.bytes-share > worst.bytes-share {
				worst = u
			}
		}
		// Delete the worst host's oldest blocks, just enough to bring the
		// total under the bound or the host down to its share.
		need := min(total-s.opts.MaxSize, worst.bytes-share)
		if need <= 0 {
			need = total - s.opts.MaxSize
		}
		ids, err := s.oldestBlocks(ctx, worst.host, need)
		if err != nil {
			return deleted, err
		}
		n, err := s.deleteBlockIDs(ctx, ids)
		deleted += n
		if err != nil || n == 0 {
			return deleted, err
		}
	}
}

// oldestBlocks returns the ids of host's oldest blocks whose sizes add up
// to at least need bytes.
func (s *Store) oldestBlocks(ctx context.Context, host, need int64) ([]int64, error) {
	rows, err := s.wdb.QueryContext(ctx, "SELECT id, size FROM blocks WHERE host_id = ? ORDER BY max_time, id", host)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	defer rows.Close()
	var ids []int64
	var got int64
	for got < need && rows.Next() {
		var id, size int64
		if err := rows.Scan(&id, &size); err != nil {
			return nil, fmt.Errorf("retention: %w", err)
		}
		ids = append(ids, id)
		got += size
	}
	return ids, rows.Err()
}

func (s *Store) deleteBlocks(ctx context.Context, selectIDs string, args ...any) (int, error) {
	rows, err := s.wdb.QueryContext(ctx, selectIDs, args...)
	if err != nil {
		return 0, fmt.Errorf("retention: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("retention: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	return s.deleteBlockIDs(ctx, ids)
}

func (s *Store) deleteBlockIDs(ctx context.Context, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("retention: %w", err)
	}
	defer tx.Rollback()
	for _, id := range ids {
		if err := deleteBlockTx(ctx, tx, id); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("retention: %w", err)
	}
	s.m.deletedBlocks.Add(len(ids))
	return len(ids), nil
}

func deleteBlockTx(ctx context.Context, tx *sql.Tx, id int64) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM block_sig WHERE block_id = ?", id); err != nil {
		return fmt.Errorf("delete block signature: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM block_stats WHERE block_id = ?", id); err != nil {
		return fmt.Errorf("delete block stats: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM blocks WHERE id = ?", id); err != nil {
		return fmt.Errorf("delete block: %w", err)
	}
	return nil
}

// Compact merges the small log blocks of each host that are older than
// minAge into blocks of up to BlockLines records: a quiet host writes a
// block a batch, and thousands of tiny blocks would make every search
// read thousands of signatures. It returns the number of blocks merged away.
func (s *Store) Compact(ctx context.Context, minAge time.Duration) (int, error) {
	if s.wdb == nil {
		return 0, nil
	}
	cutoff := s.opts.Now().Add(-minAge).UnixNano()
	type small struct {
		id, host int64
		n        int
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, host_id, n FROM blocks WHERE kind = 1 AND n < ? AND max_time < ?
		ORDER BY host_id, min_seq`, s.opts.BlockLines/2, cutoff)
	if err != nil {
		return 0, fmt.Errorf("compact: %w", err)
	}
	var smalls []small
	for rows.Next() {
		var b small
		if err := rows.Scan(&b.id, &b.host, &b.n); err != nil {
			rows.Close()
			return 0, fmt.Errorf("compact: %w", err)
		}
		smalls = append(smalls, b)
	}
	rows.Close()
	merged := 0
	for i := 0; i < len(smalls); {
		j, n := i, 0
		for j < len(smalls) && smalls[j].host == smalls[i].host && n+smalls[j].n <= s.opts.BlockLines {
			n += smalls[j].n
			j++
		}
		if j-i < 2 {
			i = max(j, i+1)
			continue
		}
		ids := make([]int64, 0, j-i)
		for _, b := range smalls[i:j] {
			ids = append(ids, b.id)
		}
		if err := s.mergeBlocks(ctx, smalls[i].host, ids); err != nil {
			return merged, err
		}
		merged += len(ids) - 1
		i = j
	}
	s.m.compacted.Add(merged)
	return merged, nil
}

// mergeBlocks replaces blocks ids (one host) by one block, in one
// transaction through the writer's codec and signature builder.
func (s *Store) mergeBlocks(ctx context.Context, host int64, ids []int64) error {
	return s.w.exclusive(ctx, func(w *writer) error {
		tx, err := s.wdb.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		defer tx.Rollback()
		var recs []Record
		for _, id := range ids {
			var data []byte
			err := tx.QueryRowContext(ctx, "SELECT data FROM blocks WHERE id = ?", id).Scan(&data)
			if err == sql.ErrNoRows {
				return nil // retention got there first
			}
			if err != nil {
				return fmt.Errorf("compact: %w", err)
			}
			raw, err := w.codec.dec.DecodeAll(data, nil)
			if err != nil {
				return fmt.Errorf("compact: decompress block %d: %w", id, err)
			}
			d, err := newDecoder(raw, "")
			if err != nil {
				return fmt.Errorf("compact: block %d: %w", id, err)
			}
			more, err := decodeAll(d)
			if err != nil {
				return fmt.Errorf("compact: block %d: %w", id, err)
			}
			recs = append(recs, more...)
			if err := deleteBlockTx(ctx, tx, id); err != nil {
				return err
			}
		}
		if len(recs) == 0 {
			return nil
		}
		if _, err := w.insertBlock(ctx, tx, host, KindLog, recs, nil, w.codec.encSmall); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		return nil
	})
}

// Backup writes a consistent copy of the store to path (VACUUM INTO reads
// one snapshot, so the loghost keeps writing meanwhile).
func (s *Store) Backup(ctx context.Context, path string) error {
	db := s.wdb
	if db == nil {
		db = s.rdb
	}
	// The copy holds what the store holds: created 0600 (as the store is)
	// before SQLite fills it, since SQLite would create it 0644. VACUUM
	// INTO takes an empty file; O_EXCL refuses one that exists.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		os.Remove(path)
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}

// Vacuum hands the pages freed by retention and compaction back to the
// file system, a bounded number per call so the writer never waits long.
func (s *Store) Vacuum(ctx context.Context) error {
	if s.wdb == nil {
		return nil
	}
	// The pragma frees one page per step: drain its rows, or Exec frees one.
	rows, err := s.wdb.QueryContext(ctx, "PRAGMA incremental_vacuum(20000)")
	if err != nil {
		return fmt.Errorf("incremental vacuum: %w", err)
	}
	for rows.Next() {
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("incremental vacuum: %w", err)
	}
	return nil
}
