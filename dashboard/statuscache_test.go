package dashboard

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bigStatusPage is what bench/statuspage-wrk.sh shows: 50 components in
// 5 groups, 90 days each, a day of 5-minute response-time points.
func bigStatusPage(now time.Time) StatusPage {
	p := StatusPage{Title: "Bench status", Overall: "operational", Generated: now}
	for g := range 5 {
		grp := StatusGroup{Name: fmt.Sprintf("group-%d", g)}
		for c := range 10 {
			comp := StatusComponent{Name: fmt.Sprintf("svc-%d", g*10+c), Status: "up", Since: now.Add(-time.Hour), Uptime: [4]float64{1, 0.9995, 0.998, -1}}
			for i := range 90 {
				d := StatusDay{Day: now.AddDate(0, 0, i-89).Format(dayLayout), Uptime: -1}
				if i > 60 {
					d.Uptime = 1 - float64(i%7)/1000
				}
				comp.Days = append(comp.Days, d)
			}
			for i := range 288 {
				comp.Samples = append(comp.Samples, StatusSample{Time: now.Add(time.Duration(i-288) * 5 * time.Minute), MS: float64(1 + (i*37)%90), OK: i%100 != 5})
			}
			grp.Components = append(grp.Components, comp)
		}
		p.Groups = append(p.Groups, grp)
	}
	return p
}

func TestStatusServe(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	page, _ := PublicStatus(NewStatusCache(func(context.Context) (StatusPage, error) { return bigStatusPage(now), nil }, 5*time.Second, nil))
	w := httptest.NewRecorder()
	page.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	plain, tag := w.Body.String(), w.Header().Get("ETag")
	if w.Code != 200 || tag == "" || w.Header().Get("Content-Length") != fmt.Sprint(len(plain)) {
		t.Fatalf("first: %d %v", w.Code, w.Header())
	}
	tests := []struct {
		name    string
		headers map[string]string
		method  string
		code    int
		gzipped bool
		body    bool
	}{
		{"identity", nil, "GET", 200, false, true},
		{"gzip", map[string]string{"Accept-Encoding": "gzip, deflate, br"}, "GET", 200, true, true},
		{"gzip refused", map[string]string{"Accept-Encoding": "br, gzip;q=0"}, "GET", 200, false, true},
		{"gzip weighted", map[string]string{"Accept-Encoding": "br;q=1.0, GZIP; q=0.5"}, "GET", 200, true, true},
		{"matching etag", map[string]string{"If-None-Match": `"x", ` + tag}, "GET", 304, false, false},
		{"weak etag", map[string]string{"If-None-Match": "W/" + tag}, "GET", 304, false, false},
		{"star", map[string]string{"If-None-Match": "*"}, "GET", 304, false, false},
		{"other etag", map[string]string{"If-None-Match": `"0123"`}, "GET", 200, false, true},
		{"head", map[string]string{"Accept-Encoding": "gzip"}, "HEAD", 200, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			page.ServeHTTP(w, r)
			h := w.Header()
			if w.Code != tt.code || h.Get("ETag") != tag || h.Get("Vary") != "Accept-Encoding" || h.Get("Cache-Control") != "public, max-age=5" {
				t.Fatalf("%d %v", w.Code, h)
			}
			if h.Get("Content-Security-Policy") != statusCSP {
				t.Errorf("CSP %q", h.Get("Content-Security-Policy"))
			}
			if got := h.Get("Content-Encoding") == "gzip"; got != tt.gzipped {
				t.Errorf("gzipped %v, want %v", got, tt.gzipped)
			}
			if (w.Body.Len() > 0) != tt.body {
				t.Errorf("body %d bytes", w.Body.Len())
			}
			if tt.body && tt.gzipped {
				zr, err := gzip.NewReader(w.Body)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(zr)
				if string(b) != plain {
					t.Error("gzipped body is not the page")
				}
			} else if tt.body && w.Body.String() != plain {
				t.Error("body is not the page")
			}
		})
	}
}

// statusClock is a time source tests move by hand.
type statusClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *statusClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *statusClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A stale page is served while the next builds in the background; an
// Invalidate makes the current build stale at once; a failed build keeps
// the previous page.
func TestStatusCacheRefresh(t *testing.T) {
	clock := &statusClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	var builds atomic.Int64
	var fail atomic.Bool
	release := make(chan struct{}, 10)
	c := NewStatusCache(func(ctx context.Context) (StatusPage, error) {
		n := builds.Add(1)
		if n > 1 {
			<-release
		}
		if fail.Load() {
			return StatusPage{}, errors.New("database is locked")
		}
		return StatusPage{Title: fmt.Sprintf("build %d", n), Overall: "operational", Generated: clock.now()}, nil
	}, 5*time.Second, nil)
	c.now = clock.now
	title := func(wait bool) string {
		t.Helper()
		s, err := c.get(context.Background(), wait)
		if err != nil {
			t.Fatal(err)
		}
		_, rest, _ := strings.Cut(string(s.html.plain), "<title>")
		name, _, _ := strings.Cut(rest, " · ")
		return name
	}
	eventually := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if title(false) == want {
				return
			}
		}
		t.Fatalf("page never %q (now %q)", want, title(false))
	}
	if got := title(false); got != "build 1" {
		t.Fatalf("first visitor: %q", got)
	}
	clock.add(4 * time.Second)
	if got := title(false); got != "build 1" || builds.Load() != 1 {
		t.Fatalf("fresh page rebuilt: %q, %d builds", got, builds.Load())
	}
	clock.add(time.Second)
	// Stale: served as it is while build 2 waits for release.
	for range 3 {
		if got := title(false); got != "build 1" {
			t.Fatalf("stale page: %q", got)
		}
	}
	release <- struct{}{}
	eventually("build 2")
	if n := builds.Load(); n != 2 {
		t.Fatalf("%d builds, want 2: one per stale period", n)
	}
	// After Invalidate the next visitor builds and gets the change; the
	// others meanwhile get the previous page.
	c.Invalidate()
	got := make(chan string)
	go func() { got <- title(false) }()
	for builds.Load() != 3 {
		time.Sleep(time.Millisecond)
	}
	if title(false) != "build 2" {
		t.Fatal("a visitor waited for another's build")
	}
	release <- struct{}{}
	if g := <-got; g != "build 3" {
		t.Fatalf("after Invalidate: %q", g)
	}
	// A build begun before the change does not count: the visitor after
	// it waits for the one after.
	clock.add(5 * time.Second)
	if g := title(false); g != "build 3" {
		t.Fatalf("stale: %q", g)
	}
	for builds.Load() != 4 { // in the background
		time.Sleep(time.Millisecond)
	}
	c.Invalidate()
	go func() { got <- title(false) }()
	release <- struct{}{}
	release <- struct{}{}
	if g := <-got; g != "build 5" {
		t.Fatalf("after Invalidate during a build: %q", g)
	}
	// The hub waits for the fresh build.
	clock.add(5 * time.Second)
	release <- struct{}{}
	if g := title(true); g != "build 6" {
		t.Fatalf("hub: %q", g)
	}
	fail.Store(true)
	c.Invalidate()
	release <- struct{}{}
	if g := title(true); g != "build 6" {
		t.Fatalf("after a failed build: %q, want the previous page", g)
	}
	// No retry within statusRetry of a failure.
	c.Invalidate()
	if g := title(false); g != "build 6" || builds.Load() != 7 {
		t.Fatalf("retried at once: %q, %d builds", g, builds.Load())
	}
	fail.Store(false)
	clock.add(statusRetry)
	release <- struct{}{}
	eventually("build 8")
}

func TestStatusCacheFirstBuildFails(t *testing.T) {
	c := NewStatusCache(func(context.Context) (StatusPage, error) { return StatusPage{}, errors.New("no database") }, time.Second, nil)
	page, api := PublicStatus(c)
	for _, h := range []http.Handler{page, api} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != 500 || strings.Contains(w.Body.String(), "no database") {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	}
}

// Many visitors at once while the page goes stale and is invalidated:
// for the race detector.
func TestStatusCacheConcurrent(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c := NewStatusCache(func(context.Context) (StatusPage, error) { return bigStatusPage(now), nil }, time.Millisecond, nil)
	page, api := PublicStatus(c)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 30 {
				h := page
				if j%2 == 0 {
					h = api
				}
				if i == 0 && j%5 == 0 {
					c.Invalidate()
				}
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Accept-Encoding", "gzip")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 || w.Body.Len() == 0 {
					t.Errorf("%d, %d bytes", w.Code, w.Body.Len())
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkStatusBuild is one rebuild of the 50-component page: template,
// JSON, live message, two gzips (the source's queries left out).
func BenchmarkStatusBuild(b *testing.B) {
	p := bigStatusPage(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	c := NewStatusCache(func(context.Context) (StatusPage, error) { return p, nil }, time.Second, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.build(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStatusServe is the handler's own work per request, gzip and
// identity: it should allocate nothing.
func BenchmarkStatusServe(b *testing.B) {
	p := bigStatusPage(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	page, _ := PublicStatus(NewStatusCache(func(context.Context) (StatusPage, error) { return p, nil }, time.Hour, nil))
	for _, enc := range []string{"gzip", "identity"} {
		b.Run(enc, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Accept-Encoding", enc)
			w := &discardWriter{h: http.Header{}}
			page.ServeHTTP(w, r)
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				page.ServeHTTP(w, r)
			}
		})
	}
}
