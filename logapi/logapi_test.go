package logapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*store.Store, *httptest.Server, *Client) {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := &Handler{Store: s, Location: time.UTC, Now: func() time.Time { return t0.Add(time.Hour) }, Logger: nil}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/logs", h.Logs)
	mux.HandleFunc("GET /api/v1/logs/tail", h.Tail)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv, &Client{Server: srv.URL, Token: "t"}
}

func rec(host, prog, raw string, at time.Time) store.Record {
	ev := logparse.NewEvent()
	ev.Program, ev.Message, ev.Time = prog, raw, at
	return store.Record{Kind: store.KindLog, Event: ev, Raw: raw, Offset: -1}
}

func TestLogsAPI(t *testing.T) {
	s, srv, c := setup(t)
	ctx := context.Background()
	var recs []store.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, rec("", "sshd", fmt.Sprintf("line %d", i), t0.Add(time.Duration(i)*time.Minute)))
	}
	recs = append(recs, rec("", "app", "<script>alert(1)</script> \xff", t0.Add(30*time.Minute)))
	if _, err := s.Append(ctx, "web1", recs); err != nil {
		t.Fatal(err)
	}
	var got []Event
	err := c.Search(ctx, url.Values{"q": {"program=sshd"}, "limit": {"3"}}, func(e Event) error { got = append(got, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Line != "line 7" || got[2].Line != "line 9" || got[0].Host != "web1" {
		t.Fatalf("got %+v", got)
	}
	got = nil
	c.Search(ctx, url.Values{"q": {"script"}}, func(e Event) error { got = append(got, e); return nil })
	if len(got) != 1 || got[0].LineB64 == "" || got[0].Raw() != "<script>alert(1)</script> \xff" {
		t.Fatalf("invalid UTF-8 line: %+v", got)
	}
	for _, bad := range []string{"q=" + url.QueryEscape(`"unterminated`), "limit=0", "limit=abc", "context=1000", "since=yesterdayish"} {
		resp, err := http.Get(srv.URL + "/api/v1/logs?" + bad)
		if err != nil {
			t.Fatal(err)
		}
		var body strings.Builder
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		body.Write(buf[:n])
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(body.String(), `"error"`) {
			t.Fatalf("%s: %d %s", bad, resp.StatusCode, body.String())
		}
	}
}

func TestTailBacklogThenLive(t *testing.T) {
	s, _, c := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Append(ctx, "h", []store.Record{rec("", "a", "old match", t0), rec("", "a", "old other", t0)}); err != nil {
		t.Fatal(err)
	}
	events := make(chan Event, 10)
	go c.Tail(ctx, url.Values{"q": {"match"}, "n": {"5"}}, func(e Event) error { events <- e; return nil })
	first := <-events
	if first.Line != "old match" {
		t.Fatalf("backlog: %+v", first)
	}
	// Lines committed after the backlog arrive live, by ingest order,
	// even when their event time is old (a flushed backlog).
	if _, err := s.Append(ctx, "h", []store.Record{rec("", "a", "late match", t0.Add(-24*time.Hour)), rec("", "a", "nope", t0)}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		if e.Line != "late match" {
			t.Fatalf("live: %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("no live event")
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Time{
		"2h":                   now.Add(-2 * time.Hour),
		"3d":                   now.Add(-72 * time.Hour),
		"1w2d":                 now.Add(-9 * 24 * time.Hour),
		"90s":                  now.Add(-90 * time.Second),
		"2026-11-20":           time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC),
		"2026-11-20 14:05":     time.Date(2026, 11, 20, 14, 5, 0, 0, time.UTC),
		"2026-11-20T14:05:09Z": time.Date(2026, 11, 20, 14, 5, 9, 0, time.UTC),
	}
	for in, want := range tests {
		got, err := ParseTime(in, now, time.UTC)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "5 minutes", "-3h", "d", "2026-13-01"} {
		if _, err := ParseTime(bad, now, time.UTC); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2h", "1w2d3h", "2026-11-20 14:05", "1.5d", "9999999999999999d", ".d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ParseTime(s, t0, time.UTC)
	})
}
