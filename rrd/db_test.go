package rrd

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/munin"
	"github.com/watchpost/watchpost/store"
)

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func openDB(t testing.TB, st *store.Store, c *clock) *DB {
	t.Helper()
	d, err := Open(context.Background(), st, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func testGraph(typ munin.FieldType, min, max string) munin.Graph {
	return munin.Graph{Name: "g", Title: "Test", Category: "system", Fields: []munin.Field{{Name: "x", Type: typ, Min: min, Max: max}}}
}

func items(g munin.Graph, ups []upd) []munin.Item {
	out := make([]munin.Item, len(ups))
	for i, u := range ups {
		out[i] = munin.Item{Type: "metric", Time: u.t, Origin: "builtin", Graph: g,
			Values: []munin.Value{{Field: "x", Value: u.v, Unknown: u.unknown}}}
	}
	return out
}

// tierRows queries each tier over its whole ring and returns the rows in
// the rrdtool comparison's shape.
func tierRows(t *testing.T, d *DB, c *clock) map[[2]int]map[int64]float64 {
	t.Helper()
	got := map[[2]int]map[int64]float64{}
	d.mu.Lock()
	s := d.series[key{"h", "g", "x"}]
	last := [4]int64{}
	for i := range last {
		last[i] = s.st.cdp[i].last
	}
	d.mu.Unlock()
	for ti, tr := range Tiers() {
		from := (last[ti] - tr.Rows + 1) * tr.Res()
		ser, err := d.Query(context.Background(), "h", "g", time.Unix(from, 0), time.Unix(last[ti]*tr.Res(), 0), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ser) != 1 || ser[0].Tier != tr.Name {
			t.Fatalf("tier %s: query gave %+v", tr.Name, ser)
		}
		for cf := 0; cf < nCF; cf++ {
			got[[2]int{ti, cf}] = map[int64]float64{}
		}
		if int64(len(ser[0].Points)) != tr.Rows {
			t.Errorf("tier %s: %d points, want %d", tr.Name, len(ser[0].Points), tr.Rows)
		}
		for _, p := range ser[0].Points {
			got[[2]int{ti, cfAvg}][p.T] = p.Avg
			got[[2]int{ti, cfMin}][p.T] = p.Min
			got[[2]int{ti, cfMax}][p.T] = p.Max
		}
	}
	return got
}

// TestStoredAgainstRRDtool runs the scenario through DB (with flushes in
// between, so rows come from both memory and SQLite) and compares what
// Query returns at every tier with the real rrdtool.
func TestStoredAgainstRRDtool(t *testing.T) {
	const start = 1764000000 - 1764000000%86400 + 1234
	for _, typ := range []munin.FieldType{munin.Gauge, munin.Counter, munin.Derive, munin.Absolute} {
		t.Run(string(typ), func(t *testing.T) {
			min, max := "0", "2000"
			if typ == munin.Gauge {
				min = ""
			}
			ups := scenario(typ, start, 30)
			want := rrdtoolRows(t, typ, min, max, ups[0].t-createOffset, ups) // munin creates the RRD 10 s before the first value
			c := &clock{}
			d := openDB(t, openStore(t), c)
			for i, it := range items(testGraph(typ, min, max), ups) {
				c.t = time.Unix(it.Time, 0)
				d.Apply("h", it)
				if i%1500 == 0 {
					if err := d.Flush(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
			}
			c.t = c.t.Add(72 * time.Hour) // past the raw samples
			compareRows(t, want, tierRows(t, d, c))
		})
	}
}

func appendItems(t testing.TB, st *store.Store, host string, its []munin.Item) int64 {
	t.Helper()
	var last int64
	for i := 0; i < len(its); i += 500 {
		var recs []store.Record
		for _, it := range its[i:min(i+500, len(its))] {
			b, err := json.Marshal(it)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, store.Record{Kind: store.KindMetric, Received: time.Unix(it.Time, 0), Offset: -1,
				Event: logparse.NewEvent(), Data: b})
		}
		res, err := st.Append(context.Background(), host, recs)
		if err != nil {
			t.Fatal(err)
		}
		last = max(last, res.LastSeq)
	}
	return last
}

func allPoints(t *testing.T, d *DB, c *clock, from time.Time) string {
	t.Helper()
	var out string
	for _, mp := range []int{0, 700, 500, 200, 1} {
		ser, err := d.Query(context.Background(), "h", "g", from, c.t, mp)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ser {
			out += fmt.Sprintf("%s %s %d:", s.Field, s.Tier, len(s.Points))
			for _, p := range s.Points {
				out += fmt.Sprintf(" %d/%v/%v/%v", p.T, p.Avg, p.Min, p.Max)
			}
			out += "\n"
		}
	}
	return out
}

// TestCrashReplay: apply, flush, apply more, "crash" (drop without a
// flush), reopen and replay from the cursor: the same data as a run that
// never crashed, in memory and after a flush and reopen.
func TestCrashReplay(t *testing.T) {
	const start = 1764000000
	ups := scenario(munin.Derive, start, 10)
	its := items(testGraph(munin.Derive, "0", ""), ups)
	c := &clock{t: time.Unix(ups[len(ups)-1].t, 0)}
	ctx := context.Background()
	from := time.Unix(start, 0)

	ref := openStore(t)
	last := appendItems(t, ref, "h", its)
	rd := openDB(t, ref, c)
	if err := rd.ApplyUpTo(ctx, last); err != nil {
		t.Fatal(err)
	}
	want := allPoints(t, rd, c, from)

	st := openStore(t)
	half := appendItems(t, st, "h", its[:len(its)/2])
	d1 := openDB(t, st, c)
	if err := d1.ApplyUpTo(ctx, half); err != nil {
		t.Fatal(err)
	}
	if err := d1.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	last = appendItems(t, st, "h", its[len(its)/2:])
	if err := d1.ApplyUpTo(ctx, last-100); err != nil {
		t.Fatal(err)
	}
	// crash: d1 is dropped with unflushed state.
	d2 := openDB(t, st, c)
	if d2.cursor != half {
		t.Fatalf("cursor after reopen %d, want %d", d2.cursor, half)
	}
	if err := d2.ApplyUpTo(ctx, last); err != nil {
		t.Fatal(err)
	}
	if got := allPoints(t, d2, c, from); got != want {
		t.Fatalf("after crash and replay the data differs")
	}
	if err := d2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	d3 := openDB(t, st, c)
	if got := allPoints(t, d3, c, from); got != want {
		t.Fatalf("after flush and reopen the data differs")
	}
}

func TestRunConsumesAndFlushesOnShutdown(t *testing.T) {
	st := openStore(t)
	c := &clock{t: time.Unix(1764003600, 0)}
	ups := scenario(munin.Gauge, 1764000000, 1)
	last := appendItems(t, st, "web1", items(testGraph(munin.Gauge, "", ""), ups))
	d, err := Open(context.Background(), st, Options{Now: c.now, FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cur, _ := st.Cursor(context.Background(), CursorName)
		if cur == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cursor %d, want %d", cur, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	hosts, _ := d.Hosts(context.Background())
	gs, _ := d.Graphs(context.Background(), "web1")
	if len(hosts) != 1 || hosts[0] != "web1" || len(gs) != 1 || gs[0].Title != "Test" {
		t.Fatalf("hosts %v graphs %+v", hosts, gs)
	}
	d2 := openDB(t, st, c)
	gs, _ = d2.Graphs(context.Background(), "web1")
	if len(gs) != 1 || gs[0].Category != "system" {
		t.Fatalf("graphs after reopen %+v", gs)
	}
	if err := d2.Delete(context.Background(), "web1", "", ""); err != nil {
		t.Fatal(err)
	}
	var n int
	st.ReadDB().QueryRow("SELECT (SELECT COUNT(*) FROM rrd_series)+(SELECT COUNT(*) FROM rrd_cdp)+(SELECT COUNT(*) FROM rrd_raw)+(SELECT COUNT(*) FROM rrd_graphs)+(SELECT COUNT(*) FROM rrd_state)").Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows left after deleting the host", n)
	}
}

func TestRawSamples(t *testing.T) {
	c := &clock{}
	d := openDB(t, openStore(t), c)
	g := testGraph(munin.Derive, "0", "")
	base := int64(1764000000)
	for i := int64(0); i < 3*360; i++ { // 3 h at 10 s
		c.t = time.Unix(base+i*10, 0)
		d.Apply("h", munin.Item{Time: base + i*10, Graph: g, Values: []munin.Value{{Field: "x", Value: float64(i * i)}}})
		if i == 500 {
			d.Flush(context.Background())
		}
	}
	ser, err := d.Query(context.Background(), "h", "g", time.Unix(base+3600, 0), time.Unix(base+7200, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ser) != 1 || ser[0].Tier != "raw" || ser[0].Step != 10 || len(ser[0].Points) != 361 {
		t.Fatalf("raw query: %+v", ser[0].Tier)
	}
	for _, p := range ser[0].Points {
		i := (p.T - base) / 10
		want := float64(i*i-(i-1)*(i-1)) / 10
		if math.Abs(p.Avg-want) > 1e-9 {
			t.Fatalf("at %d: %v want %v", p.T, p.Avg, want)
		}
	}
}

// TestLastUpdate: a host's last sample, for the host list — never the
// zero time once it sent one, and still known after a restart.
func TestLastUpdate(t *testing.T) {
	c := &clock{}
	st := openStore(t)
	d := openDB(t, st, c)
	if !d.LastUpdate("h").IsZero() {
		t.Fatal("a host without samples has a last update")
	}
	g := testGraph(munin.Gauge, "", "")
	base := int64(1764000000)
	for i := int64(0); i < 3; i++ {
		c.t = time.Unix(base+i*10, 0)
		d.Apply("h", munin.Item{Time: base + i*10, Graph: g, Values: []munin.Value{{Field: "x", Value: 1}}})
	}
	if got := d.LastUpdate("h"); !got.Equal(time.Unix(base+20, 0)) {
		t.Fatalf("last update %v", got)
	}
	d.Flush(context.Background())
	if got := openDB(t, st, c).LastUpdate("h"); !got.Equal(time.Unix(base+20, 0)) {
		t.Errorf("after a restart: %v", got)
	}
}
