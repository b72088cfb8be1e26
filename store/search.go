package store

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/query"
)

// SearchOptions selects log records.
type SearchOptions struct {
	Query *query.Query // nil matches everything
	Since time.Time    // event time, inclusive; zero: unbounded
	Until time.Time    // event time, exclusive; zero: unbounded
	// Limit keeps the newest Limit matches (0: all), or with Oldest the
	// oldest: a client pages forward through more matches than one answer
	// holds by asking again from the last time it got.
	Limit  int
	Oldest bool
	// Context adds up to Context records before and after each match
	// from the same host and source.
	Context int
	// Before, when set, keeps only matches older than it in (time, seq)
	// order: the next page of a newest-first listing.
	Before Cursor
}

// Cursor is a position in (event time, seq) order, which is total: lines
// with the same time are ordered by seq, so paging never skips or
// repeats one.
type Cursor struct {
	Time time.Time
	Seq  int64
}

// IsZero reports whether the cursor is unset.
func (c Cursor) IsZero() bool { return c.Time.IsZero() && c.Seq == 0 }

// Hit is a search result: a match, or a context line around one.
type Hit struct {
	Record
	Match bool
	// Group numbers runs of adjacent hits, so that a printer can separate
	// non-adjacent context groups with "--" as grep does.
	Group int
}

// SearchStats says how much work a search did.
type SearchStats struct {
	Blocks     int // blocks in the time and host range
	Candidates int // blocks the signature could not exclude
	Read       int // blocks read and decoded
	Scanned    int // records tested
}

type blockRef struct {
	id         int64
	host       string
	minT, maxT int64
	n          int
}

// Search returns the hits in event-time order (ties by seq).
func (s *Store) Search(ctx context.Context, o SearchOptions) ([]Hit, SearchStats, error) {
	var st SearchStats
	q := o.Query
	where := []string{"b.kind = 1"}
	var args []any
	if !o.Since.IsZero() {
		where = append(where, "b.max_time >= ?")
		args = append(args, o.Since.UnixNano())
	}
	if !o.Until.IsZero() {
		where = append(where, "b.min_time < ?")
		args = append(args, o.Until.UnixNano())
	}
	if !o.Before.IsZero() {
		where = append(where, "b.min_time <= ?")
		args = append(args, o.Before.Time.UnixNano())
	}
	if q != nil {
		if h, ok := q.FieldEquals("host"); ok {
			where = append(where, "h.name = ? COLLATE NOCASE")
			args = append(args, h)
		}
	}
	order := "b.max_time DESC, b.id DESC"
	if o.Oldest {
		order = "b.min_time ASC, b.id ASC"
	}
	// One read transaction is one snapshot: compaction and retention
	// delete the blocks they merge or expire while a search runs, and a
	// block listed here must still be there when a worker reads it.
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, st, fmt.Errorf("search: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT b.id, h.name, b.min_time, b.max_time, b.n FROM blocks b JOIN hosts h ON h.id = b.host_id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY `+order, args...)
	if err != nil {
		return nil, st, fmt.Errorf("search: %w", err)
	}
	var refs []blockRef
	for rows.Next() {
		var b blockRef
		if err := rows.Scan(&b.id, &b.host, &b.minT, &b.maxT, &b.n); err != nil {
			rows.Close()
			return nil, st, fmt.Errorf("search: %w", err)
		}
		refs = append(refs, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, st, fmt.Errorf("search: %w", err)
	}
	st.Blocks = len(refs)
	refs, err = s.filterBySignature(ctx, tx, q, refs)
	if err != nil {
		return nil, st, err
	}
	st.Candidates = len(refs)
	if s.afterList != nil {
		s.afterList()
	}
	c, err := s.readCodec()
	if err != nil {
		return nil, st, err
	}
	var hits []Hit
	matches, group := 0, 0
	since, until := o.Since.UnixNano(), o.Until.UnixNano()
	before := o.Before.Time.UnixNano()
	inRange := func(r *Record) bool {
		t := r.Time.UnixNano()
		if !o.Before.IsZero() && (t > before || t == before && r.Seq >= o.Before.Seq) {
			return false
		}
		return (o.Since.IsZero() || t >= since) && (o.Until.IsZero() || t < until)
	}
	// The range as a cheap test on a record's time before its fields
	// are decoded (a cursor's time is a bound too).
	var lo, hi int64
	if !o.Since.IsZero() {
		lo = since
	}
	if !o.Until.IsZero() {
		hi = until
	}
	if !o.Before.IsZero() && (hi == 0 || before+1 < hi) {
		hi = before + 1
	}
	var oldestKept int64 // time of the Limit-th newest match so far
	prefilter := linePrefilter(q)
	whole := blockPrefilter(q)
	// Blocks are read and scanned by a few workers ahead of this loop,
	// which takes their results in order so that a -n search still stops
	// at the first block older than what it keeps.
	type blockResult struct {
		hits             []Hit
		matched, scanned int
		err              error
	}
	workers := min(runtime.GOMAXPROCS(0), 4, max(len(refs), 1))
	results := make([]chan blockResult, len(refs))
	for i := range results {
		results[i] = make(chan blockResult, 1)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		sem := make(chan struct{}, workers)
		for i, b := range refs {
			select {
			case sem <- struct{}{}:
			case <-stop:
				return
			}
			go func() {
				defer func() { <-sem }()
				var res blockResult
				if o.Context > 0 {
					var data []byte
					// The workers share the transaction's connection: the
					// reads take turns, the decoding runs in parallel.
					if err := tx.QueryRowContext(ctx, "SELECT data FROM blocks WHERE id = ?", b.id).Scan(&data); err != nil {
						res.err = fmt.Errorf("search: read block: %w", err)
						results[i] <- res
						return
					}
					res.hits, res.matched, res.scanned, res.err = contextBlock(c, data, b.host, o.Context, func(r *Record) bool {
						return inRange(r) && (q == nil || q.Match(r))
					})
				} else {
					res.matched, res.scanned, res.err = s.scanRef(ctx, tx, c, b, lo, hi, prefilter, whole, func(r *Record, stable bool) bool {
						if inRange(r) && (q == nil || q.Match(r)) {
							kept := *r
							if stable {
								// a cached block outlives the hits: share its strings
								kept.Fields = slices.Clone(r.Fields)
							} else {
								kept = r.Clone()
							}
							res.hits = append(res.hits, Hit{Record: kept, Match: true})
							if o.Limit > 0 && len(res.hits) >= 2*o.Limit {
								// Only the newest (oldest) Limit of a block can be kept.
								sortHits(res.hits)
								if o.Oldest {
									res.hits = res.hits[:o.Limit]
								} else {
									res.hits = append(res.hits[:0], res.hits[o.Limit:]...)
								}
							}
							return true
						}
						return false
					})
				}
				if res.err != nil {
					res.err = fmt.Errorf("search: block %d: %w", b.id, res.err)
				}
				results[i] <- res
			}()
		}
	}()
	for i, b := range refs {
		if o.Limit > 0 && matches >= o.Limit && (!o.Oldest && b.maxT < oldestKept || o.Oldest && b.minT > oldestKept) {
			break // every later block is older (newer) than what we keep
		}
		var res blockResult
		select {
		case res = <-results[i]:
		case <-ctx.Done():
			return nil, st, ctx.Err()
		}
		if res.err != nil {
			return nil, st, res.err
		}
		st.Read++
		st.Scanned += res.scanned
		matches += res.matched
		for j := range res.hits {
			if res.hits[j].Group != 0 {
				res.hits[j].Group += group
			}
		}
		if n := len(res.hits); n > 0 && res.hits[n-1].Group != 0 {
			group = res.hits[n-1].Group
		}
		hits = append(hits, res.hits...)
		if o.Limit > 0 && matches >= o.Limit {
			oldestKept = kthMatch(hits, o.Limit, !o.Oldest)
		}
	}
	sortHits(hits)
	if o.Limit > 0 && matches > o.Limit {
		if o.Oldest {
			hits = keepOldest(hits, o.Limit)
		} else {
			hits = keepNewest(hits, o.Limit)
		}
	}
	if o.Context > 0 {
		hits = dedupHits(hits)
	}
	return hits, st, nil
}

// kthMatch is the time of the k-th newest match (the k-th oldest when
// newest is false).
func kthMatch(hits []Hit, k int, newest bool) int64 {
	ts := make([]int64, 0, len(hits))
	for i := range hits {
		if hits[i].Match {
			ts = append(ts, hits[i].Time.UnixNano())
		}
	}
	sort.Slice(ts, func(i, j int) bool {
		if newest {
			return ts[i] > ts[j]
		}
		return ts[i] < ts[j]
	})
	return ts[k-1]
}

// keepOldest drops all but the oldest k matches (hits sorted oldest
// first), keeping the context lines after the newest kept match.
func keepOldest(hits []Hit, k int) []Hit {
	n, cut := 0, len(hits)
	for i := range hits {
		if hits[i].Match {
			if n++; n == k {
				cut = i + 1
				break
			}
		}
	}
	for cut < len(hits) && !hits[cut].Match && hits[cut].Group == hits[cut-1].Group && hits[cut].Group != 0 {
		cut++
	}
	return hits[:cut]
}

// keepNewest drops all but the newest k matches (hits sorted oldest
// first), keeping the context lines before the oldest kept match.
func keepNewest(hits []Hit, k int) []Hit {
	n, cut := 0, 0
	for i := len(hits) - 1; i >= 0; i-- {
		if hits[i].Match {
			if n++; n == k {
				cut = i
				break
			}
		}
	}
	for cut > 0 && !hits[cut-1].Match && hits[cut-1].Group == hits[cut].Group && hits[cut].Group != 0 {
		cut--
	}
	return hits[cut:]
}

func decodeAll(d *decoder) ([]Record, error) {
	recs := make([]Record, 0, d.n)
	for {
		var r Record
		ok, err := d.next(&r)
		if err != nil {
			return nil, err
		}
		if !ok {
			return recs, nil
		}
		recs = append(recs, r)
	}
}

// withContext appends the matches of one block with ctxN records of
// context from the same source before and after each, and returns the
// hits, the number of matches and the last group number used.
func withContext(hits []Hit, recs []Record, ctxN int, group int, match func(*Record) bool) ([]Hit, int, int) {
	type srcID struct{ source, file string }
	bySource := map[srcID][]int{}
	var order []srcID
	for i := range recs {
		k := srcID{recs[i].Source, recs[i].File}
		if _, ok := bySource[k]; !ok {
			order = append(order, k)
		}
		bySource[k] = append(bySource[k], i)
	}
	matches := 0
	for _, k := range order {
		idx := bySource[k]
		last := -1 // position in idx of the last record emitted
		for p := 0; p < len(idx); p++ {
			if !match(&recs[idx[p]]) {
				continue
			}
			matches++
			from := max(p-ctxN, last+1)
			if last < 0 || from > last+1 {
				group++
			}
			to := min(p+ctxN, len(idx)-1)
			for q := from; q <= to; q++ {
				isMatch := q == p
				if q > p && match(&recs[idx[q]]) {
					// a match inside the after-context extends the run
					isMatch = true
					matches++
					to = min(q+ctxN, len(idx)-1)
				}
				hits = append(hits, Hit{Record: recs[idx[q]], Match: isMatch, Group: group})
			}
			last = to
			p = to
		}
	}
	return hits, matches, group
}

// dedupHits removes records that appear twice (context of two matches
// from the same seq) after sorting.
func dedupHits(hits []Hit) []Hit {
	seen := make(map[int64]int, len(hits))
	out := hits[:0]
	for _, h := range hits {
		if j, ok := seen[h.Seq]; ok {
			out[j].Match = out[j].Match || h.Match
			continue
		}
		seen[h.Seq] = len(out)
		out = append(out, h)
	}
	return out
}

// filterBySignature drops the blocks whose signature proves they hold no
// match: a literal's trigram or a required field value is absent.
func (s *Store) filterBySignature(ctx context.Context, db reader, q *query.Query, refs []blockRef) ([]blockRef, error) {
	if q == nil || len(refs) == 0 {
		return refs, nil
	}
	var probes []sigProbe
	for _, lit := range q.Literals() {
		probes = trigramProbes(lit, probes)
		probes = wordNumProbes(lit, probes)
		probes = dottedProbes(lit, probes)
	}
	if v, ok := q.FieldEquals("program"); ok {
		probes = append(probes, probeFor(fieldKey("program", lowerString(v))))
	}
	for _, f := range []string{"file", "site"} {
		if v, ok := q.FieldEquals(f); ok {
			probes = append(probes, probeFor(fieldKey(f, v)))
		}
	}
	for f, names := range map[string][]string{"severity": logparse.SeverityNames[:], "facility": logparse.FacilityNames[:]} {
		if v, ok := q.FieldEquals(f); ok && slices.Contains(names, v) {
			probes = append(probes, probeFor(fieldKey(f, v)))
		}
	}
	if len(probes) == 0 {
		return refs, nil
	}
	byBand := map[int][]sigProbe{}
	for _, p := range probes {
		byBand[p.band] = append(byBand[p.band], p)
	}
	// The most selective bands first (word-number and dotted keys, then the bands
	// with the most probes); once few blocks are left, only their rows
	// are read, not every block's in the range.
	bands := make([]int, 0, len(byBand))
	for b := range byBand {
		bands = append(bands, b)
	}
	slices.SortFunc(bands, func(a, b int) int {
		if wa, wb := a >= sigBands, b >= sigBands; wa != wb {
			if wa {
				return -1
			}
			return 1
		}
		return len(byBand[b]) - len(byBand[a])
	})
	alive := make(map[int64]bool, len(refs))
	lo, hi := refs[0].id, refs[0].id
	for _, r := range refs {
		alive[r.id] = true
		lo, hi = min(lo, r.id), max(hi, r.id)
	}
	test := func(rows *sql.Rows, ps []sigProbe) error {
		defer rows.Close()
		for rows.Next() {
			var id int64
			var bits sql.RawBytes
			if err := rows.Scan(&id, &bits); err != nil {
				return err
			}
			if !alive[id] {
				continue
			}
			for _, p := range ps {
				if !p.in(bits) {
					delete(alive, id)
					break
				}
			}
		}
		return rows.Err()
	}
	for _, band := range bands {
		if len(alive) == 0 {
			break
		}
		ps := byBand[band]
		if int64(len(alive))*8 > hi-lo+1 {
			rows, err := db.QueryContext(ctx, "SELECT block_id, bits FROM block_sig WHERE band = ? AND block_id BETWEEN ? AND ?", band, lo, hi)
			if err == nil {
				err = test(rows, ps)
			}
			if err != nil {
				return nil, fmt.Errorf("search: read signatures: %w", err)
			}
			continue
		}
		ids := make([]int64, 0, len(alive))
		for id := range alive {
			ids = append(ids, id)
		}
		for len(ids) > 0 {
			n := min(len(ids), 500)
			args := make([]any, 0, n+1)
			args = append(args, band)
			for _, id := range ids[:n] {
				args = append(args, id)
			}
			ids = ids[n:]
			rows, err := db.QueryContext(ctx, "SELECT block_id, bits FROM block_sig WHERE band = ? AND block_id IN (?"+strings.Repeat(",?", n-1)+")", args...)
			if err == nil {
				err = test(rows, ps)
			}
			if err != nil {
				return nil, fmt.Errorf("search: read signatures: %w", err)
			}
		}
	}
	out := refs[:0]
	for _, r := range refs {
		if alive[r.id] {
			out = append(out, r)
		}
	}
	return out, nil
}

// contextBlock decodes a whole block (its own buffer: the hits keep
// pointing into it) and returns the matches with their context, groups
// numbered from 1.
func contextBlock(c *codec, data []byte, host string, ctxN int, match func(*Record) bool) ([]Hit, int, int, error) {
	raw, err := c.dec.DecodeAll(data, nil)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("decompress: %w", err)
	}
	d, err := newDecoder(raw, host)
	if err != nil {
		return nil, 0, 0, err
	}
	recs, err := decodeAll(d)
	if err != nil {
		return nil, 0, 0, err
	}
	hits, n, _ := withContext(nil, recs, ctxN, 0, match)
	return hits, n, len(recs), nil
}

// sortHits orders hits by event time, then seq.
func sortHits(hits []Hit) {
	sort.SliceStable(hits, func(i, j int) bool {
		if !hits[i].Time.Equal(hits[j].Time) {
			return hits[i].Time.Before(hits[j].Time)
		}
		return hits[i].Seq < hits[j].Seq
	})
}
