package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/watchpost/watchpost/query"
)

// maxContextBlocks bounds the blocks read on each side of a line for its
// context: a source silent for months ends its context there.
const maxContextBlocks = 256

// ErrNotFound means no stored log line has the seq asked for.
var ErrNotFound = errors.New("no such line")

// Around returns the line with the given seq and up to before and after
// lines of the same host and source around it, in ingest (seq) order,
// which for a file is the file's order: what grep -C shows, and ties of
// equal timestamps cannot reorder it. It also returns the line's index
// in the result.
func (s *Store) Around(ctx context.Context, seq int64, before, after int) ([]Record, int, error) {
	if before < 0 || after < 0 {
		return nil, 0, fmt.Errorf("context: negative count")
	}
	c, err := s.readCodec()
	if err != nil {
		return nil, 0, err
	}
	type blk struct {
		id, hostID     int64
		host           string
		minSeq, maxSeq int64
	}
	var anchor blk
	// Compaction can make blocks of one host overlap in seq, never blocks
	// holding the same record.
	rows, err := s.rdb.QueryContext(ctx, `SELECT b.id, b.host_id, h.name, b.min_seq, b.max_seq FROM blocks b JOIN hosts h ON h.id = b.host_id
		WHERE b.kind = 1 AND b.min_seq <= ? AND b.max_seq >= ?`, seq, seq)
	if err != nil {
		return nil, 0, fmt.Errorf("context: %w", err)
	}
	var cands []blk
	for rows.Next() {
		var b blk
		if err := rows.Scan(&b.id, &b.hostID, &b.host, &b.minSeq, &b.maxSeq); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("context: %w", err)
		}
		cands = append(cands, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("context: %w", err)
	}
	readBlock := func(id int64, host string) ([]Record, error) {
		var data []byte
		if err := s.rdb.QueryRowContext(ctx, "SELECT data FROM blocks WHERE id = ?", id).Scan(&data); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, nil
			}
			return nil, fmt.Errorf("context: read block: %w", err)
		}
		raw, err := c.dec.DecodeAll(data, nil)
		if err != nil {
			return nil, fmt.Errorf("context: decompress: %w", err)
		}
		d, err := newDecoder(raw, host)
		if err != nil {
			return nil, fmt.Errorf("context: %w", err)
		}
		return decodeAll(d)
	}
	var line Record
	found := false
	var recs []Record
	for _, b := range cands {
		if recs, err = readBlock(b.id, b.host); err != nil {
			return nil, 0, err
		}
		for i := range recs {
			if recs[i].Seq == seq {
				line, found, anchor = recs[i], true, b
				break
			}
		}
		if found {
			break
		}
	}
	if !found {
		return nil, 0, ErrNotFound
	}
	same := func(r *Record) bool { return r.Source == line.Source && r.File == line.File }
	var fileQuery *query.Query
	if line.File != "" {
		if fileQuery, err = query.New(query.Term{Kind: query.FieldEq, Field: "file", Value: line.File}); err != nil {
			return nil, 0, fmt.Errorf("context: %w", err)
		}
	}
	var above, below []Record // above: newest first
	seen := map[int64]bool{anchor.id: true}
	take := func(recs []Record) {
		for i := range recs {
			r := &recs[i]
			if !same(r) || r.Seq == seq {
				continue
			}
			if r.Seq < seq {
				above = append(above, *r)
			} else {
				below = append(below, *r)
			}
		}
	}
	take(recs)
	trim := func() {
		slices.SortFunc(above, func(a, b Record) int { return cmp.Compare(b.Seq, a.Seq) })
		slices.SortFunc(below, func(a, b Record) int { return cmp.Compare(a.Seq, b.Seq) })
		if len(above) > before {
			above = above[:before]
		}
		if len(below) > after {
			below = below[:after]
		}
	}
	trim()
	// Read the host's other blocks nearest first, until enough lines are
	// found and no unread block can hold a nearer one (compaction makes
	// blocks overlap in seq, so a block's range, not its order, decides).
	walk := func(up bool) error {
		q := `SELECT id, min_seq, max_seq FROM blocks WHERE kind = 1 AND host_id = ? AND min_seq < ? ORDER BY max_seq DESC`
		if !up {
			q = `SELECT id, min_seq, max_seq FROM blocks WHERE kind = 1 AND host_id = ? AND max_seq > ? ORDER BY min_seq`
		}
		rows, err := s.rdb.QueryContext(ctx, q, anchor.hostID, seq)
		if err != nil {
			return fmt.Errorf("context: %w", err)
		}
		var next []blk
		for rows.Next() {
			var b blk
			if err := rows.Scan(&b.id, &b.minSeq, &b.maxSeq); err != nil {
				rows.Close()
				return fmt.Errorf("context: %w", err)
			}
			next = append(next, b)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("context: %w", err)
		}
		// A file's blocks are known by their signatures, so a file that
		// writes seldom among a busy host's lines costs only its blocks.
		if line.File != "" && len(next) > 0 {
			refs := make([]blockRef, len(next))
			for i, b := range next {
				refs[i] = blockRef{id: b.id}
			}
			refs, err = s.filterBySignature(ctx, s.rdb, fileQuery, refs)
			if err != nil {
				return err
			}
			keep := make(map[int64]bool, len(refs))
			for _, r := range refs {
				keep[r.id] = true
			}
			kept := next[:0]
			for _, b := range next {
				if keep[b.id] {
					kept = append(kept, b)
				}
			}
			next = kept
		}
		read := 0
		for _, b := range next {
			if read >= maxContextBlocks {
				return nil
			}
			if up && len(above) >= before && (before == 0 || b.maxSeq < above[len(above)-1].Seq) {
				return nil
			}
			if !up && len(below) >= after && (after == 0 || b.minSeq > below[len(below)-1].Seq) {
				return nil
			}
			if seen[b.id] {
				continue
			}
			seen[b.id] = true
			read++
			more, err := readBlock(b.id, anchor.host)
			if err != nil {
				return err
			}
			take(more)
			trim()
		}
		return nil
	}
	if err := walk(true); err != nil {
		return nil, 0, err
	}
	if err := walk(false); err != nil {
		return nil, 0, err
	}
	out := make([]Record, 0, len(above)+1+len(below))
	for i := len(above) - 1; i >= 0; i-- {
		out = append(out, above[i])
	}
	idx := len(out)
	out = append(out, line)
	out = append(out, below...)
	return out, idx, nil
}
