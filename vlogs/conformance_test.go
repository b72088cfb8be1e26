package vlogs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/watchpost/watchpost/logapi"
	"github.com/watchpost/watchpost/query"
	"github.com/watchpost/watchpost/store"
)

// TestConformance: every query of the table returns the same lines, in the
// same order, with the same context groups, from the SQLite store and from
// a real VictoriaLogs the lines were shipped to.
func TestConformance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st := openStore(t, t.TempDir())
	recs := corpus()
	fill(t, st, recs)
	v, c := startVL(t)
	sh, err := NewShipper(ShipperOptions{Store: st, Client: c, Settle: 1500 * time.Millisecond, RecoverDelay: 10 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	v.Flush()
	if got, want := sh.Confirmed(), st.LastSeq(); got != want {
		t.Fatalf("cursor %d after flushing, want %d", got, want)
	}
	vs := &Searcher{Client: c}

	t0 := corpusStart
	cases := []struct {
		q            string
		since, until time.Duration // from corpusStart; 0: unbounded
		limit, ctx   int
	}{
		// words: case-insensitive substrings, also inside words
		{q: "sshd"}, {q: "SSHD"}, {q: "kex"}, {q: "kex_exchange"}, {q: "KEX_EXCHANGE_identification:"},
		{q: "accepted publickey"}, {q: "xchange"}, {q: "10.0.0.1"}, {q: "0.0.1"}, {q: "port"},
		{q: `"user=root"`}, {q: "<html>"}, {q: "=>"}, {q: `"\"quoted\""`}, {q: `back\slash`},
		// phrases, punctuation inside
		{q: `"failed password for invalid user kex"`}, {q: `"Connection closed by"`}, {q: `"to=<a@example.org>,"`},
		{q: `"status=sent (250"`}, {q: `"sshd["`},
		// Unicode folding as the matcher does it
		{q: "straße"}, {q: "STRASSE"}, {q: "σίσυφος"}, {q: "ΣΊΣΥΦΟΣ"}, {q: "\u212a"}, {q: `"300 k"`}, {q: `"301 k"`},
		{q: "\u017f"}, {q: `"long s"`}, {q: "\ufffd"}, {q: "bad"},
		// field operators
		{q: "host=web1"}, {q: "host=WEB1"}, {q: "host=web2"}, {q: "host!=web1"}, {q: "host~^WEB"}, {q: "host~1$"},
		{q: "program=sshd"}, {q: "program=SSHD"}, {q: "program~^postfix/"}, {q: "-program~^postfix/"}, {q: "program!=sshd"},
		{q: "severity=err"}, {q: "severity=error"}, {q: "severity<=err"}, {q: "severity>=info"}, {q: "severity>debug"},
		{q: "-severity=info"}, {q: "severity!=info"}, {q: "facility=auth"}, {q: "facility!=auth"},
		{q: "file=/var/log/syslog"}, {q: `source=""`}, {q: `source!=""`}, {q: "file!=/var/log/syslog"},
		{q: "format=json"}, {q: "site=x"},
		{q: "host=evil"}, {q: "message~timeout"}, {q: "-message~^Accepted"}, {q: "message~^$"}, {q: `message=""`},
		{q: "message~(?i)FAILED"}, {q: `message="kex_exchange_identification: Connection closed by remote host"`},
		{q: `message~"remote host$"`}, {q: `message~\bKEX\b`}, {q: "-message~timeout"}, {q: "message!=x"},
		{q: `message="1.50"`}, {q: `message="db timeout after 5s"`}, {q: "sd.origin.ip=10.1.1.1"}, {q: "method=GET"}, {q: "path~^/api/"},
		// negation with a missing field
		{q: "user!=root"}, {q: "-user=root"}, {q: `user=""`}, {q: `user!=""`}, {q: "-user~^r"}, {q: "-user~^"},
		{q: "-status~."}, {q: "-level=error"},
		// numeric ranges, odd numbers included
		{q: "status>=500"}, {q: "status<300"}, {q: "status>3 status<10"}, {q: "status!=200"}, {q: "-status>=400"},
		{q: "latency<1"}, {q: "latency>=1000"}, {q: "took>1"}, {q: "status>=200 status<=404"}, {q: "pid>60000"},
		{q: "seq>100 seq<=120"}, {q: "seq=3000"},
		// values VictoriaLogs keeps in another form
		{q: "delay=0.6"}, {q: "delay!=0.6"}, {q: "delay=1.0"}, {q: "-delay>=1"}, {q: `delay~^0\.`}, {q: "delay<=0.6"},
		{q: "1.5"}, {q: `"1.50"`}, {q: "-1.5"}, {q: "n=1_000"}, {q: "n>999"}, {q: "-n>999"}, {q: "m=-0"}, {q: "z=007"},
		{q: "f=2.50"}, {q: "f=2.5"}, {q: `e=""`}, {q: "e!=x"},
		// combinations
		{q: "host=web1 program=sshd failed"}, {q: `sshd -"Accepted" -host=web2`}, {q: "postfix status=sent"},
		// time bounds
		{q: "sshd", since: 5 * time.Minute, until: 10 * time.Minute},
		{q: "", since: 30 * time.Minute, until: 31 * time.Minute},
		{q: "host=db1", since: 20 * time.Minute},
		{q: "", until: 10 * time.Minute},
		{q: "", since: 7 * time.Second, until: 7*time.Second + 1},
		// newest-N, with ties on time
		{q: "", limit: 1}, {q: "", limit: 10}, {q: "sshd", limit: 7}, {q: "host=web1", limit: 33},
		{q: "-status>=400", limit: 5}, {q: "user!=root", limit: 20}, {q: "sshd", limit: 15, since: 5 * time.Minute, until: 15 * time.Minute},
		{q: "status>=500", limit: 3},
		// context from the same source
		{q: "kex_exchange", ctx: 2}, {q: `"failed password"`, ctx: 1}, {q: "host=web1 program=sshd", ctx: 3, since: 10 * time.Minute, until: 20 * time.Minute},
		{q: "postfix", ctx: 2, since: 20 * time.Minute, until: 30 * time.Minute}, {q: "status=sent", ctx: 5},
		{q: "host=mail", ctx: 1, limit: 4},
	}
	checkExplorer(t, ctx, st, vs)
	for _, tc := range cases {
		name := fmt.Sprintf("%s/since=%v/until=%v/n=%d/C=%d", tc.q, tc.since, tc.until, tc.limit, tc.ctx)
		t.Run(name, func(t *testing.T) {
			q, err := query.Parse(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			o := store.SearchOptions{Query: q, Limit: tc.limit, Context: tc.ctx}
			if tc.since != 0 {
				o.Since = t0.Add(tc.since)
			}
			if tc.until != 0 {
				o.Until = t0.Add(tc.until)
			}
			want, _, err := st.Search(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := vs.Search(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := sameHits(want, got); err != nil {
				t.Errorf("LogsQL %s\n%v\nSQLite (%d):\n%sVictoriaLogs (%d):\n%s", Filter(q), err, len(want), describe(want), len(got), describe(got))
			}
			// Queries that must find nothing (Kelvin sign and long s do not
			// fold to k and s; no line has these values); any other empty
			// answer would make its case weak.
			none := map[string]bool{`"300 k"`: true, `"long s"`: true, "\ufffd": true, "severity>debug": true, `source=""`: true,
				"message~^$": true, `message=""`: true, "took>1": true, "n>999": true, "f=2.5": true, "host=evil": true, "site=x": true}
			if len(want) == 0 && !none[tc.q] {
				t.Errorf("no line matches %q: the case tests nothing", tc.q)
			}
		})
	}
}

// checkExplorer: pages by cursor, histograms and field counts, and a
// line's context give the same answers from both stores.
func checkExplorer(t *testing.T, ctx context.Context, st *store.Store, vs *Searcher) {
	t.Run("pages", func(t *testing.T) {
		for _, qs := range []string{"", "sshd", "host=web1 -status>=400"} {
			q, _ := query.Parse(qs)
			var pages [2][]int64
			for i, s := range []interface {
				Search(context.Context, store.SearchOptions) ([]store.Hit, store.SearchStats, error)
			}{st, vs} {
				o := store.SearchOptions{Query: q, Limit: 37}
				for {
					hits, _, err := s.Search(ctx, o)
					if err != nil {
						t.Fatal(err)
					}
					for j := len(hits) - 1; j >= 0; j-- {
						pages[i] = append(pages[i], hits[j].Seq)
					}
					if len(hits) < 37 {
						break
					}
					o.Before = store.Cursor{Time: hits[0].Time, Seq: hits[0].Seq}
				}
			}
			if fmt.Sprint(pages[0]) != fmt.Sprint(pages[1]) || len(pages[0]) == 0 {
				t.Errorf("%q: paged %d lines from SQLite, %d from VictoriaLogs (or in another order)", qs, len(pages[0]), len(pages[1]))
			}
		}
	})
	t.Run("summaries", func(t *testing.T) {
		berlin, err := time.LoadLocation("Europe/Berlin")
		if err != nil {
			t.Fatal(err)
		}
		t0 := corpusStart
		for _, c := range []store.SummaryOptions{
			{Since: t0, Until: t0.Add(36 * time.Minute), Step: time.Minute, Fields: []string{"host", "program"}},
			{Since: t0.Add(5*time.Minute + 7*time.Second), Until: t0.Add(20 * time.Minute), Step: 30 * time.Second, Fields: []string{"*"}, Location: berlin},
			{Fields: []string{"status", "method", "user"}},
			{Since: t0, Until: t0.Add(time.Hour), Step: 7 * time.Minute},
		} {
			for _, qs := range []string{"", "sshd", "status>=300", "host=web1 -failed"} {
				c.Query, _ = query.Parse(qs)
				want, err := st.Summarize(ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				got, err := vs.Summarize(ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				if a, b := summaryText(want), summaryText(got); a != b {
					t.Errorf("%q %v..%v step %v fields %v:\nSQLite:       %s\nVictoriaLogs: %s", qs, c.Since, c.Until, c.Step, c.Fields, a, b)
				}
			}
		}
	})
	t.Run("estimates", func(t *testing.T) {
		// Beyond what it fetches, VictoriaLogs counts by itself; where the
		// LogsQL is exact the estimate is the count.
		t0 := corpusStart
		for _, qs := range []string{"", "host=web1", "sshd", "severity<=err"} {
			q, _ := query.Parse(qs)
			c := store.SummaryOptions{Query: q, Since: t0, Until: t0.Add(40 * time.Minute), Step: 5 * time.Minute, Fields: []string{"host", "program"}}
			want, err := st.Summarize(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			c.MaxLines = 10
			got, err := vs.Summarize(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Sampled {
				t.Errorf("%q: not marked estimated", qs)
			}
			if a, b := summaryText(want), summaryText(got); a != b {
				t.Errorf("%q estimated:\nSQLite:       %s\nVictoriaLogs: %s", qs, a, b)
			}
		}
	})
	t.Run("around", func(t *testing.T) {
		for _, seq := range []int64{1, 2, 777, 1500, st.LastSeq() - 3, st.LastSeq()} {
			for _, n := range [][2]int{{3, 3}, {0, 5}, {10, 0}} {
				a, ai, err := st.Around(ctx, seq, n[0], n[1])
				if err != nil {
					t.Fatal(err)
				}
				b, bi, err := vs.Around(ctx, seq, n[0], n[1])
				if err != nil {
					t.Fatal(err)
				}
				var as, bs []int64
				for i := range a {
					as = append(as, a[i].Seq)
				}
				for i := range b {
					bs = append(bs, b[i].Seq)
				}
				if ai != bi || fmt.Sprint(as) != fmt.Sprint(bs) {
					t.Errorf("around %d %v: SQLite %v (line at %d), VictoriaLogs %v (at %d)", seq, n, as, ai, bs, bi)
				}
			}
		}
		if _, _, err := vs.Around(ctx, 1<<40, 1, 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a seq never stored: %v", err)
		}
	})
}

// summaryText renders a summary for comparison: fields by name, values
// by count then value.
func summaryText(s store.Summary) string {
	var fields []store.FieldValues
	for _, f := range s.Fields {
		// A parsed field named pid (kernel lines) clashes with the
		// standard pid: the store counts one or the other depending on
		// which line its workers meet first, so no order reproduces it.
		if f.Name != "pid" {
			fields = append(fields, f)
		}
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i].Name < fields[j].Name })
	for i := range fields {
		v := append([]store.ValueCount(nil), fields[i].Values...)
		sort.Slice(v, func(a, b int) bool {
			if v[a].Count != v[b].Count {
				return v[a].Count > v[b].Count
			}
			return v[a].Value < v[b].Value
		})
		fields[i].Values = v
	}
	return fmt.Sprintf("total=%d start=%s step=%v buckets=%v fields=%+v", s.Total, s.Start.UTC().Format(time.RFC3339), s.Step, s.Buckets, fields)
}

// sameHits compares two hit lists: records, order, match flags and the
// partition into context groups.
func sameHits(want, got []store.Hit) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d hits, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := canonical(&want[i].Record), canonical(&got[i].Record)
		if w != g {
			k := 0
			for k < len(w) && k < len(g) && w[k] == g[k] {
				k++
			}
			from := max(k-60, 0)
			return fmt.Errorf("hit %d (seq %d) differs at byte %d:\n got ...%s\nwant ...%s", i, want[i].Seq, k, g[from:min(len(g), k+100)], w[from:min(len(w), k+100)])
		}
		if want[i].Match != got[i].Match {
			return fmt.Errorf("hit %d (seq %d): match %v, want %v", i, want[i].Seq, got[i].Match, want[i].Match)
		}
	}
	if a, b := groups(want), groups(got); a != b {
		return fmt.Errorf("context groups differ:\n got %s\nwant %s", b, a)
	}
	return nil
}

// canonical is a record as the API shows it, times in UTC.
func canonical(r *store.Record) string {
	c := *r
	c.Time, c.Received = c.Time.UTC(), c.Received.UTC()
	e := logapi.FromRecord(&c)
	b, _ := json.Marshal(e)
	return string(b)
}

// groups renders the partition of hits into groups as sorted seq lists.
func groups(hits []store.Hit) string {
	by := map[int][]int64{}
	for _, h := range hits {
		if h.Group != 0 {
			by[h.Group] = append(by[h.Group], h.Seq)
		}
	}
	var parts []string
	for _, seqs := range by {
		parts = append(parts, fmt.Sprint(seqs))
	}
	sort.Strings(parts)
	return fmt.Sprint(parts)
}
