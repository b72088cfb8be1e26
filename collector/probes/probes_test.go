package probes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/vantage/wire"
)

func TestSpoolBounds(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, 1000, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)
	body := bytes.Repeat([]byte("x"), 300)
	for i := range 5 {
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := s.add(body, 10, at, at); err != nil {
			t.Fatal(err)
		}
	}
	if lines, dropped := s.stats(); lines != 30 || dropped != 20 {
		t.Fatalf("lines %d dropped %d, want 30 and 20 (1000 bytes hold 3 files)", lines, dropped)
	}
	name, _, n, err := s.head()
	if err != nil || n != 10 || !strings.HasSuffix(name, "-000003-10.ndjson") {
		t.Fatalf("head %q %d %v", name, n, err)
	}
	// Too old: dropped and counted.
	if err := s.expire(t0.Add(time.Hour + 3*time.Minute + time.Second)); err != nil {
		t.Fatal(err)
	}
	if lines, dropped := s.stats(); lines != 10 || dropped != 40 {
		t.Fatalf("after expiry: lines %d dropped %d", lines, dropped)
	}
	// A restart keeps both.
	os.WriteFile(filepath.Join(dir, "x.ndjson.tmp"), []byte("half"), 0o600)
	s2, err := openSpool(dir, 1000, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if lines, dropped := s2.stats(); lines != 10 || dropped != 40 {
		t.Fatalf("reopened: lines %d dropped %d", lines, dropped)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.ndjson.tmp")); err == nil {
		t.Error("a half-written file was kept")
	}
}

// fakeLoghost assigns one check and takes results, refusing them while
// down; it keeps each result id once and counts what came twice.
type fakeLoghost struct {
	down       atomic.Bool
	mu         sync.Mutex
	ids        map[string]int
	times      []time.Time
	rounds     int
	queuedSeen []string
	check      config.Check
}

func (f *fakeLoghost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get(wire.HeaderLocation) != "fra1" {
		http.Error(w, "who are you", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case wire.AssignmentsPath:
		if r.Header.Get("If-None-Match") == `"v1"` {
			select {
			case <-r.Context().Done():
			case <-time.After(200 * time.Millisecond):
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		json.NewEncoder(w).Encode(wire.Assignments{Version: "v1", Location: "fra1", Checks: []config.Check{f.check},
			CanaryInterval: time.Second})
	case wire.ResultsPath:
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.queuedSeen = append(f.queuedSeen, r.Header.Get(wire.HeaderQueued))
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l wire.Line
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			f.ids[l.ID]++
			if l.Canary {
				f.rounds++
			} else if f.ids[l.ID] == 1 {
				f.times = append(f.times, l.Time)
			}
		}
		json.NewEncoder(w).Encode(wire.Response{})
	}
}

func TestOfflineThenEveryResultOnce(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	f := &fakeLoghost{ids: map[string]int{}, check: config.Check{Name: "db", Type: "tcp", Target: target.Addr().String(),
		Interval: config.Duration(200 * time.Millisecond), Timeout: config.Duration(time.Second)}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	v, err := New(Config{Server: srv.URL, Token: "tok", Host: "web1", Location: "fra1", SpoolDir: t.TempDir(), Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx) }()
	waitFor(t, "first results", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.times) >= 3 })
	f.down.Store(true)
	waitFor(t, "results kept in the spool", func() bool { n, _ := v.spool.stats(); return n >= 10 })
	f.down.Store(false)
	waitFor(t, "the spool drained", func() bool { n, _ := v.Queued(); return n == 0 && v.spool.empty() })
	waitFor(t, "results after the outage", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.times) > 20
	})
	cancel()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, n := range f.ids {
		if n != 1 {
			t.Errorf("result %s came %d times", id, n)
		}
	}
	// Every probe's result came, in order, with no hole where the
	// loghost was down.
	for i := 1; i < len(f.times); i++ {
		gap := f.times[i].Sub(f.times[i-1])
		if gap < 0 {
			t.Errorf("result %d came before an older one", i)
		}
		if gap > 2*time.Second {
			t.Errorf("a hole of %v before result %d", gap, i)
		}
	}
	if f.rounds == 0 {
		t.Error("no canary round")
	}
	sawQueued := false
	for _, q := range f.queuedSeen {
		sawQueued = sawQueued || (q != "0" && q != "")
	}
	if !sawQueued {
		t.Errorf("the spool's depth was never told: %v", f.queuedSeen)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
