package checker

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

func TestSchedulerRunsBoundedAndReports(t *testing.T) {
	var cur, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(30 * time.Millisecond)
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer srv.Close()

	var probes []*Probe
	for i, path := range []string{"/a", "/b", "/c", "/down"} {
		p, err := Compile(config.Check{Name: fmt.Sprintf("check-%d", i), Type: "http", Target: srv.URL + path,
			Interval: config.Duration(60 * time.Millisecond), Timeout: config.Duration(5 * time.Second)}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		probes = append(probes, p)
	}
	fixed := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	got := map[string][]Result{}
	set := metrics.NewSet()
	s := NewScheduler(probes, func() time.Time { return fixed }, func(r Result) {
		mu.Lock()
		got[r.Check] = append(got[r.Check], r)
		mu.Unlock()
	}, set, nil)
	s.MaxConcurrent = 2
	s.MaxSpread = 20 * time.Millisecond

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	peers.Eventually(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range probes {
			if len(got[p.Name]) < 3 {
				return false
			}
		}
		return true
	})
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("%d probes ran at once, want at most 2", p)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range probes {
		for _, r := range got[p.Name] {
			if !r.Time.Equal(fixed) {
				t.Fatalf("Time %v, want the injected clock", r.Time)
			}
			if want := p.Name != "check-3"; r.Success != want {
				t.Fatalf("%s: Success %v, want %v", p.Name, r.Success, want)
			}
		}
	}
	var buf bytes.Buffer
	set.WritePrometheus(&buf)
	for _, want := range []string{
		`watchpost_checker_probes_total{check="check-0",result="success"}`,
		`watchpost_checker_probes_total{check="check-3",result="failure"}`,
		`watchpost_checker_probe_duration_seconds_bucket{check="check-1",vmrange=`,
		`watchpost_checker_running 0`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, buf.String())
		}
	}
}

func TestOffset(t *testing.T) {
	tests := []struct {
		interval, spread time.Duration
	}{
		{time.Minute, 15 * time.Second},
		{5 * time.Second, 15 * time.Second},
		{time.Hour, 0},
	}
	for _, tt := range tests {
		seen := map[time.Duration]bool{}
		for i := range 50 {
			name := fmt.Sprintf("check-%d", i)
			o := offset(name, tt.interval, tt.spread)
			if o != offset(name, tt.interval, tt.spread) {
				t.Fatal("offset is not stable")
			}
			if o < 0 || (o >= min(tt.interval, tt.spread) && o != 0) {
				t.Errorf("offset(%s, %v, %v) = %v, out of range", name, tt.interval, tt.spread, o)
			}
			seen[o] = true
		}
		if tt.spread > 0 && len(seen) < 40 {
			t.Errorf("offsets do not spread: %d distinct of 50", len(seen))
		}
	}
}

func TestEscapeLabel(t *testing.T) {
	if got := escapeLabel("a\"b\\c\nd"); got != `a\"b\\c\nd` {
		t.Errorf("escapeLabel = %q", got)
	}
}

// TestSchedulerSkipsPausedAndRunsNow: a check Skip says is paused gets
// no probe at all (its server sees no request), and RunNow probes a
// check with an hour's interval at once.
func TestSchedulerSkipsPausedAndRunsNow(t *testing.T) {
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := hits.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}))
	defer srv.Close()
	mk := func(name, path string, every time.Duration) *Probe {
		p, err := Compile(config.Check{Name: name, Type: "http", Target: srv.URL + path, Interval: config.Duration(every),
			Timeout: config.Duration(5 * time.Second)}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	count := func(path string) int64 {
		n, ok := hits.Load(path)
		if !ok {
			return 0
		}
		return n.(*atomic.Int64).Load()
	}
	var results atomic.Int64
	s := NewScheduler([]*Probe{mk("paused", "/paused", 20*time.Millisecond), mk("running", "/running", 20*time.Millisecond),
		mk("hourly", "/hourly", time.Hour)}, nil, func(Result) { results.Add(1) }, nil, nil)
	s.MaxSpread = 0
	s.Skip = func(c string) bool { return c == "paused" }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	peers.Eventually(t, 10*time.Second, func() bool { return count("/running") >= 5 && count("/hourly") == 1 })
	if !s.RunNow("hourly") || s.RunNow("nonesuch") {
		t.Fatal("RunNow answers wrong")
	}
	peers.Eventually(t, 10*time.Second, func() bool { return count("/hourly") == 2 })
	cancel()
	<-done
	if n := count("/paused"); n != 0 {
		t.Errorf("the paused check was probed %d times", n)
	}
}
