package store

import (
	"fmt"
	"time"
)

// Tally counts matching records as Summarize does, for a log store that
// finds the records elsewhere (VictoriaLogs): the same buckets, severity
// columns and field counts.
type Tally struct {
	c     *counter
	start time.Time
	step  time.Duration
}

// NewTally checks o as Summarize does; the caller adds only records that
// match o's query and range.
func NewTally(o SummaryOptions) (*Tally, error) {
	if o.Location == nil {
		o.Location = time.UTC
	}
	var start time.Time
	nb := 0
	if o.Step > 0 {
		if o.Since.IsZero() || o.Until.IsZero() || !o.Until.After(o.Since) {
			return nil, fmt.Errorf("summary: a histogram needs a range")
		}
		start = alignDown(o.Since, o.Step, o.Location)
		nb = int((o.Until.UnixNano() - start.UnixNano() + int64(o.Step) - 1) / int64(o.Step))
		if nb > 10000 {
			return nil, fmt.Errorf("summary: %d buckets is too many", nb)
		}
	}
	return &Tally{c: newCounter(&o, start.UnixNano(), nb), start: start, step: o.Step}, nil
}

// Add counts one record.
func (t *Tally) Add(r *Record) {
	t.c.scanned++
	t.c.addRecord(r)
}

// Summary is what was counted.
func (t *Tally) Summary() Summary {
	return Summary{Total: t.c.total, Start: t.start, Step: t.step, Buckets: t.c.buckets, Fields: t.c.result(), Scanned: t.c.scanned}
}

// HistogramStart is where the histogram of o begins: Since rounded down
// to Step in Location, as Summarize aligns it.
func HistogramStart(o SummaryOptions) time.Time {
	if o.Location == nil {
		o.Location = time.UTC
	}
	return alignDown(o.Since, o.Step, o.Location)
}
