package store

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/watchpost/watchpost/query"
)

// SummaryOptions asks for the count, histogram and field values of the
// lines matching a query in a time range: what `grep -c`, `grep -by` and
// the explorer's histogram and field panel show.
type SummaryOptions struct {
	Query *query.Query
	Since time.Time // inclusive; zero: unbounded
	Until time.Time // exclusive; zero: unbounded
	// Step is the histogram's bucket width (0: no histogram). Buckets
	// start at Since rounded down to Step in Location.
	Step     time.Duration
	Location *time.Location
	// Fields are counted by value; "*" stands for the standard fields and
	// every parsed field seen.
	Fields []string
	// MaxLines bounds how many stored lines are decompressed: beyond it,
	// an even sample of blocks holding about that many is read and the
	// counts are estimated from it (0: always exact).
	MaxLines int64
}

// Summary is the answer to SummaryOptions.
type Summary struct {
	Total int64
	Start time.Time // first bucket's start
	Step  time.Duration
	// Buckets count matches per bucket and severity (index 8: none).
	Buckets [][9]int64
	Fields  []FieldValues
	// Sampled is set when the counts are estimated from SampledBlocks of
	// CandidateBlocks blocks.
	Sampled         bool
	SampledBlocks   int
	CandidateBlocks int
	// FieldsSampled says the parsed fields' counts are estimated from a
	// sample of the blocks whose stats gave the rest.
	FieldsSampled bool
	// How the answer was found.
	BlocksInRange int // blocks overlapping the range (and host)
	FromStats     int // blocks answered by their stats alone
	Read          int // blocks decompressed
	Scanned       int // records tested
}

// FieldValues are a field's most frequent values among the matches.
type FieldValues struct {
	Name   string       `json:"name"`
	Values []ValueCount `json:"values"`
	// Other counts matches with a value not listed; Missing, matches
	// without the field.
	Other   int64 `json:"other"`
	Missing int64 `json:"missing"`
	// Distinct is the number of distinct values seen, at least; More
	// says there were more than the counter keeps.
	Distinct int  `json:"distinct"`
	More     bool `json:"more,omitempty"`
}

// maxDistinct bounds the values counted per field, and maxFieldNames the
// parsed fields counted, so hostile or high-cardinality data cannot grow
// a summary without bound.
const (
	maxDistinct   = 2000
	maxFieldNames = 64
	maxValueLen   = 256
)

// standardFields are counted for "*", in this order.
var standardFields = []string{"host", "program", "severity", "facility", "file", "site", "format", "source"}

type sumBlock struct {
	blockRef
	stats []byte // nil: none
}

// Summarize counts the matches of a query in a range, by time bucket and
// severity and by field value. Blocks wholly inside the range whose
// stats answer the query (no terms but host and severity) are counted
// from their stats; the others are decompressed and scanned, or, beyond
// MaxLines, sampled.
func (s *Store) Summarize(ctx context.Context, o SummaryOptions) (Summary, error) {
	var sum Summary
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Step > 0 && (o.Since.IsZero() || o.Until.IsZero() || !o.Until.After(o.Since)) {
		return sum, fmt.Errorf("summary: a histogram needs a range")
	}
	var start int64
	nb := 0
	if o.Step > 0 {
		st := alignDown(o.Since, o.Step, o.Location)
		start = st.UnixNano()
		nb = int((o.Until.UnixNano() - start + int64(o.Step) - 1) / int64(o.Step))
		if nb > 10000 {
			return sum, fmt.Errorf("summary: %d buckets is too many", nb)
		}
		sum.Start, sum.Step = st, o.Step
	}
	// One read transaction: the blocks listed stay readable while
	// compaction and retention replace or drop them (see Search).
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return sum, fmt.Errorf("summary: %w", err)
	}
	defer tx.Rollback()
	blocks, err := s.summaryBlocks(ctx, tx, o)
	if err != nil {
		return sum, err
	}
	sum.BlocksInRange = len(blocks)
	total := newCounter(&o, start, nb)
	// Stats answer the histogram when minutes fall into whole buckets.
	histByStats := o.Step == 0 || (o.Step%time.Minute == 0 && start%int64(time.Minute) == 0)
	statsQuery := statsAnswerable(o.Query, len(o.Fields) > 0)
	inside := func(b *sumBlock) bool {
		return (o.Since.IsZero() || b.minT >= o.Since.UnixNano()) && (o.Until.IsZero() || b.maxT < o.Until.UnixNano())
	}
	// Stats know the standard fields only: with others asked for, they
	// are used when there are more blocks than may be read, and the
	// other fields are then estimated from a sample of those blocks.
	useStats := statsQuery && histByStats
	if useStats && !knownToStats(o.Fields) {
		var n int64
		for i := range blocks {
			if inside(&blocks[i]) && blocks[i].stats != nil {
				n += int64(blocks[i].n)
			}
		}
		useStats = o.MaxLines > 0 && n > o.MaxLines
	}
	var scan, byStats []sumBlock
	for _, b := range blocks {
		if useStats && inside(&b) && b.stats != nil {
			if st, ok := decodeBlockStats(b.stats); ok {
				total.addStats(&st, b.host, o.Query, len(o.Fields) > 0)
				sum.FromStats++
				byStats = append(byStats, b)
				continue
			}
		}
		scan = append(scan, b)
	}
	refs := make([]blockRef, len(scan))
	for i := range scan {
		refs[i] = scan[i].blockRef
	}
	refs, err = s.filterBySignature(ctx, tx, o.Query, refs)
	if err != nil {
		return sum, err
	}
	keep := make(map[int64]bool, len(refs))
	for _, r := range refs {
		keep[r.id] = true
	}
	cands := scan[:0]
	for _, b := range scan {
		if keep[b.id] {
			cands = append(cands, b)
		}
	}
	sum.CandidateBlocks = len(cands)
	read := cands
	if o.MaxLines > 0 {
		if read = evenSample(cands, o.MaxLines); len(read) < len(cands) {
			sum.Sampled, sum.SampledBlocks = true, len(read)
		}
	}
	scanned, err := s.scanSummary(ctx, tx, o, start, nb, read)
	if err != nil {
		return sum, err
	}
	sum.Read = len(read)
	if sum.Sampled {
		scaleSample(scanned, cands, read, start, int64(o.Step), nb)
	}
	total.merge(scanned)
	if len(byStats) > 0 && slices.Contains(o.Fields, "*") {
		// The parsed fields of the blocks counted from stats, from a
		// sample of them.
		sample := evenSample(byStats, max(1, o.MaxLines/4))
		po := o
		po.Step, po.Fields = 0, []string{"*"}
		parsed, err := s.scanSummary(ctx, tx, po, 0, 0, sample)
		if err != nil {
			return sum, err
		}
		sum.Read += len(sample)
		scaleSample(parsed, byStats, sample, 0, 1, 0)
		total.addParsed(parsed)
		sum.FieldsSampled = true
	}
	sum.Scanned = total.scanned
	sum.Total = total.total
	sum.Buckets = total.buckets
	sum.Fields = total.result()
	return sum, nil
}

// TopValues keeps a field's n most frequent values, adding the rest to
// Other.
func (f *FieldValues) TopValues(n int) {
	if len(f.Values) <= n {
		return
	}
	for _, v := range f.Values[n:] {
		f.Other += v.Count
	}
	f.Values = f.Values[:n]
}

// statsAnswerable reports whether block stats can count a query's
// matches: only host terms (a block is one host) and, without field
// counts, severity terms (the minute counts are by severity).
func statsAnswerable(q *query.Query, fields bool) bool {
	if q == nil {
		return true
	}
	for _, t := range q.Terms {
		switch {
		case t.Field == "host" && (t.Kind == query.FieldEq || t.Kind == query.FieldNe || t.Kind == query.FieldRe):
		case t.Field == "severity" && !fields && t.Kind != query.FieldRe:
		default:
			return false
		}
	}
	return true
}

// summaryBlocks lists the log blocks overlapping the range (and the
// query's host), with their stats when they have them.
func (s *Store) summaryBlocks(ctx context.Context, db reader, o SummaryOptions) ([]sumBlock, error) {
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
	if h, ok := o.Query.FieldEquals("host"); ok {
		where = append(where, "h.name = ? COLLATE NOCASE")
		args = append(args, h)
	}
	rows, err := db.QueryContext(ctx, `SELECT b.id, h.name, b.min_time, b.max_time, b.n, bs.data FROM blocks b
		JOIN hosts h ON h.id = b.host_id LEFT JOIN block_stats bs ON bs.block_id = b.id
		WHERE `+strings.Join(where, " AND ")+` ORDER BY b.max_time DESC, b.id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	defer rows.Close()
	var out []sumBlock
	for rows.Next() {
		var b sumBlock
		if err := rows.Scan(&b.id, &b.host, &b.minT, &b.maxT, &b.n, &b.stats); err != nil {
			return nil, fmt.Errorf("summary: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	return out, nil
}

// scanSummary decompresses blocks with a worker per core and counts
// their matches.
func (s *Store) scanSummary(ctx context.Context, db reader, o SummaryOptions, start int64, nb int, blocks []sumBlock) (*counter, error) {
	c, err := s.readCodec()
	if err != nil {
		return nil, err
	}
	q := o.Query
	prefilter := linePrefilter(q)
	whole := blockPrefilter(q)
	since, until := o.Since.UnixNano(), o.Until.UnixNano()
	workers := min(runtime.GOMAXPROCS(0), 4, max(len(blocks), 1))
	counters := make([]*counter, workers)
	errs := make([]error, workers)
	next := make(chan sumBlock)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		counters[w] = newCounter(&o, start, nb)
		wg.Add(1)
		go func(cn *counter) {
			defer wg.Done()
			for b := range next {
				if errs[w] != nil || ctx.Err() != nil {
					continue
				}
				var lo, hi int64
				if !o.Since.IsZero() && b.minT < since {
					lo = since
				}
				if !o.Until.IsZero() && b.maxT >= until {
					hi = until
				}
				_, n, err := s.scanRef(ctx, db, c, b.blockRef, lo, hi, prefilter, whole, func(r *Record, _ bool) bool {
					if q.Match(r) {
						cn.addRecord(r)
						return true
					}
					return false
				})
				cn.scanned += n
				if err != nil {
					errs[w] = fmt.Errorf("summary: block %d: %w", b.id, err)
				}
			}
		}(counters[w])
	}
feed:
	for _, b := range blocks {
		select {
		case next <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for _, cn := range counters[1:] {
		counters[0].merge(cn)
	}
	return counters[0], nil
}

// alignDown rounds t down to a multiple of step counted from midnight in
// loc (for steps of a day or less; longer ones from the Unix epoch).
func alignDown(t time.Time, step time.Duration, loc *time.Location) time.Time {
	if step <= 0 {
		return t
	}
	t = t.In(loc)
	if step <= 24*time.Hour {
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		return day.Add(t.Sub(day) / step * step)
	}
	return time.Unix(0, t.UnixNano()/int64(step)*int64(step)).In(loc)
}

// knownToStats reports whether block stats count every field asked for.
func knownToStats(fields []string) bool {
	for _, f := range fields {
		if f != "host" && f != "severity" && !slices.Contains(statsFields[:], f) {
			return false
		}
	}
	return true
}

// evenSample returns blocks holding about maxLines lines, evenly spread
// in time order (all of them when they hold no more): blocks of one host
// follow each other, so every part of the range keeps its share.
func evenSample(blocks []sumBlock, maxLines int64) []sumBlock {
	var total int64
	for _, b := range blocks {
		total += int64(b.n)
	}
	if total <= maxLines || len(blocks) == 0 {
		return blocks
	}
	sorted := slices.Clone(blocks)
	slices.SortFunc(sorted, func(a, b sumBlock) int { return cmp.Compare(a.minT, b.minT) })
	k := int(max(1, (int64(len(blocks))*maxLines+total-1)/total))
	out := make([]sumBlock, 0, k)
	for i := 0; i < k; i++ {
		out = append(out, sorted[(2*i+1)*len(sorted)/(2*k)])
	}
	return out
}
