package webstats

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ReportOptions shape a Report.
type ReportOptions struct {
	Location *time.Location
	// Top caps each ranked table (pages, referrers ...); 0 means 50.
	Top int
}

// Report is one site's month, ready to render or to serve as JSON.
type Report struct {
	Site     string `json:"site"`
	Month    string `json:"month"` // "2026-10"
	TimeZone string `json:"time_zone"`
	// Definitions is "awstats" for AWStats 7.8's, else "custom"; the
	// three fields after it say what they are.
	Definitions           string `json:"definitions"`
	VisitTimeout          int64  `json:"visit_timeout_seconds"`
	SplitVisitsAtMidnight bool   `json:"split_visits_at_midnight"`
	HitCodes              []int  `json:"hit_codes"`
	Totals                Totals `json:"totals"`
	Days                  []Day  `json:"days"`
	// Weekdays are sums per weekday, Sunday first.
	Weekdays  [7]Row     `json:"weekdays"`
	Hours     [24]Row    `json:"hours"`
	Pages     []PageRow  `json:"pages"`
	FileTypes []Row      `json:"file_types"`
	Downloads []DownRow  `json:"downloads"`
	Status    []CodeRow  `json:"status"` // every request, as GoAccess counts them
	Errors    []CodeRow  `json:"errors"` // AWStats's "not viewed" error codes
	NotFound  []NotFRow  `json:"not_found"`
	RefSites  []Row      `json:"referring_sites"`
	RefPages  []Row      `json:"referring_pages"`
	Engines   []Row      `json:"search_engines"`
	Phrases   []CountRow `json:"keyphrases"`
	Browsers  []Row      `json:"browsers"`
	OSes      []Row      `json:"operating_systems"`
	Robots    []RobotRow `json:"robots"`
	Durations []CountRow `json:"visit_durations"`
	Countries []Row      `json:"countries,omitempty"`
}

// Totals are the month's headline numbers. Hits, Pages, Bytes, Visits
// and Unique follow the report's definitions; GoAccessUnique counts
// distinct (client, day, user agent) over every request, as GoAccess does.
type Totals struct {
	Hits           int64 `json:"hits"`
	Pages          int64 `json:"pages"`
	Bytes          int64 `json:"bytes"`
	Visits         int64 `json:"visits"`
	Unique         int64 `json:"unique_visitors"`
	GoAccessUnique int64 `json:"goaccess_unique_visitors"`
	NotViewedHits  int64 `json:"not_viewed_hits"`
	NotViewedBytes int64 `json:"not_viewed_bytes"`
	RobotHits      int64 `json:"robot_hits"`
	Requests       int64 `json:"requests"`
	Dropped        int64 `json:"dropped"`
}

// Day is one day of the month.
type Day struct {
	Date           string `json:"date"` // "2026-10-01"
	Weekday        string `json:"weekday"`
	Hits           int64  `json:"hits"`
	Pages          int64  `json:"pages"`
	Bytes          int64  `json:"bytes"`
	Visits         int64  `json:"visits"`
	GoAccessUnique int64  `json:"goaccess_unique_visitors"`
}

// Row is a key with AWStats's measures.
type Row struct {
	Key   string `json:"key"`
	Pages int64  `json:"pages,omitempty"`
	Hits  int64  `json:"hits"`
	Bytes int64  `json:"bytes,omitempty"`
}

// CountRow is a key with one count: searches of a keyphrase, visits of a
// duration.
type CountRow struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
	// Percent is of the table's total.
	Percent float64 `json:"percent"`
}

// PageRow is a page with the visits that entered and left by it.
type PageRow struct {
	URL   string `json:"url"`
	Pages int64  `json:"pages"`
	Bytes int64  `json:"bytes"`
	Entry int64  `json:"entry"`
	Exit  int64  `json:"exit"`
}

// DownRow is a downloaded file.
type DownRow struct {
	URL     string `json:"url"`
	Hits    int64  `json:"hits"`
	Partial int64  `json:"partial"`
	Bytes   int64  `json:"bytes"`
}

// CodeRow is a status code.
type CodeRow struct {
	Code  int   `json:"code"`
	Hits  int64 `json:"hits"`
	Bytes int64 `json:"bytes"`
}

// NotFRow is a URL answered 404.
type NotFRow struct {
	URL     string `json:"url"`
	Hits    int64  `json:"hits"`
	Referer string `json:"referer,omitempty"`
}

// RobotRow is one robot.
type RobotRow struct {
	Name      string `json:"name"`
	Hits      int64  `json:"hits"`
	Bytes     int64  `json:"bytes"`
	RobotsTxt int64  `json:"robots_txt"`
	Last      string `json:"last"`
}

// durationRanges are AWStats's session ranges, upper bounds in seconds.
var durationRanges = []struct {
	label string
	max   int64
}{{"0s-30s", 30}, {"30s-2mn", 120}, {"2mn-5mn", 300}, {"5mn-15mn", 900}, {"15mn-30mn", 1800}, {"30mn-1h", 3600}, {"1h+", 1 << 62}}

// Report builds the month's report.
func (m *Month) Report(o ReportOptions) *Report {
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	top := o.Top
	if top <= 0 {
		top = 50
	}
	defs := m.Definitions()
	r := &Report{Site: m.Key.Site, Month: m.Key.YearMonth(), TimeZone: loc.String(),
		Definitions: defs.Name(), VisitTimeout: int64(defs.VisitTimeout / time.Second), SplitVisitsAtMidnight: *defs.SplitAtMidnight,
		HitCodes: defs.HitCodes}
	t := &r.Totals
	t.Requests, t.Dropped = m.Lines, m.Dropped
	dayVisits := [31]int64{}
	entries, exits := map[string]int64{}, map[string]int64{}
	durations := make([]int64, len(durationRanges))
	for _, h := range m.Hosts {
		if h.Pages > 0 {
			t.Unique++
		}
		for _, v := range h.Visits {
			if v.Day >= 1 && v.Day <= 31 {
				dayVisits[v.Day-1]++
			}
			entries[v.Entry]++
			exits[v.Exit]++
			d := v.End - v.Start
			for i, dr := range durationRanges {
				if d <= dr.max {
					durations[i]++
					break
				}
			}
		}
	}
	first := time.Date(m.Key.Year, m.Key.Month, 1, 0, 0, 0, 0, loc)
	for i := 0; i < 31; i++ {
		date := first.AddDate(0, 0, i)
		if date.Month() != m.Key.Month {
			break
		}
		c := m.Days[i]
		d := Day{Date: date.Format("2006-01-02"), Weekday: date.Weekday().String()[:3], Hits: c.Hits, Pages: c.Pages,
			Bytes: c.Bytes, Visits: dayVisits[i], GoAccessUnique: int64(len(m.GoAccess[i]))}
		r.Days = append(r.Days, d)
		w := &r.Weekdays[date.Weekday()]
		w.Key = date.Weekday().String()
		w.Pages += c.Pages
		w.Hits += c.Hits
		w.Bytes += c.Bytes
		t.Hits += c.Hits
		t.Pages += c.Pages
		t.Bytes += c.Bytes
		t.Visits += d.Visits
		t.GoAccessUnique += d.GoAccessUnique
	}
	for i := range r.Weekdays {
		r.Weekdays[i].Key = time.Weekday(i).String()
	}
	for h := 0; h < 24; h++ {
		c := m.Hours[h]
		r.Hours[h] = Row{Key: fmt.Sprintf("%02d", h), Pages: c.Pages, Hits: c.Hits, Bytes: c.Bytes}
		t.NotViewedHits += m.NotViewed[h].Hits
		t.NotViewedBytes += m.NotViewed[h].Bytes
	}
	for k, p := range m.Pages {
		r.Pages = append(r.Pages, PageRow{URL: k, Pages: p.Pages, Bytes: p.Bytes, Entry: entries[k], Exit: exits[k]})
	}
	sort.Slice(r.Pages, func(i, j int) bool {
		a, b := r.Pages[i], r.Pages[j]
		if a.Pages != b.Pages {
			return a.Pages > b.Pages
		}
		return a.URL < b.URL
	})
	r.Pages = r.Pages[:min(len(r.Pages), top)]
	r.FileTypes = rows(m.FileTypes, 0)
	for k, d := range m.Downloads {
		r.Downloads = append(r.Downloads, DownRow{URL: k, Hits: d.Hits, Partial: d.Partial, Bytes: d.Bytes})
	}
	sort.Slice(r.Downloads, func(i, j int) bool {
		a, b := r.Downloads[i], r.Downloads[j]
		if a.Bytes != b.Bytes {
			return a.Bytes > b.Bytes
		}
		return a.URL < b.URL
	})
	r.Downloads = r.Downloads[:min(len(r.Downloads), top)]
	r.Status = codeRows(m.Status)
	r.Errors = codeRows(m.Errors)
	for k, n := range m.NotFound {
		r.NotFound = append(r.NotFound, NotFRow{URL: k, Hits: n.Hits, Referer: n.Referer})
	}
	sort.Slice(r.NotFound, func(i, j int) bool {
		a, b := r.NotFound[i], r.NotFound[j]
		if a.Hits != b.Hits {
			return a.Hits > b.Hits
		}
		return a.URL < b.URL
	})
	r.NotFound = r.NotFound[:min(len(r.NotFound), top)]
	r.RefSites = rows(m.RefSites, top)
	r.RefPages = rows(m.RefPages, top)
	r.Engines = rows(m.Engines, top)
	var searches int64
	for k, n := range m.Phrases {
		r.Phrases = append(r.Phrases, CountRow{Key: k, Count: n})
		searches += n
	}
	sort.Slice(r.Phrases, func(i, j int) bool {
		a, b := r.Phrases[i], r.Phrases[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Key < b.Key
	})
	r.Phrases = percents(r.Phrases[:min(len(r.Phrases), top)], searches)
	r.Browsers = rows(m.Browsers, top)
	r.OSes = rows(m.OSes, top)
	for k, b := range m.Robots {
		t.RobotHits += b.Hits
		r.Robots = append(r.Robots, RobotRow{Name: k, Hits: b.Hits, Bytes: b.Bytes, RobotsTxt: b.RobotsTxt,
			Last: time.Unix(b.Last, 0).In(loc).Format(time.RFC3339)})
	}
	sort.Slice(r.Robots, func(i, j int) bool {
		a, b := r.Robots[i], r.Robots[j]
		if a.Hits != b.Hits {
			return a.Hits > b.Hits
		}
		return a.Name < b.Name
	})
	for i, dr := range durationRanges {
		r.Durations = append(r.Durations, CountRow{Key: dr.label, Count: durations[i]})
	}
	r.Durations = percents(r.Durations, t.Visits)
	if len(m.Countries) > 0 {
		r.Countries = rows(m.Countries, top)
	}
	return r
}

// percents fills in each row's share of total.
func percents(rs []CountRow, total int64) []CountRow {
	for i := range rs {
		if total > 0 {
			rs[i].Percent = math.Round(1000*float64(rs[i].Count)/float64(total)) / 10
		}
	}
	return rs
}

// DefinitionsText says in one sentence what the report's numbers mean.
func (r *Report) DefinitionsText() string {
	var b strings.Builder
	if r.Definitions == "awstats" {
		b.WriteString("AWStats 7.8's: ")
	} else {
		b.WriteString("custom: ")
	}
	fmt.Fprintf(&b, "a visit ends after %s without a page", shortDuration(time.Duration(r.VisitTimeout)*time.Second))
	if r.SplitVisitsAtMidnight {
		b.WriteString(" and at midnight")
	}
	b.WriteString("; hits are requests answered ")
	for i, c := range r.HitCodes {
		switch {
		case i == 0:
		case i == len(r.HitCodes)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(c))
	}
	b.WriteString(", robots apart; unique visitors are distinct hosts with a page; GoAccess visitors are distinct client + day + user agent over every request but 4xx")
	return b.String()
}

// shortDuration writes 1h rather than 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func rows(m map[string]*Counts, top int) []Row {
	out := make([]Row, 0, len(m))
	for k, c := range m {
		out = append(out, Row{Key: k, Pages: c.Pages, Hits: c.Hits, Bytes: c.Bytes})
	}
	sortRows(out)
	if top > 0 && len(out) > top {
		out = out[:top]
	}
	return out
}

func sortRows(out []Row) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Hits != out[j].Hits {
			return out[i].Hits > out[j].Hits
		}
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Key < out[j].Key
	})
}

func codeRows(m map[int]*Counts) []CodeRow {
	out := make([]CodeRow, 0, len(m))
	for k, c := range m {
		out = append(out, CodeRow{Code: k, Hits: c.Hits, Bytes: c.Bytes})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
