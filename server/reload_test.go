package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/watchpost/watchpost/vantage/wire"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestReloadInProcess swaps the checks and heartbeats while the status
// page, pings and probes are busy, under the race detector: a reload
// replaces a running generation without a data race, and what the page
// shows follows the file.
func TestReloadInProcess(t *testing.T) {
	dir := t.TempDir()
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
	cfgPath := filepath.Join(dir, "w.yaml")
	write := func(checks, beats string) {
		if beats == "" {
			beats = "  []\n"
		}
		y := fmt.Sprintf("server: {listen: '127.0.0.1:0', syslog_listen: '', admin_token: 0123456789abcdef}\nstorage: {path: %s}\nself: {enabled: false}\nhosts: {v1: {token: token-vantage-v1-0123}}\nchecks:\n%sheartbeats:\n%s",
			filepath.Join(dir, "w.db"), checks, beats)
		if err := os.WriteFile(cfgPath, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string) string {
		return fmt.Sprintf("  - {name: %s, type: tcp, target: %q, interval: 1s, public: true}\n", name, ln.Addr())
	}
	beat := func(name, id string) string {
		return fmt.Sprintf("  - {name: %s, id: %s, period: 1h, public: true}\n", name, id)
	}
	write(check("one"), beat("b1", "id-one-0123456789"))
	reload := make(chan os.Signal, 1)
	ready := make(chan Addrs, 1)
	var logs lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: cfgPath, Reload: reload, Ready: func(a Addrs) { ready <- a },
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	}()
	var base string
	select {
	case a := <-ready:
		base = "http://" + a.HTTP
	case err := <-done:
		t.Fatal(err)
	case <-time.After(60 * time.Second):
		t.Fatal("not ready")
	}
	names := func() string {
		resp, err := http.Get(base + "/api/v1/status")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var page struct {
			Groups []struct{ Components []struct{ Name string } }
		}
		json.NewDecoder(resp.Body).Decode(&page)
		var ns []string
		for _, g := range page.Groups {
			for _, c := range g.Components {
				ns = append(ns, c.Name)
			}
		}
		return strings.Join(ns, ",")
	}
	// Readers and pingers busy all along.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, path := range []string{"/api/v1/status", "/ping/id-one-0123456789", "/ping/id-two-0123456789", "/badge/one.svg", "/feed.atom"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if resp, err := http.Get(base + path); err == nil {
					resp.Body.Close()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wait := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if names() == want {
				return
			}
		}
		t.Fatalf("status page shows %q, want %q\n%s", names(), want, logs.String())
	}
	wait("one,b1")
	reloaded := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); strings.Count(logs.String(), "configuration reloaded") < n; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("reload %d never finished\n%s", n, logs.String())
			}
		}
	}
	for i, step := range []struct{ checks, beats, want string }{
		{check("one") + check("two"), beat("b1", "id-one-0123456789") + beat("b2", "id-two-0123456789"), "one,two,b1,b2"},
		{check("two"), beat("b2", "id-two-0123456789"), "two,b2"},
		{check("three"), "", "three"},
	} {
		write(step.checks, step.beats)
		reload <- syscall.SIGHUP
		reloaded(i + 1)
		wait(step.want)
	}
	// Where checks run from: a collector waiting for work gets the
	// check a reload gives it, and its results count at once.
	pull := func(have string, wait int) (int, wire.Assignments) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s%s?wait=%d", base, wire.AssignmentsPath, wait), nil)
		req.Header.Set("Authorization", "Bearer token-vantage-v1-0123")
		if have != "" {
			req.Header.Set("If-None-Match", `"`+have+`"`)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, wire.Assignments{}
		}
		defer resp.Body.Close()
		var a wire.Assignments
		json.NewDecoder(resp.Body).Decode(&a)
		return resp.StatusCode, a
	}
	code, before := pull("", 0)
	if code != http.StatusOK || len(before.Checks) != 1 || before.Checks[0].Name != "three" {
		t.Fatalf("v1's first pull: %d %+v", code, before)
	}
	type answer struct {
		code int
		a    wire.Assignments
	}
	waiting := make(chan answer, 1)
	go func() { c, a := pull(before.Version, 30); waiting <- answer{c, a} }()
	write(fmt.Sprintf("  - {name: three, type: tcp, target: %q, interval: 1s, public: true, vantages: [loghost]}\n", ln.Addr())+
		fmt.Sprintf("  - {name: four, type: tcp, target: %q, interval: 1s, public: true, vantages: [v1], alert_on: any}\n", ln.Addr()), "")
	reload <- syscall.SIGHUP
	reloaded(4)
	select {
	case got := <-waiting:
		if got.code != http.StatusOK || len(got.a.Checks) != 1 || got.a.Checks[0].Name != "four" || got.a.Checks[0].AlertOn != "any" {
			t.Fatalf("v1's waiting pull after the reload: %d %+v", got.code, got.a)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("v1's waiting pull never answered")
	}
	if strings.Contains(logs.String(), "next restart") {
		t.Errorf("a change of vantages waits for a restart:\n%s", logs.String())
	}
	wait("three,four")
	var line bytes.Buffer
	json.NewEncoder(&line).Encode(wire.Line{ID: wire.NewID(), Check: "four", Time: time.Now(), OK: true, DurationMS: 3})
	req, _ := http.NewRequest("POST", base+wire.ResultsPath, &line)
	req.Header.Set("Authorization", "Bearer token-vantage-v1-0123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res wire.Response
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || res.Stored != 1 {
		t.Fatalf("v1's result for four: %s %+v", resp.Status, res)
	}
	grid := func(check string) (int, string) {
		req, _ := http.NewRequest("GET", base+"/api/v1/vantages/checks/"+check, nil)
		req.Header.Set("Authorization", "Bearer 0123456789abcdef")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct {
			Vantages []struct{ Location, State string }
		}
		json.NewDecoder(resp.Body).Decode(&v)
		var rows []string
		for _, r := range v.Vantages {
			rows = append(rows, r.Location+":"+r.State)
		}
		return resp.StatusCode, strings.Join(rows, ",")
	}
	if code, rows := grid("four"); code != http.StatusOK || rows != "v1:up" {
		t.Errorf("four's grid: %d %q, want v1:up", code, rows)
	}
	if code, _ := grid("one"); code != http.StatusNotFound {
		t.Errorf("the removed check one: %d", code)
	}
	close(stop)
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
