package checker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

// The client is built once per check, but every probe still dials a
// connection of its own (and so measures connect time), also when
// several run at once, and none is left open after.
func TestHTTPProbeDialsEveryTime(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr]++
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	open := map[net.Conn]http.ConnState{}
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		open[c] = s
		mu.Unlock()
	}
	srv.Start()
	defer srv.Close()
	p, err := Compile(config.Check{Name: "web", Type: "http", Target: srv.URL, Conditions: []string{"status == 200", "connect_time < 5s"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if r := p.Run(context.Background()); !r.Success {
					t.Errorf("%s %+v", r.Error, r.ConditionResults)
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	if len(conns) != 40 {
		t.Errorf("%d connections for 40 probes", len(conns))
	}
	mu.Unlock()
	peers.Eventually(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range open {
			if s != http.StateClosed {
				return false
			}
		}
		return true
	})
}

// Checks whose offsets round to the same tick start together.
func TestSchedulerStartsOnTicks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	var probes []*Probe
	for i := range 6 {
		p, err := Compile(config.Check{Name: fmt.Sprintf("svc-%d", i), Type: "http", Target: srv.URL,
			Interval: config.Duration(time.Hour)}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		probes = append(probes, p)
	}
	var mu sync.Mutex
	first := map[string]time.Time{}
	s := NewScheduler(probes, time.Now, func(r Result) {
		mu.Lock()
		first[r.Check] = r.Time
		mu.Unlock()
	}, metrics.NewSet(), nil)
	s.MaxSpread, s.Tick = 600*time.Millisecond, 200*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	peers.Eventually(t, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(first) == len(probes)
	})
	cancel()
	mu.Lock()
	defer mu.Unlock()
	var earliest time.Time
	for _, at := range first {
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	for name, at := range first {
		// Off a multiple of the tick by no more than scheduling noise.
		if d := at.Sub(earliest) % s.Tick; d > 60*time.Millisecond && d < s.Tick-60*time.Millisecond {
			t.Errorf("%s started %v after the first, not on a %v tick", name, at.Sub(earliest), s.Tick)
		}
	}
}
