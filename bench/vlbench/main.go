// Command vlbench puts the SQLite store and VictoriaLogs side by side on
// the same lines: it ships a store made by bench/benchdata to a running
// VictoriaLogs through the loghost's shipper, then times the grep
// benchmark queries against both (bench/vlogs-side-by-side.sh runs it).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/watchpost/watchpost/query"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/vlogs"
)

func main() {
	dir := flag.String("dir", "", "folder with watchpost.db from bench/benchdata")
	vlURL := flag.String("vl", "http://127.0.0.1:9428", "VictoriaLogs base URL")
	vlData := flag.String("vl-data", "", "VictoriaLogs -storageDataPath, to measure its size")
	ship := flag.Bool("ship", true, "ship the store first")
	runs := flag.Int("runs", 10, "runs of each query")
	flag.Parse()
	if err := run(*dir, *vlURL, *vlData, *ship, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "vlbench:", err)
		os.Exit(1)
	}
}

func run(dir, vlURL, vlData string, ship bool, runs int) error {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := store.Open(ctx, store.Options{Path: filepath.Join(dir, "watchpost.db"), Logger: log,
		Now: func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := vlogs.NewClient(vlogs.ClientOptions{URL: vlURL})
	if err != nil {
		return err
	}
	var lines int64
	st.ReadDB().QueryRow("SELECT COALESCE(SUM(n), 0) FROM blocks WHERE kind = 1").Scan(&lines)
	if ship {
		// Ship from the start into the fresh VictoriaLogs.
		if _, err := st.DB().Exec("DELETE FROM cursors WHERE name = ?", vlogs.CursorName); err != nil {
			return err
		}
		sh, err := vlogs.NewShipper(vlogs.ShipperOptions{Store: st, Client: c, Logger: log})
		if err != nil {
			return err
		}
		began := time.Now()
		if err := sh.Flush(ctx); err != nil {
			return err
		}
		el := time.Since(began)
		fmt.Printf("shipped %d lines in %s: %.0f lines/s (confirmation included)\n", lines, el.Round(time.Millisecond), float64(lines)/el.Seconds())
		if vlData != "" {
			http.Get(vlURL + "/internal/force_flush")
			resp, err := http.Get(vlURL + "/internal/force_merge")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			// Merges run in the background: wait until the size settles.
			prev := int64(-1)
			for i := 0; i < 60; i++ {
				time.Sleep(10 * time.Second)
				n := duBytes(vlData)
				if n == prev {
					break
				}
				prev = n
			}
			fmt.Printf("VictoriaLogs data: %d bytes, %.1f bytes/line\n", prev, float64(prev)/float64(lines))
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "watchpost.db"))
	if err == nil {
		fmt.Printf("SQLite store file: %d bytes, %.1f bytes/line\n", fi.Size(), float64(fi.Size())/float64(lines))
	}
	day := time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name, q      string
		since, until time.Time
		limit        int
	}{
		{"a rare word over all lines", "quokka", time.Time{}, time.Time{}, 0},
		{"host=web1 program=sshd, one hour", "host=web1 program=sshd", day, day.Add(time.Hour), 0},
		{"host=db1 program=sshd failed, one hour", "host=db1 program=sshd failed", day, day.Add(time.Hour), 0},
		{`program~"^postfix/" message~"status=sent", one hour`, `program~^postfix/ message~status=sent`, day, day.Add(time.Hour), 0},
		{"sshd, newest 100, over all", "sshd", time.Time{}, time.Time{}, 100},
		{`message~"Killed process 4242[0-9] " over all`, `message~"Killed process 4242[0-9] "`, time.Time{}, time.Time{}, 0},
	}
	vs := &vlogs.Searcher{Client: c}
	fmt.Println("| query | SQLite store | VictoriaLogs | hits |")
	fmt.Println("|---|---|---|---|")
	for _, tc := range cases {
		q, err := query.Parse(tc.q)
		if err != nil {
			return err
		}
		o := store.SearchOptions{Query: q, Since: tc.since, Until: tc.until, Limit: tc.limit}
		var n1, n2 int
		t1, err := median(runs, func() error {
			hits, _, err := st.Search(ctx, o)
			n1 = len(hits)
			return err
		})
		if err != nil {
			return err
		}
		t2, err := median(runs, func() error {
			hits, _, err := vs.Search(ctx, o)
			n2 = len(hits)
			return err
		})
		if err != nil {
			return err
		}
		hits := fmt.Sprint(n1)
		if n1 != n2 {
			hits = fmt.Sprintf("%d vs %d (DIFFER)", n1, n2)
		}
		fmt.Printf("| %s | %s | %s | %s |\n", tc.name, fmtDur(t1), fmtDur(t2), hits)
	}
	// The explorer's summaries: its histogram (estimates allowed, as the
	// page asks) and grep -c / -by (exact).
	fmt.Println()
	fmt.Println("| summary | SQLite store | VictoriaLogs | lines counted |")
	fmt.Println("|---|---|---|---|")
	sums := []struct {
		name, q string
		o       store.SummaryOptions
	}{
		{"histogram of a day (120 buckets), everything", "", store.SummaryOptions{Since: day, Until: day.Add(24 * time.Hour), Step: 12 * time.Minute, MaxLines: 256 << 10}},
		{"histogram of a day, `sshd`", "sshd", store.SummaryOptions{Since: day, Until: day.Add(24 * time.Hour), Step: 12 * time.Minute, MaxLines: 256 << 10}},
		{"`grep -c host=web1 program=sshd`, one day", "host=web1 program=sshd", store.SummaryOptions{Since: day, Until: day.Add(24 * time.Hour)}},
		{"`grep -by program`, one hour", "", store.SummaryOptions{Since: day, Until: day.Add(time.Hour), Fields: []string{"program"}}},
	}
	for _, sc := range sums {
		q, err := query.Parse(sc.q)
		if err != nil {
			return err
		}
		sc.o.Query = q
		var n1, n2 int64
		t1, err := median(runs, func() error {
			sum, err := st.Summarize(ctx, sc.o)
			n1 = sum.Total
			return err
		})
		if err != nil {
			return err
		}
		var sampled bool
		t2, err := median(runs, func() error {
			sum, err := vs.Summarize(ctx, sc.o)
			n2, sampled = sum.Total, sum.Sampled
			return err
		})
		if err != nil {
			return err
		}
		lines := fmt.Sprint(n1)
		if n1 != n2 {
			lines = fmt.Sprintf("%d vs %d", n1, n2)
		}
		if sampled {
			lines += " (VictoriaLogs: estimated)"
		}
		fmt.Printf("| %s | %s | %s | %s |\n", sc.name, fmtDur(t1), fmtDur(t2), lines)
	}
	return nil
}

func median(runs int, fn func() error) (time.Duration, error) {
	if err := fn(); err != nil { // warm
		return 0, err
	}
	var ds []time.Duration
	for i := 0; i < runs; i++ {
		began := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(began))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], nil
}

func fmtDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func duBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
