package vlogs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
	"github.com/watchpost/watchpost/store"
)

// Searcher answers log searches from VictoriaLogs with the SQLite store's
// semantics: the same query language, newest-N, context and order.
type Searcher struct {
	Client *Client
	// Local, when set (primary mode), is the store that holds the lines
	// VictoriaLogs may not have yet: its hits are merged in, each line
	// once.
	Local *store.Store
	// Confirmed, with Local, is the seq up to which VictoriaLogs is known
	// to hold every line (the shipper's): exact counts add the local
	// lines after it.
	Confirmed func() int64
}

// QueryTimeout bounds one search against VictoriaLogs (whose own
// -search.maxQueryDuration is 30 s by default).
const QueryTimeout = time.Minute

// MaxContextMatches bounds the matches a search with context may have:
// each costs two lookups in VictoriaLogs.
const MaxContextMatches = 2000

// TooBroad is a search VictoriaLogs cannot answer in reasonable time; the
// API answers it with 400.
type TooBroad struct{ Msg string }

func (e *TooBroad) Error() string    { return e.Msg }
func (e *TooBroad) BadRequest() bool { return true }

// Search is store.Store.Search against VictoriaLogs.
func (s *Searcher) Search(ctx context.Context, o store.SearchOptions) ([]store.Hit, store.SearchStats, error) {
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	hits, st, err := s.remote(ctx, o)
	if err != nil {
		return nil, st, err
	}
	if s.Local == nil {
		return hits, st, nil
	}
	local, lst, err := s.Local.Search(ctx, o)
	if err != nil {
		return nil, st, err
	}
	st.Scanned += lst.Scanned
	return mergeHits(hits, local, o.Limit, o.Context > 0), st, nil
}

// mergeHits joins VictoriaLogs' hits with the local store's, each seq
// once (the local copy wins: it is never cut), keeping the newest limit
// matches.
func mergeHits(remote, local []store.Hit, limit int, withContext bool) []store.Hit {
	seen := make(map[int64]int, len(local))
	out := make([]store.Hit, 0, len(remote)+len(local))
	groupBase := 0
	for _, h := range local {
		seen[h.Seq] = len(out)
		groupBase = max(groupBase, h.Group)
		out = append(out, h)
	}
	for _, h := range remote {
		if i, ok := seen[h.Seq]; ok {
			out[i].Match = out[i].Match || h.Match
			continue
		}
		if h.Group != 0 {
			h.Group += groupBase
		}
		out = append(out, h)
	}
	sortHits(out)
	if limit > 0 && !withContext {
		n := 0
		for i := len(out) - 1; i >= 0; i-- {
			if out[i].Match {
				if n++; n == limit {
					return out[i:]
				}
			}
		}
	}
	return out
}

func (s *Searcher) remote(ctx context.Context, o store.SearchOptions) ([]store.Hit, store.SearchStats, error) {
	var st store.SearchStats
	q := o.Query
	inRange := func(r *store.Record) bool {
		return (o.Since.IsZero() || !r.Time.Before(o.Since)) && (o.Until.IsZero() || r.Time.Before(o.Until))
	}
	cursor := store.Record{Seq: o.Before.Seq}
	cursor.Time = o.Before.Time
	keep := func(r *store.Record) bool {
		return inRange(r) && (o.Before.IsZero() || less(r, &cursor)) && (q == nil || q.Match(r))
	}
	base := Filter(q)
	if !o.Before.IsZero() {
		// A page: only lines older than the cursor.
		base = and(base, beforeFilter(&cursor))
	}
	var recs []store.Record
	var err error
	if o.Limit > 0 {
		recs, err = s.newest(ctx, base, o.Since, o.Until, o.Limit, keep, &st)
	} else {
		recs, err = s.all(ctx, and(base, TimeFilter(o.Since, o.Until)), keep, &st)
	}
	if err != nil {
		return nil, st, err
	}
	if o.Context > 0 {
		if len(recs) > MaxContextMatches {
			return nil, st, &TooBroad{fmt.Sprintf("%d matches: context lines are looked up for at most %d; narrow the query or ask for the newest (-n)", len(recs), MaxContextMatches)}
		}
		hits, err := s.withContext(ctx, recs, o.Context, keep, &st)
		return hits, st, err
	}
	hits := make([]store.Hit, len(recs))
	for i := range recs {
		hits[i] = store.Hit{Record: recs[i], Match: true}
	}
	return hits, st, nil
}

func and(filters ...string) string {
	var parts []string
	for _, f := range filters {
		if f != "" && f != "*" {
			parts = append(parts, f)
		}
	}
	if len(parts) == 0 {
		return "*"
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, ") (") + ")"
}

// fetch runs a query and decodes the rows that keep accepts (nil: all);
// rows not shipped by a loghost (no seq) are skipped.
func (s *Searcher) fetch(ctx context.Context, logsql string, limit int, keep func(*store.Record) bool, st *store.SearchStats) ([]store.Record, int, error) {
	var out []store.Record
	n := 0
	err := s.Client.Query(ctx, logsql, limit, func(v *fastjson.Value) error {
		n++
		r, err := decodeRow(v)
		if err != nil {
			return nil
		}
		if keep == nil || keep(&r) {
			out = append(out, r)
		}
		return nil
	})
	st.Scanned += n
	return out, n, err
}

// all returns every row of the filter that keep accepts, in order, each
// seq once.
func (s *Searcher) all(ctx context.Context, filter string, keep func(*store.Record) bool, st *store.SearchStats) ([]store.Record, error) {
	recs, _, err := s.fetch(ctx, filter, 0, keep, st)
	if err != nil {
		return nil, err
	}
	return sortDedup(recs), nil
}

// newest returns the newest n rows of base in [since, until) that keep
// accepts, ordered by (time, seq) as the SQLite store orders them.
//
// VictoriaLogs' limit returns the newest n by time, choosing freely among
// rows that share the oldest time it returns; the rows at that time are
// fetched whole, so ties go by seq. Rows keep rejects (the LogsQL filter
// may select more than the query) are made up for by asking again before
// the oldest time seen.
func (s *Searcher) newest(ctx context.Context, base string, since, until time.Time, n int, keep func(*store.Record) bool, st *store.SearchStats) ([]store.Record, error) {
	var out []store.Record
	end := until
	// Each round asks for twice as many (the matcher may reject most of
	// what a broad filter selects), so rounds stay few.
	for ask := n; ; ask = min(2*ask, 100000) {
		if !since.IsZero() && !end.IsZero() && !end.After(since) {
			break
		}
		rows, got, err := s.fetch(ctx, and(base, TimeFilter(since, end)), ask, nil, st)
		if err != nil {
			return nil, err
		}
		if got < ask {
			for i := range rows {
				if keep(&rows[i]) {
					out = append(out, rows[i])
				}
			}
			break
		}
		t0 := rows[0].Time
		for i := range rows {
			if rows[i].Time.Before(t0) {
				t0 = rows[i].Time
			}
		}
		for i := range rows {
			if rows[i].Time.After(t0) && keep(&rows[i]) {
				out = append(out, rows[i])
			}
		}
		at, _, err := s.fetch(ctx, and(base, "_time:["+logsqlTime(t0)+", "+logsqlTime(t0)+"]"), 0, keep, st)
		if err != nil {
			return nil, err
		}
		out = sortDedup(append(out, at...))
		if len(out) >= n {
			break
		}
		end = t0
	}
	out = sortDedup(out)
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// sortDedup orders records by (time, seq) and drops repeated seqs (a line
// VictoriaLogs should hold once but holds twice shows once).
func sortDedup(recs []store.Record) []store.Record {
	sort.SliceStable(recs, func(i, j int) bool { return less(&recs[i], &recs[j]) })
	out := recs[:0]
	seen := make(map[int64]bool, len(recs))
	for i := range recs {
		if seen[recs[i].Seq] {
			continue
		}
		seen[recs[i].Seq] = true
		out = append(out, recs[i])
	}
	return out
}

func less(a, b *store.Record) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	return a.Seq < b.Seq
}

func sortHits(hits []store.Hit) {
	sort.SliceStable(hits, func(i, j int) bool { return less(&hits[i].Record, &hits[j].Record) })
}

// sourceFilter selects the lines of r's source: same host, collector
// source and file, as the SQLite store's context.
func sourceFilter(r *store.Record) string {
	return fmt.Sprintf(`"host":=%s "source":=%s "file":=%s`, strconv.Quote(r.Host), strconv.Quote(r.Source), strconv.Quote(r.File))
}

// before and after select the lines ordered before and after r by
// (time, seq).
func beforeFilter(r *store.Record) string {
	t := logsqlTime(r.Time)
	return fmt.Sprintf("(_time:<%s OR (_time:[%s, %s] %s:<%d))", t, t, t, fieldSeq, r.Seq)
}

func afterFilter(r *store.Record) string {
	t := logsqlTime(r.Time)
	return fmt.Sprintf("(_time:>%s OR (_time:[%s, %s] %s:>%d))", t, t, t, fieldSeq, r.Seq)
}

// oldest returns the first n rows of filter after time t by (time, seq),
// looking in growing windows so that a busy source is not read whole.
func (s *Searcher) oldest(ctx context.Context, filter string, t time.Time, n int, st *store.SearchStats) ([]store.Record, error) {
	for _, w := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour, 31 * 24 * time.Hour, 0} {
		f := filter
		if w > 0 {
			f = and(filter, "_time:<="+logsqlTime(t.Add(w)))
		}
		recs, _, err := s.fetch(ctx, f+" | sort by (_time, "+fieldSeq+") | limit "+strconv.Itoa(n), 0, nil, st)
		if err != nil {
			return nil, err
		}
		if len(recs) >= n || w == 0 {
			return sortDedup(recs), nil
		}
	}
	return nil, nil
}
