package vantage

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watchpost/watchpost/checker"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/uptime"
	"github.com/watchpost/watchpost/vantage/wire"
)

var apiCheck = config.Check{Name: "api", Type: "tcp", Target: "192.0.2.81:443", Interval: config.Duration(10 * time.Second),
	Timeout: config.Duration(2 * time.Second), Vantages: []string{"a"}}

// longPoll starts a pull from loc that waits for news past version have,
// and returns once the engine holds it waiting.
func (h *harness) longPoll(loc, have string) <-chan wire.Assignments {
	h.t.Helper()
	out := make(chan wire.Assignments, 1)
	go func() {
		req, _ := http.NewRequest("GET", h.srv.URL+wire.AssignmentsPath+"?wait=30", nil)
		req.Header.Set("Authorization", "Bearer tok-"+loc)
		req.Header.Set(wire.HeaderLocation, loc)
		req.Header.Set("If-None-Match", `"`+have+`"`)
		var a wire.Assignments
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				json.NewDecoder(resp.Body).Decode(&a)
			} else {
				a.Version = fmt.Sprintf("status %d", resp.StatusCode)
			}
			resp.Body.Close()
		}
		out <- a
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		h.e.mu.Lock()
		v := h.e.vantages[loc]
		waiting := v != nil && v.wake != nil
		h.e.mu.Unlock()
		if waiting {
			return out
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the pull from %s never waited", loc)
		}
	}
}

func names(cs []config.Check) string {
	var ns []string
	for _, c := range cs {
		ns = append(ns, c.Name)
	}
	return strings.Join(ns, ",")
}

// A check added by a reload reaches the collectors that run it at once:
// a pull waiting for news answers with it; the others keep waiting.
func TestSetConfigAddedCheck(t *testing.T) {
	h := newHarness(t, []config.Check{webCheck}, config.Vantages{})
	h.allUp(0, "a", "b")
	_, a := h.pull("a", "")
	_, b := h.pull("b", "")
	if names(a.Checks) != "web" || names(b.Checks) != "web" {
		t.Fatalf("before: a %s, b %s", names(a.Checks), names(b.Checks))
	}
	waiting := h.longPoll("a", a.Version)
	if err := h.e.SetConfig([]config.Check{webCheck, apiCheck}, config.Vantages{}); err != nil {
		t.Fatal(err)
	}
	var got wire.Assignments
	select {
	case got = <-waiting:
	case <-time.After(60 * time.Second):
		t.Fatal("the waiting pull never answered")
	}
	if names(got.Checks) != "web,api" || got.Version == a.Version {
		t.Fatalf("a's pull after the reload: version %s (had %s), checks %s", got.Version, a.Version, names(got.Checks))
	}
	if code, _ := h.pull("b", b.Version); code != http.StatusNotModified {
		t.Errorf("b runs the same checks, but its version changed: %d", code)
	}
	// The new check's results count.
	h.set(10 * time.Second)
	if r := h.push("a", result("api", h.at(10*time.Second), true)); r.Stored != 1 || len(r.Rejected) != 0 {
		t.Fatalf("api's result: %+v", r)
	}
	if v := h.e.Check("api"); !v.Multi || len(v.Vantages) != 1 || v.Vantages[0].Location != "a" || v.Vantages[0].State != "up" {
		t.Errorf("api's grid %+v", v)
	}
	if !h.e.Handles("api") {
		t.Error("the engine does not decide the new check")
	}
}

// A check a reload removes is forgotten, its results refused; the
// checks that remain keep their state whole.
func TestSetConfigRemovedCheckKeepsTheOthers(t *testing.T) {
	h := newHarness(t, []config.Check{webCheck, apiCheck}, config.Vantages{})
	for s := 0; s <= 20; s += 10 {
		h.allUp(time.Duration(s)*time.Second, "a", "b", "c")
		h.push("a", result("api", h.at(time.Duration(s)*time.Second), true))
	}
	// a sees web down: a partial outage, held in the engine's state.
	h.set(31 * time.Second)
	h.push("a", result("web", h.at(30*time.Second), false), canaries(h.at(30500*time.Millisecond), true))
	h.set(32 * time.Second)
	h.push("b", result("web", h.at(31500*time.Millisecond), true))
	h.push("c", result("web", h.at(31500*time.Millisecond), true))
	h.push("a", result("web", h.at(31600*time.Millisecond), false))
	if c := h.state("web"); c.Status != uptime.Degraded {
		t.Fatalf("state %v, want degraded", c.Status)
	}
	before, note := h.e.Check("web"), h.e.PublicNote("web")
	_, b := h.pull("b", "")
	if err := h.e.SetConfig([]config.Check{webCheck}, config.Vantages{}); err != nil {
		t.Fatal(err)
	}
	if after := h.e.Check("web"); !reflect.DeepEqual(before, after) {
		t.Errorf("web's picture changed with a reload that kept it:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := h.e.PublicNote("web"); got != note || note == "" {
		t.Errorf("note %q, was %q", got, note)
	}
	if code, _ := h.pull("b", b.Version); code != http.StatusNotModified {
		t.Errorf("b's assignments did not change, its pull answered %d", code)
	}
	// api is gone: its results are refused, it has no picture.
	h.set(33 * time.Second)
	r := h.push("a", result("api", h.at(33*time.Second), true), result("web", h.at(33*time.Second), false))
	if r.Stored != 1 || len(r.Rejected) != 1 || !strings.Contains(r.Rejected[0].Error, `no such check "api"`) {
		t.Fatalf("after api's removal: %+v", r)
	}
	if v := h.e.Check("api"); v.Multi || len(v.Vantages) != 0 || h.e.Handles("api") || h.e.PublicNote("api") != "" {
		t.Errorf("removed api still has a picture: %+v", v)
	}
	for _, v := range h.e.Vantages() {
		if v.Location == "a" && v.Checks != 1 {
			t.Errorf("a runs %d checks, want 1", v.Checks)
		}
	}
	// web goes on from where it was: a's third failure keeps it a
	// partial outage, and no tracker state was lost.
	h.e.Tick(context.Background())
	if c := h.state("web"); c.Status != uptime.Degraded {
		t.Errorf("web after the reload: %v, want still degraded", c.Status)
	}
}

// alert_on changed by a reload decides the check at once: one place of
// three seeing it down was a partial outage, with any it is down.
func TestSetConfigAlertOn(t *testing.T) {
	h := newHarness(t, []config.Check{webCheck}, config.Vantages{})
	for s := 0; s <= 20; s += 10 {
		h.allUp(time.Duration(s)*time.Second, "a", "b", "c")
	}
	h.set(31 * time.Second)
	h.push("a", result("web", h.at(30*time.Second), false), canaries(h.at(30500*time.Millisecond), true))
	h.set(32 * time.Second)
	h.push("b", result("web", h.at(31500*time.Millisecond), true))
	h.push("c", result("web", h.at(31500*time.Millisecond), true))
	h.push("a", result("web", h.at(31600*time.Millisecond), false))
	if c := h.state("web"); c.Status != uptime.Degraded {
		t.Fatalf("state %v, want degraded", c.Status)
	}
	any := webCheck
	any.AlertOn = "any"
	if err := h.e.SetConfig([]config.Check{any}, config.Vantages{}); err != nil {
		t.Fatal(err)
	}
	h.e.Tick(context.Background())
	if c := h.state("web"); c.Status != uptime.Down {
		t.Fatalf("with alert_on: any, state %v, want down", c.Status)
	}
	// And back to the quorum.
	if err := h.e.SetConfig([]config.Check{webCheck}, config.Vantages{}); err != nil {
		t.Fatal(err)
	}
	h.e.Tick(context.Background())
	if c := h.state("web"); c.Status != uptime.Degraded {
		t.Errorf("with alert_on: quorum again, state %v, want degraded", c.Status)
	}
}

// A reload that takes a vantage off a check drops its view and wakes
// it; its results for the check no longer count.
func TestSetConfigMovesCheck(t *testing.T) {
	h := newHarness(t, []config.Check{webCheck}, config.Vantages{})
	h.allUp(0, "a", "b", "c")
	_, c := h.pull("c", "")
	waiting := h.longPoll("c", c.Version)
	two := webCheck
	two.Vantages = []string{"a", "b"}
	if err := h.e.SetConfig([]config.Check{two}, config.Vantages{}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-waiting:
		if len(got.Checks) != 0 || got.Version == c.Version || got.Version == "" {
			t.Fatalf("c after the reload: %+v", got)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("c's waiting pull never answered")
	}
	h.set(time.Second)
	h.push("c", result("web", h.at(time.Second), false))
	v := h.e.Check("web")
	var locs []string
	for _, r := range v.Vantages {
		locs = append(locs, r.Location)
	}
	if strings.Join(locs, ",") != "a,b" {
		t.Errorf("grid %v, want a,b", locs)
	}
	h.e.mu.Lock()
	_, kept := h.e.plan.Load().checks["web"].per["c"]
	h.e.mu.Unlock()
	if kept {
		t.Error("c's view of web was kept")
	}
}

// Canaries taken away by a reload leave no failed round behind to keep
// the loghost impaired; collectors are told the new canaries at once.
func TestSetConfigCanaries(t *testing.T) {
	vc := config.Vantages{Canaries: []string{"tcp://192.0.2.53:53"}}
	h := newHarness(t, []config.Check{webCheck}, vc)
	h.e.takeRound(context.Background(), Loghost, wire.Line{ID: wire.NewID(), Canary: true, Time: h.at(0),
		Canaries: []wire.CanaryResult{{Target: "tcp://192.0.2.53:53", OK: false}}}, h.clock())
	impaired := func() bool {
		for _, v := range h.e.Vantages() {
			if v.Location == Loghost {
				return v.Impaired
			}
		}
		return false
	}
	if !impaired() {
		t.Fatal("a failed round did not impair the loghost")
	}
	h.allUp(0, "a")
	_, a := h.pull("a", "")
	if len(a.Canaries) != 1 {
		t.Fatalf("canaries %+v", a.Canaries)
	}
	waiting := h.longPoll("a", a.Version)
	if err := h.e.SetConfig([]config.Check{webCheck}, config.Vantages{}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-waiting:
		if len(got.Canaries) != 0 || names(got.Checks) != "web" {
			t.Fatalf("a after the reload: %+v", got)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a's waiting pull never answered")
	}
	if impaired() {
		t.Error("the loghost is still impaired without canaries")
	}
	// A configuration that cannot be taken changes nothing.
	if err := h.e.SetConfig(nil, config.Vantages{Canaries: []string{"gopher://x"}}); err == nil {
		t.Fatal("a bad canary was taken")
	}
	if err := Validate(nil, config.Vantages{Canaries: []string{"gopher://x"}}); err == nil {
		t.Fatal("Validate took a bad canary")
	}
	if !h.e.Handles("web") {
		t.Error("a refused configuration changed the one in force")
	}
}

// Reloads while results, pulls and readers are busy: under the race
// detector, no reader sees the plan half replaced.
func TestSetConfigConcurrent(t *testing.T) {
	everywhere := webCheck
	everywhere.Name, everywhere.Vantages = "everywhere", nil
	h := newHarness(t, []config.Check{webCheck, apiCheck, everywhere}, config.Vantages{Canaries: []string{"tcp://192.0.2.53:53"}})
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var rounds []*atomic.Int64 // each worker's, so that every reload meets every worker
	busy := func(f func(i int)) {
		n := new(atomic.Int64)
		rounds = append(rounds, n)
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f(i)
				n.Add(1)
			}
		})
	}
	busy(func(i int) {
		h.push("a", result("web", h.at(time.Duration(i)*time.Millisecond), i%3 != 0), result("api", h.at(time.Duration(i)*time.Millisecond), true))
	})
	busy(func(int) { h.pull("b", "") })
	busy(func(int) {
		h.e.Handles("web")
		h.e.Check("api")
		h.e.Check("everywhere")
		h.e.PublicNote("web")
		h.e.Vantages()
	})
	busy(func(int) { h.e.Tick(ctx); h.e.Settle(ctx) })
	busy(func(i int) {
		h.e.Local(ctx, checker.Result{Check: "everywhere", Time: h.at(time.Duration(i) * time.Millisecond), Success: i%2 == 0})
	})
	configs := [][]config.Check{{webCheck, everywhere}, {webCheck, apiCheck}, {apiCheck, everywhere}}
	for i := range 60 {
		vc := config.Vantages{}
		if i%2 == 0 {
			vc.Canaries = []string{"tcp://192.0.2.53:53"}
		}
		if err := h.e.SetConfig(configs[i%len(configs)], vc); err != nil {
			t.Fatal(err)
		}
		for _, n := range rounds {
			for was, deadline := n.Load(), time.Now().Add(60*time.Second); n.Load() < was+2; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("a worker is stuck")
				}
			}
		}
	}
	close(stop)
	wg.Wait()
}

// Canaries added by a reload are probed at once by the running engine.
func TestSetConfigCanariesStartRounds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	h := newHarness(t, []config.Check{webCheck}, config.Vantages{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := h.e.SetConfig([]config.Check{webCheck}, config.Vantages{Canaries: []string{"tcp://" + ln.Addr().String()}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var lh Info
		for _, v := range h.e.Vantages() {
			if v.Location == Loghost {
				lh = v
			}
		}
		if !lh.CanaryTime.IsZero() {
			if !lh.CanaryOK || !strings.Contains(lh.Canaries, ln.Addr().String()+": ok") {
				t.Fatalf("the loghost's round: %+v", lh)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no canary round after the reload added canaries")
		}
	}
}
