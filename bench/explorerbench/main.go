// Command explorerbench times the logs explorer's API over a store built
// by bench/benchdata, in-process (the handler's time, as the server
// spends it): the first page of a one-hour query with its histogram and
// fields, and one-day histograms. bench/explorer-side-by-side.sh runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/watchpost/watchpost/logapi"
	"github.com/watchpost/watchpost/store"
)

func main() {
	dir := flag.String("dir", "/tmp/watchpost-bench-10000000", "folder with watchpost.db (bench/benchdata)")
	runs := flag.Int("runs", 10, "runs per case (the median is printed)")
	prof := flag.String("cpuprofile", "", "write a CPU profile")
	only := flag.String("only", "", "run only the cases whose name contains this")
	flag.Parse()
	ctx := context.Background()
	// The generated data: 8 hosts from 2026-11-01 on, ten days at 10M.
	now := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	var mux *http.ServeMux
	var s *store.Store
	// open gives each run a store of its own, so the block cache (the
	// loghost's 64 MB) starts empty: the figures are a first look at a
	// range, not a repeated one.
	open := func() {
		if s != nil {
			s.Close()
		}
		var err error
		s, err = store.Open(ctx, store.Options{Path: filepath.Join(*dir, "watchpost.db"), ReadOnly: true, BlockCache: 64 << 20})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		h := &logapi.Handler{Store: s, Location: time.UTC, Now: func() time.Time { return now }}
		mux = http.NewServeMux()
		mux.HandleFunc("GET /page", h.Page)
		mux.HandleFunc("GET /histogram", h.Histogram)
	}
	open()
	defer func() { s.Close() }()
	if *prof != "" {
		f, _ := os.Create(*prof)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	call := func(path string, v url.Values) time.Duration {
		req := httptest.NewRequest("GET", path+"?"+v.Encode(), nil)
		w := httptest.NewRecorder()
		start := time.Now()
		mux.ServeHTTP(w, req)
		d := time.Since(start)
		if w.Code != 200 {
			b, _ := io.ReadAll(w.Body)
			fmt.Fprintf(os.Stderr, "%s: %d %s\n", path, w.Code, b)
			os.Exit(1)
		}
		return d
	}
	hour := url.Values{"since": {"2026-11-05T10:00:00Z"}, "until": {"2026-11-05T11:00:00Z"}}
	day := url.Values{"since": {"2026-11-05T00:00:00Z"}, "until": {"2026-11-06T00:00:00Z"}}
	with := func(v url.Values, kv ...string) url.Values {
		o := url.Values{}
		for k, x := range v {
			o[k] = x
		}
		for i := 0; i < len(kv); i += 2 {
			o.Set(kv[i], kv[i+1])
		}
		return o
	}
	type step struct {
		path string
		v    url.Values
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"1 h, no query: first page + histogram + fields", []step{{"/page", with(hour, "limit", "200")}, {"/histogram", with(hour, "fields", "*", "top", "10")}}},
		{"1 h, host=web1 program=sshd: first page + histogram + fields", []step{{"/page", with(hour, "q", "host=web1 program=sshd", "limit", "200")}, {"/histogram", with(hour, "q", "host=web1 program=sshd", "fields", "*", "top", "10")}}},
		{"1 h, word sshd: first page + histogram + fields", []step{{"/page", with(hour, "q", "sshd", "limit", "200")}, {"/histogram", with(hour, "q", "sshd", "fields", "*", "top", "10")}}},
		{"1 day, no query: histogram", []step{{"/histogram", day}}},
		{"1 day, no query: histogram + fields", []step{{"/histogram", with(day, "fields", "*", "top", "10")}}},
		{"1 day, host=db1: histogram + fields", []step{{"/histogram", with(day, "q", "host=db1", "fields", "*", "top", "10")}}},
		{"1 day, word sshd: histogram + fields (sampled)", []step{{"/histogram", with(day, "q", "sshd", "fields", "*", "top", "10")}}},
		{"10 days, no query: histogram + fields", []step{{"/histogram", url.Values{"since": {"2026-11-01T00:00:00Z"}, "until": {"2026-11-11T00:00:00Z"}, "fields": {"*"}}}}},
	}
	for _, c := range cases {
		if !strings.Contains(c.name, *only) {
			continue
		}
		var ds, cs []time.Duration
		for i := 0; i < *runs; i++ {
			open()
			var d time.Duration
			c0 := cpu()
			// The page asks for its lines and its histogram at once.
			var wg sync.WaitGroup
			start := time.Now()
			for _, st := range c.steps {
				wg.Add(1)
				go func() { defer wg.Done(); call(st.path, st.v) }()
			}
			wg.Wait()
			d = time.Since(start)
			ds = append(ds, d)
			cs = append(cs, cpu()-c0)
		}
		slices.Sort(ds)
		slices.Sort(cs)
		fmt.Printf("%-62s median %7.1f ms  (min %.1f, max %.1f)  CPU %.1f ms\n", c.name, ms(ds[len(ds)/2]), ms(ds[0]), ms(ds[len(ds)-1]), ms(cs[len(cs)/2]))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// cpu is the process's user and system time: on a shared machine it
// says what a query costs when wall time says how busy the others are.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
