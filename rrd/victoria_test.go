package rrd

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/munin"
)

func startVictoria(t *testing.T) string {
	t.Helper()
	port := peers.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	peers.Start(t, "victoria-metrics", "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir(), "-search.latencyOffset=0s")
	peers.WaitTCP(t, addr, 30*time.Second)
	return "http://" + addr
}

func forceFlush(t *testing.T, base string) {
	t.Helper()
	resp, err := http.Get(base + "/internal/force_flush")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestVictoriaRoundTrip writes a graph's samples through DB.Apply to the
// real VictoriaMetrics and reads them back through Query's result type:
// the same rates as the raw samples of the local store.
func TestVictoriaRoundTrip(t *testing.T) {
	base := startVictoria(t)
	vm, err := NewVictoria(VictoriaOptions{URL: base, BatchSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go vm.Run(ctx)

	now := time.Now().Truncate(time.Second)
	c := &clock{t: now}
	d, err := Open(ctx, openStore(t), Options{Now: c.now, Victoria: vm})
	if err != nil {
		t.Fatal(err)
	}
	g := munin.Graph{Name: "if_eth0", Fields: []munin.Field{
		{Name: "down", Type: munin.Derive, Min: "0"}, {Name: "up", Type: munin.Derive, Min: "0"}}}
	start := now.Add(-2 * time.Hour).Unix()
	for i := int64(0); i <= 120; i++ {
		d.Apply(`web"1`, munin.Item{Time: start + i*60, Graph: g, Values: []munin.Value{
			{Field: "down", Value: float64(i * 6000)}, {Field: "up", Value: float64(i * i * 60)}}})
	}
	if err := vm.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	forceFlush(t, base)
	from, to := time.Unix(start, 0), time.Unix(start+120*60, 0)
	local, err := d.Query(ctx, `web"1`, "if_eth0", from, to, 0)
	if err != nil {
		t.Fatal(err)
	}
	var remote []Series
	peers.Eventually(t, 20*time.Second, func() bool {
		remote, err = vm.Query(ctx, `web"1`, "if_eth0", from, to, 0)
		return err == nil && len(remote) == 2 && len(remote[0].Points) == 120 && len(remote[1].Points) == 120
	})
	for i := range local {
		var known []Point
		for _, p := range local[i].Points {
			if !math.IsNaN(p.Avg) {
				known = append(known, p)
			}
		}
		if remote[i].Field != local[i].Field || len(remote[i].Points) != len(known) {
			t.Fatalf("field %s: %d remote points, %d local", local[i].Field, len(remote[i].Points), len(known))
		}
		for j, p := range known {
			r := remote[i].Points[j]
			if r.T != p.T || !sameFloat(r.Avg, p.Avg) {
				t.Fatalf("field %s point %d: remote %+v local %+v", local[i].Field, j, r, p)
			}
		}
	}
	hourly, err := vm.Query(ctx, `web"1`, "if_eth0", from, to, time.Hour)
	if err != nil || len(hourly) != 2 || hourly[0].Step != 3600 || len(hourly[0].Points) < 2 || hourly[0].Points[0].Avg != 100 {
		t.Fatalf("hourly: %v %+v", err, hourly)
	}
}

// TestPushMetrics pushes a metrics.Set with POST and finds it stored.
func TestPushMetrics(t *testing.T) {
	base := startVictoria(t)
	set := metrics.NewSet()
	set.NewCounter(`watchpost_test_pushed_total`).Add(42)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := PushMetrics(ctx, base, func(w io.Writer) { set.WritePrometheus(w) }, 200*time.Millisecond, `instance="loghost"`); err != nil {
		t.Fatal(err)
	}
	peers.Eventually(t, 20*time.Second, func() bool {
		forceFlush(t, base)
		resp, err := http.Get(base + `/api/v1/export?match[]=watchpost_test_pushed_total{instance="loghost"}`)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"values":[42`)
	})
}

func TestVictoriaRetriesAndDrops(t *testing.T) {
	vm, err := NewVictoria(VictoriaOptions{URL: "http://127.0.0.1:1", BatchSize: 1, MaxQueued: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		vm.Add("h", "g", "f", int64(i), float64(i))
	}
	vm.Add("h", "g", "f", 11, math.NaN())
	if len(vm.queue) != 3 || vm.drop.Get() != 7 {
		t.Fatalf("queue %d dropped %d", len(vm.queue), vm.drop.Get())
	}
	if err := vm.Flush(context.Background()); err == nil {
		t.Fatal("flush to a closed port succeeded")
	}
	if len(vm.queue) != 3 {
		t.Fatalf("a failed flush lost batches: %d left", len(vm.queue))
	}
	if _, err := NewVictoria(VictoriaOptions{URL: "ftp://x"}); err == nil {
		t.Fatal("bad url accepted")
	}
}
