package vlogs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
	"github.com/watchpost/watchpost/query"
	"github.com/watchpost/watchpost/store"
)

// Histograms and field counts. Where VictoriaLogs holds few enough
// matching lines, they are fetched (only the fields needed) and counted
// by the store's own counter after the matcher's check: the answer equals
// the SQLite store's. Beyond that an estimate may be asked for (the
// explorer's histogram over a long range): VictoriaLogs counts them
// itself with its stats pipe, over the LogsQL filter, which may select a
// few lines more than the query (see Filter), and the answer says it is
// estimated.

// maxFetchSample is how many lines an estimate-allowing summary fetches
// at most before it lets VictoriaLogs count; maxFetchExact, an exact
// one before it gives up.
const (
	maxFetchSample = 100_000
	maxFetchExact  = 1_000_000
)

// Summarize is store.Store.Summarize against VictoriaLogs.
func (s *Searcher) Summarize(ctx context.Context, o store.SummaryOptions) (store.Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	tally, err := store.NewTally(o)
	if err != nil {
		return store.Summary{}, err
	}
	filter := and(Filter(o.Query), TimeFilter(o.Since, o.Until))
	n, err := s.count(ctx, filter)
	if err != nil {
		return store.Summary{}, err
	}
	limit := int64(maxFetchExact)
	if o.MaxLines > 0 {
		limit = min(o.MaxLines, maxFetchSample)
	}
	if n > limit {
		if o.MaxLines == 0 {
			return store.Summary{}, &TooBroad{fmt.Sprintf("%d lines in range: counting more than %d exactly is refused; narrow the range or the query", n, maxFetchExact)}
		}
		return s.estimate(ctx, filter, o)
	}
	q := o.Query
	keep := func(r *store.Record) bool {
		return (o.Since.IsZero() || !r.Time.Before(o.Since)) && (o.Until.IsZero() || r.Time.Before(o.Until)) && (q == nil || q.Match(r))
	}
	pipe := ""
	if fs := projection(q, o.Fields); fs != nil {
		pipe = " | fields " + strings.Join(fs, ", ")
	}
	// Counted as they arrive (each seq once), not kept: up to
	// maxFetchExact lines.
	seen := make(map[int64]struct{}, min(n, 1<<16))
	err = s.Client.Query(ctx, filter+pipe, 0, func(v *fastjson.Value) error {
		r, err := decodeRow(v)
		if err != nil || !keep(&r) {
			return nil
		}
		if _, dup := seen[r.Seq]; dup {
			return nil
		}
		seen[r.Seq] = struct{}{}
		tally.Add(&r)
		return nil
	})
	if err != nil {
		return store.Summary{}, err
	}
	if err := s.localTail(ctx, keep, seen, tally); err != nil {
		return store.Summary{}, err
	}
	return tally.Summary(), nil
}

// maxLocalTail bounds the unconfirmed local lines a summary reads.
const maxLocalTail = 1 << 18

// localTail counts the local store's lines VictoriaLogs may not hold yet
// (primary mode): the newest seconds, or an outage's backlog up to
// maxLocalTail lines.
func (s *Searcher) localTail(ctx context.Context, keep func(*store.Record) bool, seen map[int64]struct{}, tally *store.Tally) error {
	if s.Local == nil || s.Confirmed == nil {
		return nil
	}
	after := s.Confirmed()
	if after <= 0 {
		return nil // not known yet
	}
	last := s.Local.LastSeq()
	for read := 0; after < last && read < maxLocalTail; {
		recs, through, err := s.Local.ReadAfterKind(ctx, after, 1<<16, store.KindLog)
		if err != nil {
			return err
		}
		for i := range recs {
			if _, dup := seen[recs[i].Seq]; dup || !keep(&recs[i]) {
				continue
			}
			seen[recs[i].Seq] = struct{}{}
			tally.Add(&recs[i])
		}
		read += len(recs)
		after = through
	}
	return nil
}

// count asks VictoriaLogs how many rows the filter selects.
func (s *Searcher) count(ctx context.Context, filter string) (int64, error) {
	var n int64
	err := s.Client.Query(ctx, filter+" | stats count() n", 0, func(v *fastjson.Value) error {
		n, _ = strconv.ParseInt(string(v.GetStringBytes("n")), 10, 64)
		return nil
	})
	return n, err
}

// projection lists the stored fields a summary needs of each row: what
// the matcher reads and what is counted; nil for all.
func projection(q *query.Query, fields []string) []string {
	need := map[string]bool{"_time": true, fieldSeq: true, "severity": true, fieldExact: true, "host": true}
	add := func(f string) {
		switch f {
		case "*":
			need["*"] = true
		case "message":
			need["message"], need[fieldMsgAt], need["_msg"], need[fieldRawB64] = true, true, true, true
		default:
			if standardFields[f] {
				need[f] = true
			} else {
				need[storedName(f)] = true
			}
		}
	}
	if q != nil {
		for _, t := range q.Terms {
			if t.Kind == query.Word || t.Kind == query.Phrase {
				need["_msg"], need[fieldRawB64] = true, true
				continue
			}
			add(t.Field)
		}
	}
	for _, f := range fields {
		add(f)
	}
	if need["*"] {
		return nil
	}
	out := make([]string, 0, len(need))
	for f := range need {
		out = append(out, strconv.Quote(f))
	}
	sort.Strings(out)
	return out
}

// estimate lets VictoriaLogs count: the histogram by bucket and
// severity, the fields by value.
func (s *Searcher) estimate(ctx context.Context, filter string, o store.SummaryOptions) (store.Summary, error) {
	sum := store.Summary{Sampled: true}
	if o.Step > 0 {
		start := store.HistogramStart(o)
		nb := int((o.Until.UnixNano() - start.UnixNano() + int64(o.Step) - 1) / int64(o.Step))
		sum.Start, sum.Step, sum.Buckets = start, o.Step, make([][9]int64, nb)
		step := int64(o.Step / time.Millisecond)
		off := ((start.UnixNano()/int64(time.Millisecond))%step + step) % step
		q := fmt.Sprintf("%s | stats by (_time:%dms offset %dms, severity) count() n", filter, step, off)
		err := s.Client.Query(ctx, q, 0, func(v *fastjson.Value) error {
			t, err := time.Parse(time.RFC3339Nano, string(v.GetStringBytes("_time")))
			if err != nil {
				return nil
			}
			n, _ := strconv.ParseInt(string(v.GetStringBytes("n")), 10, 64)
			i := (t.UnixNano() - start.UnixNano()) / int64(o.Step)
			sev := indexOf(severityLabels[:8], string(v.GetStringBytes("severity")))
			if sev < 0 {
				sev = 8
			}
			if i >= 0 && i < int64(nb) {
				sum.Buckets[i][sev] += n
			}
			sum.Total += n
			return nil
		})
		if err != nil {
			return sum, err
		}
	} else {
		n, err := s.count(ctx, filter)
		if err != nil {
			return sum, err
		}
		sum.Total = n
	}
	names, err := s.fieldNames(ctx, filter, o.Fields)
	if err != nil {
		return sum, err
	}
	for _, name := range names {
		fv := store.FieldValues{Name: name}
		q := fmt.Sprintf("%s | stats by (%s) count() n | sort by (n desc) | limit %d", filter, fieldName(name), maxDistinct+1)
		var counted int64
		err := s.Client.Query(ctx, q, 0, func(v *fastjson.Value) error {
			n, _ := strconv.ParseInt(string(v.GetStringBytes("n")), 10, 64)
			val := string(v.GetStringBytes(storedFieldName(name)))
			if val == "" {
				fv.Missing += n
				return nil
			}
			counted += n
			if len(fv.Values) == maxDistinct {
				fv.More = true
				fv.Other += n
				return nil
			}
			fv.Values = append(fv.Values, store.ValueCount{Value: val, Count: n})
			return nil
		})
		if err != nil {
			return sum, err
		}
		fv.Distinct = len(fv.Values)
		if rest := sum.Total - counted - fv.Missing; rest > 0 && fv.More {
			fv.Other += rest
		}
		sum.Fields = append(sum.Fields, fv)
	}
	return sum, nil
}

// maxDistinct and maxFieldNames match the store's bounds.
const (
	maxDistinct   = 2000
	maxFieldNames = 64
)

// severityLabels are the severity keywords in code order.
var severityLabels = [...]string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// storedFieldName is the stored name of a query field.
func storedFieldName(f string) string {
	if standardFields[f] {
		return f
	}
	return storedName(f)
}

// summaryStandard are the fields "*" counts first, as the store does.
var summaryStandard = []string{"host", "program", "severity", "facility", "file", "site", "format", "source"}

// fieldNames expands "*" to the standard fields and the parsed fields the
// matches have.
func (s *Searcher) fieldNames(ctx context.Context, filter string, fields []string) ([]string, error) {
	var out []string
	for _, f := range fields {
		if f != "*" {
			out = append(out, f)
			continue
		}
		out = append(out, summaryStandard...)
		var parsed []string
		err := s.Client.Query(ctx, filter+" | field_names", 0, func(v *fastjson.Value) error {
			name := string(v.GetStringBytes("name"))
			switch {
			case standardFields[name], name == "message", strings.HasPrefix(name, "_"),
				strings.HasPrefix(name, "wp_") && !strings.HasPrefix(name, parserPrefix):
				return nil
			}
			parsed = append(parsed, strings.TrimPrefix(name, parserPrefix))
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(parsed)
		if len(parsed) > maxFieldNames {
			parsed = parsed[:maxFieldNames]
		}
		out = append(out, parsed...)
	}
	return out, nil
}

// Around is store.Store.Around against VictoriaLogs: the line with the
// seq and the lines before and after it from its host, collector source
// and file, in (time, seq) order.
func (s *Searcher) Around(ctx context.Context, seq int64, before, after int) ([]store.Record, int, error) {
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	var st store.SearchStats
	recs, _, err := s.fetch(ctx, fmt.Sprintf("%s:=%d", fieldSeq, seq), 0, nil, &st)
	if err != nil {
		return nil, 0, err
	}
	if len(recs) == 0 {
		if s.Local != nil {
			return s.Local.Around(ctx, seq, before, after)
		}
		return nil, 0, store.ErrNotFound
	}
	line := recs[0]
	src := sourceFilter(&line)
	var above, below []store.Record
	if before > 0 {
		if above, err = s.newest(ctx, and(src, beforeFilter(&line)), time.Time{}, time.Time{}, before, func(*store.Record) bool { return true }, &st); err != nil {
			return nil, 0, err
		}
	}
	if after > 0 {
		if below, err = s.oldest(ctx, and(src, afterFilter(&line)), line.Time, after, &st); err != nil {
			return nil, 0, err
		}
	}
	out := append(append(above, line), below...)
	return out, len(above), nil
}
