package logapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/query"
	"github.com/watchpost/watchpost/store"
)

// Limits of the explorer endpoints.
const (
	// PageLimit is the default and MaxPage the largest page of lines.
	PageLimit = 200
	MaxPage   = 5000
	// MinBuckets and MaxBuckets bound a histogram; it is drawn with as
	// many buckets of a round width as fit in MaxBuckets (at least
	// MinBuckets but for very short ranges).
	MinBuckets = 60
	MaxBuckets = 120
	// SampleLines is about how many stored lines a histogram or field
	// panel reads at most when its answer may be estimated (a month of a
	// busy loghost holds hundreds of millions); exact counts (count, by)
	// read all of them.
	SampleLines = 256 << 10
	// QueryTimeout bounds every search and count.
	QueryTimeout = 60 * time.Second
	// MaxRunning is how many searches and counts one user runs at once.
	MaxRunning = 4
)

// writeJSON answers v with the API's headers.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	// Log lines are hostile: keep them inert even if a browser ever
	// rendered this as HTML despite nosniff.
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

// running counts the searches each user has running, so that one user
// (or one script) cannot occupy every core of the loghost.
type running struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *Handler) begin(r *http.Request) (func(), bool) {
	who := "?"
	if h.Principal != nil {
		who = h.Principal(r)
	}
	h.running.mu.Lock()
	defer h.running.mu.Unlock()
	if h.running.n == nil {
		h.running.n = map[string]int{}
	}
	if h.running.n[who] >= MaxRunning {
		return nil, false
	}
	h.running.n[who]++
	return func() {
		h.running.mu.Lock()
		if h.running.n[who]--; h.running.n[who] <= 0 {
			delete(h.running.n, who)
		}
		h.running.mu.Unlock()
	}, true
}

// guard runs fn with a deadline and within the user's share of searches.
func (h *Handler) guard(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context) error) {
	done, ok := h.begin(r)
	if !ok {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "too many searches running for this user: wait for one to finish")
		return
	}
	defer done()
	ctx, cancel := context.WithTimeout(r.Context(), QueryTimeout)
	defer cancel()
	err := fn(ctx)
	switch {
	case err == nil:
	case r.Context().Err() != nil:
		// the client left
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "the search took longer than "+QueryTimeout.String()+": narrow the range or the query")
	case isBadRequest(err):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		h.logger().Error("log search", "err", err)
		writeError(w, http.StatusInternalServerError, "search failed")
	}
}

func isBadRequest(err error) bool {
	var ae apiError
	var qe *query.Error
	var bad interface{ BadRequest() bool } // a store refusing a search too broad for it
	return errors.As(err, &ae) || errors.As(err, &qe) || errors.Is(err, store.ErrNotFound) || errors.As(err, &bad) && bad.BadRequest()
}

// rangeParams reads q, since and until; a histogram needs both ends, so
// a missing since means the last hour and a missing until now.
func (h *Handler) rangeParams(r *http.Request, closed bool) (*query.Query, time.Time, time.Time, error) {
	v := r.URL.Query()
	q, err := query.Parse(v.Get("q"))
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	now := h.Now()
	since, err := ParseTime(v.Get("since"), now, h.Location)
	if err != nil {
		return nil, time.Time{}, time.Time{}, apiError(err.Error())
	}
	until, err := ParseTime(v.Get("until"), now, h.Location)
	if err != nil {
		return nil, time.Time{}, time.Time{}, apiError(err.Error())
	}
	if closed {
		if until.IsZero() {
			until = now
		}
		if since.IsZero() {
			since = until.Add(-time.Hour)
		}
	}
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return nil, time.Time{}, time.Time{}, errorf("until must be after since")
	}
	return q, since, until, nil
}

func intParam(v string, def, lo, hi int, name string) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errorf("%s must be a number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// FormatCursor and ParseCursor write and read a page cursor: the
// position after which (older than which) the next page starts.
func FormatCursor(c store.Cursor) string {
	return strconv.FormatInt(c.Time.UnixNano(), 10) + "." + strconv.FormatInt(c.Seq, 10)
}

func ParseCursor(s string) (store.Cursor, error) {
	ns, seq, ok := strings.Cut(s, ".")
	t, err1 := strconv.ParseInt(ns, 10, 64)
	q, err2 := strconv.ParseInt(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil || q < 0 {
		return store.Cursor{}, errorf("bad cursor %q", s)
	}
	return store.Cursor{Time: time.Unix(0, t), Seq: q}, nil
}

// PageAnswer is a page of lines, newest first.
type PageAnswer struct {
	Lines []Event `json:"lines"`
	// Next is the cursor of the following (older) page; "" at the end.
	Next   string `json:"next"`
	TookMS int64  `json:"took_ms"`
}

// Page serves GET /api/v1/logs/page: the newest lines matching q in the
// range, newest first, and a cursor for the next, older, page.
func (h *Handler) Page(w http.ResponseWriter, r *http.Request) {
	h.guard(w, r, func(ctx context.Context) error {
		start := time.Now()
		q, since, until, err := h.rangeParams(r, false)
		if err != nil {
			return err
		}
		v := r.URL.Query()
		limit, err := intParam(v.Get("limit"), PageLimit, 1, MaxPage, "limit")
		if err != nil {
			return err
		}
		o := store.SearchOptions{Query: q, Since: since, Until: until, Limit: limit + 1}
		if c := v.Get("cursor"); c != "" {
			if o.Before, err = ParseCursor(c); err != nil {
				return err
			}
		}
		hits, _, err := h.searcher().Search(ctx, o)
		if err != nil {
			return err
		}
		ans := PageAnswer{Lines: make([]Event, 0, min(len(hits), limit))}
		more := len(hits) > limit
		if more {
			hits = hits[1:] // the oldest is the next page's first
		}
		for i := len(hits) - 1; i >= 0; i-- {
			ans.Lines = append(ans.Lines, FromRecord(&hits[i].Record))
		}
		if more {
			last := hits[0]
			ans.Next = FormatCursor(store.Cursor{Time: last.Time, Seq: last.Seq})
		}
		ans.TookMS = time.Since(start).Milliseconds()
		writeJSON(w, ans)
		return nil
	})
}

// niceSteps are the bucket widths a histogram chooses from: each at most
// twice the one before, so some width gives MinBuckets to MaxBuckets.
var niceSteps = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 20 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 3 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 20 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 8 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 3 * 24 * time.Hour, 4 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour,
	28 * 24 * time.Hour, 56 * 24 * time.Hour, 91 * 24 * time.Hour, 182 * 24 * time.Hour, 364 * 24 * time.Hour,
}

// StepFor returns the round bucket width that draws the range in at
// most max buckets.
func StepFor(d time.Duration, max int) time.Duration {
	for _, s := range niceSteps {
		if d <= s*time.Duration(max-1) {
			return s
		}
	}
	return niceSteps[len(niceSteps)-1]
}

// SeverityNames label the histogram's series: the RFC 5424 keywords and
// "none" for lines without a severity.
var SeverityNames = append(append([]string{}, logparse.SeverityNames[:]...), "none")

// Bucket is one histogram bar: its start and its lines per severity, in
// SeverityNames order.
type Bucket struct {
	T      time.Time `json:"t"`
	Counts [9]int64  `json:"counts"`
}

// SummaryAnswer is a histogram and field counts.
type SummaryAnswer struct {
	From       time.Time           `json:"from"`
	To         time.Time           `json:"to"`
	Total      int64               `json:"total"`
	StepMS     int64               `json:"step_ms,omitempty"`
	Severities []string            `json:"severities,omitempty"`
	Buckets    []Bucket            `json:"buckets,omitempty"`
	Fields     []store.FieldValues `json:"fields,omitempty"`
	// Sampled says the counts are estimated from SampledBlocks of
	// CandidateBlocks blocks.
	Sampled bool `json:"sampled"`
	// FieldsSampled says the parsed fields' counts are estimated from a
	// sample of blocks (the rest came from the blocks' stats).
	FieldsSampled   bool  `json:"fields_sampled,omitempty"`
	SampledBlocks   int   `json:"sampled_blocks,omitempty"`
	CandidateBlocks int   `json:"candidate_blocks,omitempty"`
	BlocksInRange   int   `json:"blocks_in_range"`
	BlocksFromStats int   `json:"blocks_from_stats"`
	BlocksRead      int   `json:"blocks_read"`
	TookMS          int64 `json:"took_ms"`
}

func (h *Handler) summary(ctx context.Context, r *http.Request, histogram bool, fields []string, top int, exact bool) (SummaryAnswer, error) {
	start := time.Now()
	var ans SummaryAnswer
	q, since, until, err := h.rangeParams(r, histogram)
	if err != nil {
		return ans, err
	}
	o := store.SummaryOptions{Query: q, Since: since, Until: until, Location: h.Location, Fields: fields}
	if !exact {
		o.MaxLines = SampleLines
	}
	if histogram {
		n, err := intParam(r.URL.Query().Get("buckets"), MaxBuckets, 1, 1000, "buckets")
		if err != nil {
			return ans, err
		}
		o.Step = StepFor(until.Sub(since), n)
	}
	sum, err := h.searcher().Summarize(ctx, o)
	if err != nil {
		return ans, err
	}
	ans = SummaryAnswer{From: since, To: until, Total: sum.Total, Sampled: sum.Sampled, SampledBlocks: sum.SampledBlocks,
		CandidateBlocks: sum.CandidateBlocks, FieldsSampled: sum.FieldsSampled, BlocksInRange: sum.BlocksInRange, BlocksFromStats: sum.FromStats, BlocksRead: sum.Read}
	if histogram {
		ans.StepMS = sum.Step.Milliseconds()
		ans.Severities = SeverityNames
		ans.Buckets = make([]Bucket, len(sum.Buckets))
		for i := range sum.Buckets {
			ans.Buckets[i] = Bucket{T: sum.Start.Add(time.Duration(i) * sum.Step), Counts: sum.Buckets[i]}
		}
	}
	ans.Fields = sum.Fields
	for i := range ans.Fields {
		f := &ans.Fields[i]
		f.TopValues(top)
		for j := range f.Values {
			f.Values[j].Value = strings.ToValidUTF8(f.Values[j].Value, "\uFFFD")
		}
		f.Name = strings.ToValidUTF8(f.Name, "\uFFFD")
	}
	ans.TookMS = time.Since(start).Milliseconds()
	return ans, nil
}

func fieldList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Histogram serves GET /api/v1/logs/histogram: matches per time bucket
// and severity over the range (default: the last hour), with the top
// values of fields= ("*": every field) when asked. Over long ranges
// the answer may be estimated from a sample of blocks, and says so.
func (h *Handler) Histogram(w http.ResponseWriter, r *http.Request) {
	h.guard(w, r, func(ctx context.Context) error {
		v := r.URL.Query()
		top, err := intParam(v.Get("top"), 10, 1, 1000, "top")
		if err != nil {
			return err
		}
		ans, err := h.summary(ctx, r, true, fieldList(v.Get("fields")), top, v.Get("exact") == "1")
		if err != nil {
			return err
		}
		writeJSON(w, ans)
		return nil
	})
}

// Fields serves GET /api/v1/logs/fields?by=FIELD[,FIELD]: each field's
// most frequent values among the matches with their counts (exact;
// sample=1 allows an estimate over long ranges), as `grep -by` prints.
func (h *Handler) Fields(w http.ResponseWriter, r *http.Request) {
	h.guard(w, r, func(ctx context.Context) error {
		v := r.URL.Query()
		by := fieldList(v.Get("by"))
		if len(by) == 0 {
			return errorf("by= names the field(s) to count, e.g. by=client or by=host,program (* for all)")
		}
		top, err := intParam(v.Get("top"), 20, 1, 100000, "top")
		if err != nil {
			return err
		}
		ans, err := h.summary(ctx, r, false, by, top, v.Get("sample") != "1")
		if err != nil {
			return err
		}
		writeJSON(w, ans)
		return nil
	})
}

// Count serves GET /api/v1/logs/count: the number of matches (exact).
func (h *Handler) Count(w http.ResponseWriter, r *http.Request) {
	h.guard(w, r, func(ctx context.Context) error {
		ans, err := h.summary(ctx, r, false, nil, 0, true)
		if err != nil {
			return err
		}
		writeJSON(w, struct {
			Count  int64 `json:"count"`
			TookMS int64 `json:"took_ms"`
		}{ans.Total, ans.TookMS})
		return nil
	})
}

// ContextAnswer is a line with the lines around it from its source.
type ContextAnswer struct {
	Lines  []Event `json:"lines"`
	Anchor int     `json:"anchor"` // index of the line asked for
	// MoreAbove and MoreBelow say whether the source may have more lines
	// beyond those given (ask again from the first or last line's seq).
	MoreAbove bool `json:"more_above"`
	MoreBelow bool `json:"more_below"`
}

// Context serves GET /api/v1/logs/context?seq=N&before=B&after=A: the
// line with that seq and the lines before and after it from the same
// host and source, in the order they arrived (as grep -C).
func (h *Handler) Context(w http.ResponseWriter, r *http.Request) {
	h.guard(w, r, func(ctx context.Context) error {
		v := r.URL.Query()
		seq, err := strconv.ParseInt(v.Get("seq"), 10, 64)
		if err != nil || seq <= 0 {
			return errorf("seq must be a line's seq")
		}
		before, err := intParam(v.Get("before"), 20, 0, 1000, "before")
		if err != nil {
			return err
		}
		after, err := intParam(v.Get("after"), 20, 0, 1000, "after")
		if err != nil {
			return err
		}
		recs, idx, err := h.searcher().Around(ctx, seq, before, after)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				writeError(w, http.StatusNotFound, "no stored line has seq "+strconv.FormatInt(seq, 10)+" (retention may have removed it)")
				return nil
			}
			return err
		}
		ans := ContextAnswer{Anchor: idx, MoreAbove: idx == before && before > 0, MoreBelow: len(recs)-idx-1 == after && after > 0}
		for i := range recs {
			ans.Lines = append(ans.Lines, FromRecord(&recs[i]))
		}
		writeJSON(w, ans)
		return nil
	})
}

// FieldCounts is the JSON of `grep -by -o json`: the matches counted and
// the field's values.
func FieldCounts(total int64, fields []store.FieldValues) any {
	return struct {
		Count  int64               `json:"count"`
		Fields []store.FieldValues `json:"fields"`
	}{total, fields}
}
