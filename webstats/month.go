package webstats

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MonthKey names one aggregate: a site's calendar month in the
// aggregator's time zone.
type MonthKey struct {
	Site  string
	Year  int
	Month time.Month
}

func (k MonthKey) String() string { return k.Site + " " + k.YearMonth() }

// YearMonth is "2026-10": how months are stored and named in the API.
func (k MonthKey) YearMonth() string { return fmt.Sprintf("%04d-%02d", k.Year, int(k.Month)) }

// Counts are AWStats's three measures.
type Counts struct{ Pages, Hits, Bytes int64 }

func (c *Counts) add(o Counts) { c.Pages += o.Pages; c.Hits += o.Hits; c.Bytes += o.Bytes }

// Host is one client (as stored: truncated or hashed under a privacy
// option) in one month.
type Host struct {
	Pages, Hits, Bytes int64
	// Visits are sorted by Start and more than the visit timeout apart
	// (or on different days), so that adding a request in any order
	// yields the same set: a visit is a connected run of page views.
	Visits []Visit
}

// Visit is a run of page views of one host. Entry and Exit are the pages
// viewed first and last; on a tie in time the smaller (entry) and larger
// (exit) URL wins, so the result does not depend on input order.
type Visit struct {
	Start, End  int64 // Unix seconds
	Day         int8  // day of month, 1..31, of Start in the aggregator's zone
	Pages       int64
	Entry, Exit string
}

// PageStat is one URL (without query) that is a page.
type PageStat struct {
	Pages, Bytes int64
	key          string // interned URL, shared with visits
}

// Download is a file of a download type (AWStats mime.pm 'd').
type Download struct{ Hits, Partial, Bytes int64 }

// NotFound is a URL answered 404 and one of the pages linking to it (the
// greatest, so that the choice does not depend on order).
type NotFound struct {
	Hits    int64
	Referer string
}

// Robot is a crawler's traffic.
type Robot struct {
	Hits, Bytes, RobotsTxt int64
	Last                   int64 // Unix seconds of the latest hit
}

// Month is the whole state of one site's month: every table the report
// shows, plus the per-host visits that let requests arrive in any order.
// It is serialisable (MarshalBinary) and mergeable (Merge).
type Month struct {
	Key       MonthKey
	Lines     int64      // requests seen, whatever their kind
	Dropped   int64      // requests with no usable method and path
	Days      [31]Counts // human, viewed traffic (AWStats's "viewed")
	Hours     [24]Counts
	NotViewed [24]Counts // robots, errors, favicon (AWStats's "not viewed")
	Hosts     map[string]*Host
	Pages     map[string]*PageStat
	FileTypes map[string]*Counts
	Downloads map[string]*Download
	Status    map[int]*Counts // every request by status code (as GoAccess)
	Errors    map[int]*Counts // AWStats's error codes: not 200/304, not robots
	NotFound  map[string]*NotFound
	RefSites  map[string]*Counts
	RefPages  map[string]*Counts
	Engines   map[string]*Counts
	Phrases   map[string]int64
	Browsers  map[string]*Counts
	OSes      map[string]*Counts
	Robots    map[string]*Robot
	Countries map[string]*Counts
	// GoAccess counts a unique visitor per day as a distinct (client,
	// user agent) among requests not answered 4xx: per day, a 64-bit
	// hash of both → hits.
	GoAccess [31]map[uint64]int64
	// VisitTimeout (seconds), SplitAtMidnight and HitCodes are the
	// definitions the month was built with; Merge refuses months built
	// differently. HitCodes is nil in months stored before it was kept:
	// those were built with AWStats's 200 and 304.
	VisitTimeout    int64
	SplitAtMidnight bool
	HitCodes        []int
}

// Definitions returns the definitions m was built with.
func (m *Month) Definitions() Definitions {
	split := m.SplitAtMidnight
	return Definitions{VisitTimeout: time.Duration(m.VisitTimeout) * time.Second, SplitAtMidnight: &split,
		HitCodes: slices.Clone(m.HitCodes)}.withDefaults()
}

func newMonth(k MonthKey, d resolvedDefs) *Month {
	m := &Month{Key: k, VisitTimeout: int64(d.VisitTimeout / time.Second), SplitAtMidnight: d.SplitAtMidnight,
		HitCodes: slices.Clone(d.HitCodes)}
	m.init()
	return m
}

// init makes every nil map, so that a decoded month (gob drops empty
// maps) can be updated.
func (m *Month) init() {
	if m.Hosts == nil {
		m.Hosts = map[string]*Host{}
	}
	if m.Pages == nil {
		m.Pages = map[string]*PageStat{}
	}
	for _, p := range []*map[string]*Counts{&m.FileTypes, &m.RefSites, &m.RefPages, &m.Engines, &m.Browsers, &m.OSes, &m.Countries} {
		if *p == nil {
			*p = map[string]*Counts{}
		}
	}
	if m.Downloads == nil {
		m.Downloads = map[string]*Download{}
	}
	if m.Status == nil {
		m.Status = map[int]*Counts{}
	}
	if m.Errors == nil {
		m.Errors = map[int]*Counts{}
	}
	if m.NotFound == nil {
		m.NotFound = map[string]*NotFound{}
	}
	if m.Phrases == nil {
		m.Phrases = map[string]int64{}
	}
	if m.Robots == nil {
		m.Robots = map[string]*Robot{}
	}
	for i := range m.GoAccess {
		if m.GoAccess[i] == nil {
			m.GoAccess[i] = map[uint64]int64{}
		}
	}
}

// maxKeys bounds each table of a month against hostile input (a scanner
// requesting millions of distinct URLs). Past it, new keys go to
// "(other)": totals stay exact, but which keys are kept then depends on
// order — the one place where order matters, and only past this size.
const maxKeys = 200_000

const otherKey = "(other)"

// counts returns the entry for key, cloning the key on insertion: key
// usually points into a log line that must not be retained.
func counts(m map[string]*Counts, key string) *Counts {
	if c, ok := m[key]; ok {
		return c
	}
	if len(m) >= maxKeys {
		key = otherKey
		if c, ok := m[key]; ok {
			return c
		}
	}
	c := &Counts{}
	m[strings.Clone(key)] = c
	return c
}

func statusCounts(m map[int]*Counts, code int) *Counts { return entry(m, code) }

// entry returns m's value for k, adding a zero one first when there is
// none (merging months, whose keys were bounded when they were counted).
func entry[K comparable, V any](m map[K]*V, k K) *V {
	v, ok := m[k]
	if !ok {
		v = new(V)
		m[k] = v
	}
	return v
}

// addVisit folds v (one page view, or a whole visit from another
// aggregate) into h.Visits: every visit within the timeout of v (and on
// its day, under AWStats's rule) merges with it. Because stored visits are
// already further apart than the timeout, the merged ones are contiguous.
func (m *Month) addVisit(h *Host, v Visit) {
	vs := h.Visits
	// Fast path: requests mostly arrive in order, touching the last visit.
	if n := len(vs); n > 0 {
		last := &vs[n-1]
		if v.Start > last.End+m.VisitTimeout || (m.SplitAtMidnight && v.Day != last.Day) {
			if v.Start > last.Start {
				h.Visits = append(vs, v)
				return
			}
		} else if v.Start >= last.Start {
			mergeInto(last, v)
			return
		}
	}
	i := 0
	for i < len(vs) && !m.near(vs[i], v) && vs[i].Start < v.Start {
		i++
	}
	j := i
	for j < len(vs) && m.near(vs[j], v) {
		mergeInto(&v, vs[j])
		j++
	}
	out := append(vs[:i:i], v)
	h.Visits = append(out, vs[j:]...)
}

// near says whether two visits belong together: a gap of at most the
// timeout (AWStats starts a new visit when a page comes more than an hour
// after the previous one), and under AWStats's arithmetic the same day.
func (m *Month) near(a, b Visit) bool {
	if m.SplitAtMidnight && a.Day != b.Day {
		return false
	}
	return b.Start <= a.End+m.VisitTimeout && a.Start <= b.End+m.VisitTimeout
}

func mergeInto(a *Visit, b Visit) {
	if b.Start < a.Start || b.Start == a.Start && b.Entry < a.Entry {
		a.Entry = b.Entry
	}
	if b.Start < a.Start {
		a.Start, a.Day = b.Start, b.Day
	}
	if b.End > a.End || b.End == a.End && b.Exit > a.Exit {
		a.Exit = b.Exit
	}
	if b.End > a.End {
		a.End = b.End
	}
	a.Pages += b.Pages
}

// ErrMismatch is returned by Merge for months of different keys or
// definitions.
var ErrMismatch = errors.New("webstats: months differ in key or definitions")

// Merge adds o into m. Merging is commutative and associative, so months
// built from disjoint parts of the logs, in any order, merge into the
// month built from all of them.
func (m *Month) Merge(o *Month) error {
	if m.Key != o.Key || !m.Definitions().Equal(o.Definitions()) {
		return ErrMismatch
	}
	m.init()
	m.Lines += o.Lines
	m.Dropped += o.Dropped
	for i := range m.Days {
		m.Days[i].add(o.Days[i])
	}
	for i := range m.Hours {
		m.Hours[i].add(o.Hours[i])
		m.NotViewed[i].add(o.NotViewed[i])
	}
	for k, oh := range o.Hosts {
		h := entry(m.Hosts, k)
		h.Pages += oh.Pages
		h.Hits += oh.Hits
		h.Bytes += oh.Bytes
		for _, v := range oh.Visits {
			m.addVisit(h, v)
		}
	}
	for k, op := range o.Pages {
		p, ok := m.Pages[k]
		if !ok {
			p = &PageStat{key: k}
			m.Pages[k] = p
		}
		p.Pages += op.Pages
		p.Bytes += op.Bytes
	}
	for _, t := range [][2]map[string]*Counts{{m.FileTypes, o.FileTypes}, {m.RefSites, o.RefSites}, {m.RefPages, o.RefPages},
		{m.Engines, o.Engines}, {m.Browsers, o.Browsers}, {m.OSes, o.OSes}, {m.Countries, o.Countries}} {
		for k, c := range t[1] {
			counts(t[0], k).add(*c)
		}
	}
	for k, od := range o.Downloads {
		d := entry(m.Downloads, k)
		d.Hits += od.Hits
		d.Partial += od.Partial
		d.Bytes += od.Bytes
	}
	for k, c := range o.Status {
		statusCounts(m.Status, k).add(*c)
	}
	for k, c := range o.Errors {
		statusCounts(m.Errors, k).add(*c)
	}
	for k, on := range o.NotFound {
		n := entry(m.NotFound, k)
		n.Hits += on.Hits
		if on.Referer > n.Referer {
			n.Referer = on.Referer
		}
	}
	for k, n := range o.Phrases {
		m.Phrases[k] += n
	}
	for k, or := range o.Robots {
		r := entry(m.Robots, k)
		r.Hits += or.Hits
		r.Bytes += or.Bytes
		r.RobotsTxt += or.RobotsTxt
		r.Last = max(r.Last, or.Last)
	}
	for i := range m.GoAccess {
		for k, n := range o.GoAccess[i] {
			m.GoAccess[i][k] += n
		}
	}
	return nil
}

// binaryVersion prefixes the encoding so that a later layout can still
// read months stored by this one.
const binaryVersion = 1

// monthWire has Month's fields without its methods: gob would otherwise
// call MarshalBinary from inside MarshalBinary.
type monthWire Month

// MarshalBinary encodes the month for storage (one row per site and
// year-month).
func (m *Month) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte(binaryVersion)
	if err := gob.NewEncoder(&b).Encode((*monthWire)(m)); err != nil {
		return nil, fmt.Errorf("encode month: %w", err)
	}
	return b.Bytes(), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote.
func (m *Month) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != binaryVersion {
		return fmt.Errorf("decode month: unknown version")
	}
	*m = Month{}
	if err := gob.NewDecoder(bytes.NewReader(data[1:])).Decode((*monthWire)(m)); err != nil {
		return fmt.Errorf("decode month: %w", err)
	}
	m.init()
	for k, p := range m.Pages {
		if p == nil {
			p = &PageStat{}
			m.Pages[k] = p
		}
		p.key = k
	}
	return nil
}
