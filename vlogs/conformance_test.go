package vlogs

import (
	"context"
	"encoding/json"
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
