package webstats

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDefinitions: a site's own visit timeout, midnight rule and hit codes
// change the numbers they define and nothing else, and the report says
// which were used.
func TestDefinitions(t *testing.T) {
	no := false
	// Pages at 10:00, 10:40 and 23:50, 00:10 the next day; a resumed
	// download (206) and a 302.
	reqs := []*Request{
		req("2026-10-05T10:00:00Z", "192.0.2.1", "/a", 200, firefox),
		req("2026-10-05T10:40:00Z", "192.0.2.1", "/b", 200, firefox),
		req("2026-10-05T23:50:00Z", "192.0.2.1", "/c", 200, firefox),
		req("2026-10-06T00:10:00Z", "192.0.2.1", "/d", 200, firefox),
		req("2026-10-05T12:00:00Z", "192.0.2.1", "/f.iso", 206, firefox),
		req("2026-10-05T12:00:00Z", "192.0.2.1", "/old-logo.png", 302, firefox),
	}
	for _, tc := range []struct {
		name       string
		defs       Definitions
		visits     int64
		hits       int64
		errors     int
		label      string
		text       string
		timeoutSec int64
	}{
		{"awstats", Definitions{}, 3, 4, 1, "awstats", "AWStats 7.8's: a visit ends after 1h without a page and at midnight; hits are requests answered 200 or 304", 3600},
		{"30 minutes", Definitions{VisitTimeout: 30 * time.Minute}, 4, 4, 1, "custom", "custom: a visit ends after 30m without a page and at midnight", 1800},
		{"not at midnight", Definitions{SplitAtMidnight: &no}, 2, 4, 1, "custom", "1h without a page; hits", 3600},
		{"302 and 206 are hits", Definitions{HitCodes: []int{304, 206, 200, 302, 200}}, 3, 6, 0, "custom", "hits are requests answered 200, 206, 302 or 304", 3600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := New(Options{Definitions: tc.defs})
			for _, r := range reqs {
				a.AddRequest("s", r)
			}
			r := a.Report("s", 2026, time.October)
			if r.Totals.Visits != tc.visits || r.Totals.Hits != tc.hits || len(r.Errors) != tc.errors {
				t.Errorf("visits %d hits %d errors %v, want %d %d %d", r.Totals.Visits, r.Totals.Hits, r.Errors, tc.visits, tc.hits, tc.errors)
			}
			if r.Totals.Pages != 4 || r.Totals.Unique != 1 {
				t.Errorf("pages %d unique %d: definitions changed what they do not define", r.Totals.Pages, r.Totals.Unique)
			}
			if r.Definitions != tc.label || r.VisitTimeout != tc.timeoutSec || !strings.Contains(r.DefinitionsText(), tc.text) {
				t.Errorf("definitions %q %d %q", r.Definitions, r.VisitTimeout, r.DefinitionsText())
			}
			// Stored and loaded, the month keeps its definitions.
			b, err := a.Month(MonthKey{"s", 2026, time.October}).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var m Month
			if err := m.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			if !m.Definitions().Equal(tc.defs) {
				t.Errorf("stored definitions %+v, want %+v", m.Definitions(), tc.defs)
			}
			// A month built with other definitions does not merge in.
			other := New(Options{Definitions: Definitions{VisitTimeout: 7 * time.Minute}})
			other.AddRequest("s", reqs[0])
			if err := a.MergeMonth(other.Month(MonthKey{"s", 2026, time.October})); err != ErrMismatch {
				t.Errorf("merged months of other definitions: %v", err)
			}
		})
	}
}

// TestDefinitionsOfOldMonths: months stored before the hit codes were
// kept were built with AWStats's, and still merge with new ones.
func TestDefinitionsOfOldMonths(t *testing.T) {
	a := New(Options{})
	a.AddRequest("s", req("2026-10-05T10:00:00Z", "192.0.2.1", "/a", 200, firefox))
	old := a.Month(MonthKey{"s", 2026, time.October})
	old.HitCodes = nil
	b, err := old.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var m Month
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got := m.Definitions().HitCodes; !slices.Equal(got, []int{200, 304}) {
		t.Errorf("old month's hit codes %v", got)
	}
	n := New(Options{})
	n.AddRequest("s", req("2026-10-05T12:00:00Z", "192.0.2.1", "/b", 200, firefox))
	if err := n.MergeMonth(&m); err != nil {
		t.Fatal(err)
	}
	if r := n.Report("s", 2026, time.October); r.Totals.Pages != 2 || r.Definitions != "awstats" {
		t.Errorf("merged: %+v %s", r.Totals, r.Definitions)
	}
}

func TestDefinitionsValidate(t *testing.T) {
	for _, d := range []Definitions{{VisitTimeout: time.Millisecond}, {VisitTimeout: 25 * time.Hour}, {HitCodes: []int{99}}, {HitCodes: []int{600}}} {
		if d.Validate() == nil {
			t.Errorf("%+v accepted", d)
		}
	}
	if err := (Definitions{VisitTimeout: 30 * time.Minute, HitCodes: []int{200, 206}}).Validate(); err != nil {
		t.Error(err)
	}
}
