package dashboard

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLiveTail: a live message carries each component's newest samples
// in page order (groups, then components), at most liveTailLen each, so
// that status.js can match them to the charts by position.
func TestLiveTail(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s := func(min int, ms float64, ok bool) StatusSample {
		return StatusSample{Time: now.Add(time.Duration(min) * time.Minute), MS: ms, OK: ok}
	}
	tests := []struct {
		name string
		page StatusPage
		want [][]StatusSample
	}{
		{"no groups", StatusPage{}, nil},
		{"no samples", StatusPage{Groups: []StatusGroup{{Components: []StatusComponent{{Name: "a"}}}}}, [][]StatusSample{nil}},
		{"one sample", StatusPage{Groups: []StatusGroup{{Components: []StatusComponent{{Name: "a", Samples: []StatusSample{s(0, 3, true)}}}}}},
			[][]StatusSample{{s(0, 3, true)}}},
		{"page order, newest two", StatusPage{Groups: []StatusGroup{
			{Components: []StatusComponent{{Name: "a", Samples: []StatusSample{s(0, 1, true), s(5, 2, false), s(10, 3, true)}}}},
			{Components: []StatusComponent{{Name: "b"}, {Name: "c", Samples: []StatusSample{s(0, 7, true), s(5, 8, true)}}}},
		}}, [][]StatusSample{{s(5, 2, false), s(10, 3, true)}, nil, {s(0, 7, true), s(5, 8, true)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := liveTail(&tt.page)
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(tt.want)
			if string(a) != string(b) {
				t.Fatalf("tail = %s, want %s", a, b)
			}
		})
	}
}

// TestLiveMessageTail: the message the hub pushes has the tail beside the
// rendered <main>, and stays a small share of it.
func TestLiveMessageTail(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c := NewStatusCache(func(context.Context) (StatusPage, error) { return bigStatusPage(now), nil }, 5*time.Second, nil)
	s, err := c.get(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		HTML string
		Tail [][]StatusSample
	}
	if err := json.Unmarshal(s.live, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Tail) != 50 {
		t.Fatalf("%d tails, want 50", len(m.Tail))
	}
	last := bigStatusPage(now).Groups[4].Components[9].Samples
	if got := m.Tail[49]; len(got) != 2 || !got[1].Time.Equal(last[len(last)-1].Time) || got[1].MS != last[len(last)-1].MS {
		t.Fatalf("last tail %+v, want the last two of %d samples", got, len(last))
	}
	tailJSON, _ := json.Marshal(m.Tail)
	t.Logf("live message %d bytes, of which the tail %d", len(s.live), len(tailJSON))
	if tail := len(s.live) - len(m.HTML); tail > len(m.HTML)/10 {
		t.Errorf("the message is %d bytes beyond its HTML (%d): the tail should be small", tail, len(m.HTML))
	}
}

// liveFrom opens a live status websocket from a loopback address.
func liveFrom(t *testing.T, from, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{NetDial: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).Dial}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("websocket from %s: %v (%d)", from, err, code)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// kicked waits for the server to close c to make room.
func kicked(t *testing.T, c *websocket.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
			t.Fatalf("read = %v, want a close to make room", err)
		}
		return
	}
}

// TestLiveClientsMakeRoom: a full hub, or an address at its share, drops
// its longest-idle websocket for the next visitor instead of refusing
// that one.
func TestLiveClientsMakeRoom(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c := NewStatusCache(func(context.Context) (StatusPage, error) { return bigStatusPage(now), nil }, 5*time.Second, nil)
	hub := NewStatusHub(c, time.Hour, 3, nil, nil)
	hub.PerAddress = 2
	srv := httptest.NewServer(hub)
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	waitSubs := func(n int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			hub.mu.Lock()
			got := len(hub.subs)
			hub.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d live clients, want %d", got, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	a1 := liveFrom(t, "127.0.0.1", url)
	waitSubs(1)
	liveFrom(t, "127.0.0.1", url)
	waitSubs(2)
	liveFrom(t, "127.0.0.1", url) // the address's third: a1 goes
	kicked(t, a1)
	waitSubs(2)
	b1 := liveFrom(t, "127.0.0.2", url)
	waitSubs(3)
	liveFrom(t, "127.0.0.3", url) // the hub's fourth: the longest idle goes
	waitSubs(3)
	hub.mu.Lock()
	n := hub.perAddr["127.0.0.1"]
	hub.mu.Unlock()
	if n != 1 {
		t.Errorf("127.0.0.1 has %d, want 1 after losing its longest idle", n)
	}
	b1.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := b1.ReadMessage(); websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
		t.Error("the newer client was dropped, not the longest idle")
	}
}
