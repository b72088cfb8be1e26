package store

import (
	"container/list"
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// blockCache keeps recently decompressed blocks, up to a byte budget:
// the explorer asks for a range's first page, histogram and fields at
// once and then pages through it, and each would otherwise read and
// decompress the same blocks. Concurrent readers of one block wait for
// the first instead of decompressing it too. Blocks never change; a
// key holds the block's record count and first time as well as its id,
// because SQLite may give a deleted block's id to a new one.
type blockCache struct {
	max int64

	mu   sync.Mutex
	m    map[cacheKey]*cacheEntry
	lru  list.List // of *cacheEntry, most recent first
	size int64
}

type cacheKey struct {
	id, n, minT int64
}

type cacheEntry struct {
	key   cacheKey
	raw   []byte
	err   error
	ready chan struct{}
	elem  *list.Element
}

func newBlockCache(max int64) *blockCache {
	if max <= 0 {
		return nil
	}
	return &blockCache{max: max, m: map[cacheKey]*cacheEntry{}}
}

// reader is what a search reads blocks through: the store's read pool
// or one read transaction, the snapshot a search sees from start to end.
type reader interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// get returns the decompressed block, loading it with load once.
func (c *blockCache) get(ctx context.Context, k cacheKey, load func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if e, ok := c.m[k]; ok {
		if e.elem != nil {
			c.lru.MoveToFront(e.elem)
		}
		c.mu.Unlock()
		select {
		case <-e.ready:
			if e.err != nil {
				// The first reader failed (its search ended, taking its
				// snapshot along): read with ours.
				return load()
			}
			return e.raw, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e := &cacheEntry{key: k, ready: make(chan struct{})}
	c.m[k] = e
	c.mu.Unlock()
	e.raw, e.err = load()
	close(e.ready)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.err != nil || int64(len(e.raw)) > c.max/4 {
		delete(c.m, k) // errors and giants are not kept
		return e.raw, e.err
	}
	e.elem = c.lru.PushFront(e)
	c.size += int64(len(e.raw))
	for c.size > c.max && c.lru.Len() > 1 {
		old := c.lru.Remove(c.lru.Back()).(*cacheEntry)
		delete(c.m, old.key)
		c.size -= int64(len(old.raw))
	}
	return e.raw, e.err
}

// scanRef calls fn for the records of block b with event time in
// [lo, hi) (0: unbounded) whose line passes prefilter. The block comes
// from the cache when the store has one; then stable is true and the
// record's strings stay valid (its Fields slice is reused), else fn
// must clone what it keeps.
func (s *Store) scanRef(ctx context.Context, db reader, c *codec, b blockRef, lo, hi int64, prefilter func(string) bool, whole func([]byte) bool, fn func(r *Record, stable bool) bool) (matched, scanned int, err error) {
	loadCtx := func(ctx context.Context, dst []byte) ([]byte, error) {
		// The compressed bytes are read in place (RawBytes, valid until
		// the row is closed): a regex over a month decompresses every
		// block, and copying each out of SQLite first was a tenth of it.
		rows, err := db.QueryContext(ctx, "SELECT data FROM blocks WHERE id = ?", b.id)
		if err != nil {
			return nil, fmt.Errorf("read block: %w", err)
		}
		defer rows.Close()
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("read block: %w", err)
			}
			return nil, fmt.Errorf("read block: %w", sql.ErrNoRows)
		}
		var data sql.RawBytes
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("read block: %w", err)
		}
		raw, err := c.dec.DecodeAll(data, dst)
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		return raw, nil
	}
	if s.cache != nil {
		// Others may wait for this read: it finishes even if the
		// search that started it is cancelled (it is one block).
		lctx := context.WithoutCancel(ctx)
		raw, err := s.cache.get(ctx, cacheKey{b.id, int64(b.n), b.minT}, func() ([]byte, error) { return loadCtx(lctx, nil) })
		if err != nil {
			return 0, 0, err
		}
		if whole != nil && !whole(raw) {
			return 0, b.n, nil
		}
		return scanRaw(raw, b.host, lo, hi, prefilter, func(r *Record) bool { return fn(r, true) })
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	raw, err := loadCtx(ctx, (*bp)[:0])
	if err != nil {
		return 0, 0, err
	}
	*bp = raw
	if whole != nil && !whole(raw) {
		return 0, b.n, nil
	}
	return scanRaw(raw, b.host, lo, hi, prefilter, func(r *Record) bool { return fn(r, false) })
}

// scanRaw walks a decompressed block; records outside [lo, hi) are
// skipped by their time alone, before their fields are decoded.
func scanRaw(raw []byte, host string, lo, hi int64, prefilter func(string) bool, fn func(*Record) bool) (matched, scanned int, err error) {
	d, err := newDecoder(raw, host)
	if err != nil {
		return 0, 0, err
	}
	var r Record
	for {
		line, ok, err := d.nextRaw()
		if err != nil {
			return matched, scanned, err
		}
		if !ok {
			return matched, scanned, nil
		}
		scanned++
		if lo != 0 || hi != 0 {
			t, ok := d.peekTime()
			if !ok {
				return matched, scanned, errCorrupt
			}
			if (lo != 0 && t < lo) || (hi != 0 && t >= hi) {
				continue
			}
		}
		if prefilter != nil && !prefilter(line) {
			continue
		}
		if err := d.rest(&r, line); err != nil {
			return matched, scanned, err
		}
		if fn(&r) {
			matched++
		}
	}
}
