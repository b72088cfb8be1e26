package rrd

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/munin"
	"github.com/watchpost/watchpost/store"
)

// benchGraphs builds n graphs of f DERIVE fields (like if_ and diskstats).
func benchGraphs(n, f int) []munin.Graph {
	gs := make([]munin.Graph, n)
	for i := range gs {
		gs[i] = munin.Graph{Name: fmt.Sprintf("graph%02d", i), Title: "bench", Category: "system"}
		for j := 0; j < f; j++ {
			gs[i].Fields = append(gs[i].Fields, munin.Field{Name: fmt.Sprintf("f%02d", j), Type: munin.Derive, Min: "0"})
		}
	}
	return gs
}

func benchItem(g *munin.Graph, t int64, round int64, vals []munin.Value) munin.Item {
	for j := range g.Fields {
		vals[j] = munin.Value{Field: g.Fields[j].Name, Value: float64(round*int64(1000+j*7) + (round*int64(j))%13)}
	}
	return munin.Item{Type: "metric", Time: t, Origin: "builtin", Graph: *g, Values: vals}
}

// wchar is the bytes this process has written through write(2): what
// SQLite wrote to the database and its WAL.
func wchar() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkApply is one item of 10 fields.
func BenchmarkApply(b *testing.B) {
	c := &clock{}
	d := openDB(b, openStore(b), c)
	g := benchGraphs(1, 10)[0]
	vals := make([]munin.Value, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := int64(1764000000 + i*10)
		it := benchItem(&g, t, int64(i), vals)
		d.mu.Lock()
		d.apply("h", &it)
		d.mu.Unlock()
		if i%100000 == 99999 {
			b.StopTimer()
			d.Flush(context.Background())
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/sample")
}

// BenchmarkLoghost is 100 hosts x 20 graphs x 10 fields at a 10 s
// interval; one op is one 10 s round (20000 samples), with a flush every
// 30 s of data as FlushInterval does by default.
func BenchmarkLoghost(b *testing.B) {
	st := openStore(b)
	c := &clock{}
	d := openDB(b, st, c)
	gs := benchGraphs(20, 10)
	vals := make([]munin.Value, 10)
	base := int64(1764000000)
	ctx := context.Background()
	w0 := wchar()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := base + int64(i)*10
		c.t = time.Unix(t, 0)
		d.mu.Lock()
		for h := 0; h < 100; h++ {
			host := "host" + strconv.Itoa(h)
			for gi := range gs {
				it := benchItem(&gs[gi], t+int64(h%7), int64(i), vals)
				d.apply(host, &it)
			}
		}
		d.mu.Unlock()
		if i%3 == 2 {
			if err := d.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	secs := float64(b.N) * 10
	b.ReportMetric(float64(b.Elapsed().Seconds())/secs*1000, "cpu-ms/s-of-data")
	b.ReportMetric(float64(wchar()-w0)/secs, "written-B/s-of-data")
	b.ReportMetric(float64(d.flushBytes.Get())/secs, "payload-B/s-of-data")
}

// BenchmarkDiskPerField simulates fields over a long time and reports
// the stored bytes per field (the blobs, and the SQLite file with its
// page overhead after a checkpoint).
func BenchmarkDiskPerField(b *testing.B) {
	for _, tc := range []struct {
		name     string
		days     int64
		interval int64
	}{{"2d@10s", 2, 10}, {"450d@60s", 450, 60}} {
		b.Run(tc.name, func(b *testing.B) {
			for n := 0; n < b.N; n++ {
				st := openStore(b)
				c := &clock{}
				d := openDB(b, st, c)
				g := benchGraphs(1, 20)[0]
				vals := make([]munin.Value, 20)
				base := int64(1764000000)
				rounds := tc.days * 86400 / tc.interval
				for i := int64(0); i < rounds; i++ {
					t := base + i*tc.interval
					c.t = time.Unix(t, 0)
					it := benchItem(&g, t, i, vals)
					d.mu.Lock()
					d.apply("h", &it)
					d.mu.Unlock()
					if (i*tc.interval)%(6*3600) == 0 {
						if err := d.Flush(context.Background()); err != nil {
							b.Fatal(err)
						}
					}
				}
				d.Flush(context.Background())
				b.ReportMetric(float64(blobBytes(b, st))/20, "blob-B/field")
				b.ReportMetric(float64(fileBytes(b, st))/20, "file-B/field")
			}
		})
	}
}

func blobBytes(b *testing.B, st *store.Store) int64 {
	var n int64
	err := st.ReadDB().QueryRow(`SELECT
		(SELECT COALESCE(SUM(length(data))+COUNT(*)*24,0) FROM rrd_cdp) +
		(SELECT COALESCE(SUM(length(data))+COUNT(*)*24,0) FROM rrd_raw) +
		(SELECT COALESCE(SUM(length(data))+COUNT(*)*8,0) FROM rrd_state)`).Scan(&n)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// fileBytes is the pages the rrd tables occupy: the file's pages minus
// what an empty store has.
func fileBytes(b *testing.B, st *store.Store) int64 {
	db := st.DB()
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	var pages, free, size int64
	db.QueryRow("PRAGMA page_count").Scan(&pages)
	db.QueryRow("PRAGMA freelist_count").Scan(&free)
	db.QueryRow("PRAGMA page_size").Scan(&size)
	return (pages - free - 40) * size // about 40 pages hold the empty schema
}

// BenchmarkQueryYear reads a year of one field (the month/year graphs).
func BenchmarkQueryYear(b *testing.B) {
	st := openStore(b)
	c := &clock{}
	d := openDB(b, st, c)
	g := benchGraphs(1, 1)[0]
	vals := make([]munin.Value, 1)
	base := int64(1764000000)
	rounds := int64(450 * 86400 / 60)
	for i := int64(0); i < rounds; i++ {
		t := base + i*60
		it := benchItem(&g, t, i, vals)
		d.Apply("h", it)
		if i%1440 == 0 {
			c.t = time.Unix(t, 0)
			d.Flush(context.Background())
		}
	}
	d.Flush(context.Background())
	end := time.Unix(base+rounds*60, 0)
	c.t = end
	for _, q := range []struct {
		name string
		span time.Duration
		max  int
	}{{"year", 365 * 24 * time.Hour, 800}, {"month", 30 * 24 * time.Hour, 800}, {"week", 7 * 24 * time.Hour, 800}, {"day-raw", 24 * time.Hour, 0}} {
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				ser, err := d.Query(context.Background(), "h", g.Name, end.Add(-q.span), end, q.max)
				if err != nil || len(ser) != 1 || len(ser[0].Points) == 0 {
					b.Fatalf("%v %+v", err, ser)
				}
			}
		})
	}
}
