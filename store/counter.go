package store

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/query"
)

// counter accumulates one worker's matches.
type counter struct {
	start, step int64 // ns
	buckets     [][9]int64
	total       int64
	all         bool // count every field seen
	fields      map[string]*valueCounter
	order       []string
	scanned     int
}

type valueCounter struct {
	// vals maps a value to its count; the count is behind a pointer
	// because assigning to a string key stores the key given, and the
	// values looked up point into a block buffer that is reused.
	vals    map[string]*int64
	other   int64
	missing int64
	more    bool
}

func newCounter(o *SummaryOptions, start int64, nb int) *counter {
	c := &counter{start: start, step: int64(o.Step), fields: map[string]*valueCounter{}}
	if nb > 0 {
		c.buckets = make([][9]int64, nb)
	}
	for _, f := range o.Fields {
		if f == "*" {
			c.all = true
			for _, sf := range standardFields {
				c.field(sf)
			}
			continue
		}
		c.field(f)
	}
	return c
}

func (c *counter) field(name string) *valueCounter {
	if v, ok := c.fields[name]; ok {
		return v
	}
	if len(c.fields) >= maxFieldNames+len(standardFields) {
		return nil
	}
	v := &valueCounter{vals: map[string]*int64{}}
	name = strings.Clone(name)
	c.fields[name] = v
	c.order = append(c.order, name)
	return v
}

func (v *valueCounter) add(val string, n int64) {
	if len(val) > maxValueLen {
		val = val[:maxValueLen]
	}
	if p, ok := v.vals[val]; ok {
		*p += n
		return
	}
	if len(v.vals) < maxDistinct {
		v.vals[strings.Clone(val)] = &n
		return
	}
	v.other += n
	v.more = true
}

func (c *counter) addRecord(r *Record) {
	c.total++
	if c.buckets != nil {
		i := (r.Time.UnixNano() - c.start) / c.step
		if i >= 0 && i < int64(len(c.buckets)) {
			c.buckets[i][sevIndex(r.Severity)]++
		}
	}
	for _, name := range c.order {
		fc := c.fields[name]
		if v, ok := r.Get(name); ok && v != "" {
			fc.add(v, 1)
		} else {
			fc.missing++
		}
	}
	if c.all {
		for _, f := range r.Fields {
			if _, ok := c.fields[f.Key]; ok {
				continue
			}
			// A field first seen now was missing from the earlier matches.
			if fc := c.field(f.Key); fc != nil {
				fc.missing = c.total - 1
				fc.add(f.Value, 1)
			}
		}
	}
}

func (c *counter) merge(o *counter) {
	c.total += o.total
	c.scanned += o.scanned
	for i := range o.buckets {
		for s := range o.buckets[i] {
			c.buckets[i][s] += o.buckets[i][s]
		}
	}
	for _, name := range o.order {
		src := o.fields[name]
		dst, ok := c.fields[name]
		if !ok {
			if dst = c.field(name); dst == nil {
				continue
			}
			// missing from everything c counted before
			dst.missing = c.total - o.total
		}
		for v, n := range src.vals {
			dst.add(v, *n)
		}
		dst.other += src.other
		dst.missing += src.missing
		dst.more = dst.more || src.more
	}
	// Fields o never saw are missing from all of o's matches.
	for _, name := range c.order {
		if _, ok := o.fields[name]; !ok {
			c.fields[name].missing += o.total
		}
	}
}

// result returns the fields in their order, values most frequent first.
func (c *counter) result() []FieldValues {
	out := make([]FieldValues, 0, len(c.order))
	for _, name := range c.order {
		fc := c.fields[name]
		fv := FieldValues{Name: name, Other: fc.other, Missing: fc.missing, Distinct: len(fc.vals), More: fc.more}
		fv.Values = make([]ValueCount, 0, len(fc.vals))
		for v, n := range fc.vals {
			fv.Values = append(fv.Values, ValueCount{Value: v, Count: *n})
		}
		sortValues(fv.Values)
		out = append(out, fv)
	}
	return out
}

// statsDoc is what a query sees of a block's lines from their stats.
type statsDoc struct {
	host string
	sev  uint8
}

func (d statsDoc) Line() string { return "" }
func (d statsDoc) Get(f string) (string, bool) {
	switch f {
	case "host":
		return d.host, true
	case "severity":
		if d.sev < 8 {
			return logparse.SeverityNames[d.sev], true
		}
	}
	return "", false
}

func (c *counter) addStats(st *blockStats, host string, q *query.Query, fields bool) {
	var sevOK [9]bool
	for i := range sevOK {
		sevOK[i] = q.Match(statsDoc{host: host, sev: uint8(i)})
	}
	var n int64
	for _, m := range st.Minutes {
		if !sevOK[m.Sev] {
			continue
		}
		n += int64(m.N)
		if c.buckets != nil {
			i := (m.Minute*int64(time.Minute) - c.start) / c.step
			if i >= 0 && i < int64(len(c.buckets)) {
				c.buckets[i][m.Sev] += int64(m.N)
			}
		}
	}
	c.total += n
	if !fields || n == 0 {
		return
	}
	// Here the query has host terms only: every line of the block
	// matches or none does, and n is the block's line count.
	for _, name := range c.order {
		fc := c.fields[name]
		switch name {
		case "host":
			fc.add(host, n)
			continue
		case "severity":
			for _, m := range st.Minutes {
				if m.Sev < 8 {
					fc.add(logparse.SeverityNames[m.Sev], int64(m.N))
				} else {
					fc.missing += int64(m.N)
				}
			}
			continue
		}
		var fs *fieldStats
		for i := range st.Fields {
			if st.Fields[i].Name == name {
				fs = &st.Fields[i]
			}
		}
		if fs == nil {
			// A parsed field: the stats do not know; the lines count as
			// missing, which the page says for estimated panels.
			fc.missing += n
			continue
		}
		for _, v := range fs.Values {
			fc.add(v.Value, v.Count)
		}
		if fs.Other > 0 {
			fc.other += fs.Other
			fc.more = true
		}
		fc.missing += fs.Missing
	}
}

// scaleSample turns the counts of a sample of blocks into estimates for
// all candidates: each bucket by the ratio of the lines all candidates
// and the sampled ones hold in it (a block's lines taken as spread
// evenly over its time span), the total and field counts by the ratio
// of all their lines.
func scaleSample(c *counter, all, sample []sumBlock, start, step int64, nb int) {
	var linesAll, linesSample float64
	for _, b := range all {
		linesAll += float64(b.n)
	}
	for _, b := range sample {
		linesSample += float64(b.n)
	}
	if linesSample == 0 {
		return
	}
	if nb > 0 {
		spread := func(bs []sumBlock) []float64 {
			out := make([]float64, nb)
			for _, b := range bs {
				span := float64(b.maxT-b.minT) + 1
				for i := max(0, (b.minT-start)/step); i < int64(nb) && start+i*step <= b.maxT; i++ {
					lo, hi := max(b.minT, start+i*step), min(b.maxT+1, start+(i+1)*step)
					if hi > lo {
						out[i] += float64(b.n) * float64(hi-lo) / span
					}
				}
			}
			return out
		}
		wa, ws := spread(all), spread(sample)
		for i := range c.buckets {
			f := linesAll / linesSample
			if ws[i] > 0 {
				f = wa[i] / ws[i]
			}
			for s := range c.buckets[i] {
				c.buckets[i][s] = int64(math.Round(float64(c.buckets[i][s]) * f))
			}
		}
	}
	f := linesAll / linesSample
	scale := func(n int64) int64 { return int64(math.Round(float64(n) * f)) }
	c.total = scale(c.total)
	if nb > 0 {
		// the total the bars add up to
		c.total = 0
		for i := range c.buckets {
			for _, n := range c.buckets[i] {
				c.total += n
			}
		}
	}
	for _, fc := range c.fields {
		for _, n := range fc.vals {
			*n = scale(*n)
		}
		fc.other, fc.missing = scale(fc.other), scale(fc.missing)
	}
}

// addParsed adds the parsed (non-standard) fields counted by o, whose
// lines c has already counted otherwise.
func (c *counter) addParsed(o *counter) {
	for _, name := range o.order {
		if slices.Contains(standardFields, name) {
			continue
		}
		src := o.fields[name]
		dst := c.field(name)
		if dst == nil {
			continue
		}
		for v, n := range src.vals {
			dst.add(v, *n)
		}
		dst.other += src.other
		dst.more = dst.more || src.more
	}
	// missing: what the values do not account for
	for _, name := range c.order {
		if slices.Contains(standardFields, name) {
			continue
		}
		fc := c.fields[name]
		var n int64
		for _, v := range fc.vals {
			n += *v
		}
		fc.missing = max(0, c.total-n-fc.other)
	}
}
