package logapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
)

func exploreSetup(t *testing.T, maxTails int) (*store.Store, *httptest.Server) {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := &Handler{Store: s, Location: time.UTC, Now: func() time.Time { return t0.Add(time.Hour) }, MaxTails: maxTails,
		Principal: func(r *http.Request) string { return r.Header.Get("X-User") }}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/logs/page", h.Page)
	mux.HandleFunc("GET /api/v1/logs/histogram", h.Histogram)
	mux.HandleFunc("GET /api/v1/logs/fields", h.Fields)
	mux.HandleFunc("GET /api/v1/logs/count", h.Count)
	mux.HandleFunc("GET /api/v1/logs/context", h.Context)
	mux.HandleFunc("GET /api/v1/logs/tail", h.Tail)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv
}

func getJSON(t *testing.T, u string, out any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: content type %q: %s", u, resp.Header.Get("Content-Type"), b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v: %s", u, err, b)
	}
	return resp.StatusCode
}

// fill stores 120 lines for web1 over the hour before now (t0+1h), one
// every 30 s, with runs of 3 sharing a time; every 4th is sshd "Failed
// password" from 10.0.0.(i%3).
func fill(t *testing.T, s *store.Store) []int64 {
	t.Helper()
	var recs []store.Record
	for i := 0; i < 120; i++ {
		at := t0.Add(time.Duration(i/3*3) * 30 * time.Second)
		r := rec("", "cron", fmt.Sprintf("job %d done", i), at)
		if i%4 == 0 {
			r = rec("", "sshd", fmt.Sprintf("Failed password for root from 10.0.0.%d port 22", i%3), at)
			r.Fields = append(r.Fields, fieldKV("client", fmt.Sprintf("10.0.0.%d", i%3)))
			r.Severity = 4
		}
		r.Source = "file:/var/log/auth.log"
		recs = append(recs, r)
	}
	res, err := s.Append(context.Background(), "web1", recs)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for q := res.FirstSeq; q <= res.LastSeq; q++ {
		seqs = append(seqs, q)
	}
	return seqs
}

func TestPageCursor(t *testing.T) {
	s, srv := exploreSetup(t, 0)
	fill(t, s)
	seen := map[int64]bool{}
	cursor := ""
	var prev Event
	for pages := 0; ; pages++ {
		var p PageAnswer
		u := srv.URL + "/api/v1/logs/page?limit=7&since=2h&q=" + url.QueryEscape("-nothing")
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		if code := getJSON(t, u, &p); code != 200 {
			t.Fatalf("status %d", code)
		}
		for _, e := range p.Lines {
			if seen[e.Seq] {
				t.Fatalf("seq %d twice", e.Seq)
			}
			seen[e.Seq] = true
			if prev.Seq != 0 && (e.Time.After(prev.Time) || e.Time.Equal(prev.Time) && e.Seq > prev.Seq) {
				t.Fatalf("not newest first: %v/%d after %v/%d", e.Time, e.Seq, prev.Time, prev.Seq)
			}
			prev = e
		}
		if p.Next == "" {
			if pages != 17 {
				t.Errorf("%d pages, want 18", pages+1)
			}
			break
		}
		cursor = p.Next
	}
	if len(seen) != 120 {
		t.Fatalf("%d lines paged, want 120", len(seen))
	}
}

func TestHistogramFieldsCount(t *testing.T) {
	s, srv := exploreSetup(t, 0)
	fill(t, s)
	var h SummaryAnswer
	if code := getJSON(t, srv.URL+"/api/v1/logs/histogram?since=1h&fields=*&q=", &h); code != 200 {
		t.Fatalf("status %d", code)
	}
	if h.Total != 120 || len(h.Buckets) < MinBuckets || len(h.Buckets) > MaxBuckets+1 || h.StepMS != 60000 || h.Sampled {
		t.Fatalf("histogram: total %d, %d buckets of %d ms, sampled %v", h.Total, len(h.Buckets), h.StepMS, h.Sampled)
	}
	var sum, warn int64
	for _, b := range h.Buckets {
		for i, n := range b.Counts {
			sum += n
			if h.Severities[i] == "warning" {
				warn += n
			}
		}
	}
	if sum != 120 || warn != 30 {
		t.Fatalf("buckets hold %d, %d warnings", sum, warn)
	}
	var client *struct {
		Values []struct {
			Value string
			Count int64
		}
	}
	raw, _ := json.Marshal(h.Fields)
	var fields []struct {
		Name   string
		Values []struct {
			Value string
			Count int64
		}
		Missing int64
	}
	json.Unmarshal(raw, &fields)
	for i := range fields {
		if fields[i].Name == "client" {
			client = &struct {
				Values []struct {
					Value string
					Count int64
				}
			}{fields[i].Values}
			if fields[i].Missing != 90 {
				t.Errorf("client missing from %d lines, want 90", fields[i].Missing)
			}
		}
	}
	if client == nil || len(client.Values) != 3 || client.Values[0].Count != 10 {
		t.Fatalf("client field: %+v in %s", client, raw)
	}

	var by SummaryAnswer
	getJSON(t, srv.URL+"/api/v1/logs/fields?since=1h&by=client&top=2&q="+url.QueryEscape(`"failed password"`), &by)
	if by.Total != 30 || len(by.Fields) != 1 || len(by.Fields[0].Values) != 2 || by.Fields[0].Other != 10 {
		t.Fatalf("by client: %+v", by)
	}
	var c struct{ Count int64 }
	getJSON(t, srv.URL+"/api/v1/logs/count?since=1h&q=program%3Dsshd", &c)
	if c.Count != 30 {
		t.Fatalf("count %d", c.Count)
	}
	for _, bad := range []string{"histogram?q=%22open", "histogram?since=1h&until=2h", "histogram?buckets=0", "fields?q=x", "count?since=soon", "context?seq=x", "page?cursor=zz", "page?limit=0"} {
		var e struct{ Error string }
		if code := getJSON(t, srv.URL+"/api/v1/logs/"+bad, &e); code != 400 || e.Error == "" {
			t.Errorf("%s: %d %q", bad, code, e.Error)
		}
	}
}

func TestContextAPI(t *testing.T) {
	s, srv := exploreSetup(t, 0)
	seqs := fill(t, s)
	var c ContextAnswer
	if code := getJSON(t, fmt.Sprintf("%s/api/v1/logs/context?seq=%d&before=3&after=2", srv.URL, seqs[50]), &c); code != 200 {
		t.Fatalf("status %d", code)
	}
	if len(c.Lines) != 6 || c.Anchor != 3 || c.Lines[3].Seq != seqs[50] || !c.MoreAbove || !c.MoreBelow {
		t.Fatalf("context: %+v", c)
	}
	for i := 1; i < len(c.Lines); i++ {
		if c.Lines[i].Seq != c.Lines[i-1].Seq+1 {
			t.Fatalf("not consecutive: %d then %d", c.Lines[i-1].Seq, c.Lines[i].Seq)
		}
	}
	var e struct{ Error string }
	if code := getJSON(t, srv.URL+"/api/v1/logs/context?seq=999999", &e); code != 404 {
		t.Fatalf("unknown seq: %d", code)
	}
}

func dialLive(t *testing.T, srv *httptest.Server, params string, user string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/logs/tail?batch=1&" + params
	return websocket.DefaultDialer.Dial(u, http.Header{"X-User": {user}})
}

func readLive(t *testing.T, c *websocket.Conn) LiveMessage {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var m LiveMessage
	if err := c.ReadJSON(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLiveTail: lines come in batches in ingest order; a reconnect from
// the last seq gets exactly what it missed; a client that cannot keep
// up is told how many lines it skipped.
func TestLiveTail(t *testing.T) {
	s, srv := exploreSetup(t, 0)
	fill(t, s)
	ctx := context.Background()
	c, _, err := dialLive(t, srv, "n=5&q=program%3Dsshd", "ana")
	if err != nil {
		t.Fatal(err)
	}
	first := readLive(t, c)
	if first.Type != "lines" || len(first.Lines) != 5 || first.Lines[0].Seq > first.Lines[4].Seq {
		t.Fatalf("backlog: %+v", first)
	}
	// A backlog flushed late: old event times, new seqs.
	var late []store.Record
	for i := 0; i < 10; i++ {
		late = append(late, rec("", "sshd", fmt.Sprintf("late %d", i), t0.Add(-24*time.Hour)))
	}
	late = append(late, rec("", "cron", "not matching", t0))
	if _, err := s.Append(ctx, "db1", late); err != nil {
		t.Fatal(err)
	}
	var got []Event
	last := first.LastSeq
	for len(got) < 10 {
		m := readLive(t, c)
		got = append(got, m.Lines...)
		last = max(last, m.LastSeq)
	}
	for i, e := range got {
		if e.Line != fmt.Sprintf("late %d", i) {
			t.Fatalf("line %d: %q", i, e.Line)
		}
	}
	c.Close()
	// Lines stored while away come with the reconnect.
	if _, err := s.Append(ctx, "db1", []store.Record{rec("", "sshd", "while away 1", t0), rec("", "sshd", "while away 2", t0)}); err != nil {
		t.Fatal(err)
	}
	c, _, err = dialLive(t, srv, fmt.Sprintf("since_seq=%d&q=program%%3Dsshd", last), "ana")
	if err != nil {
		t.Fatal(err)
	}
	m := readLive(t, c)
	if len(m.Lines) != 2 || m.Lines[0].Line != "while away 1" || m.Skipped != 0 {
		t.Fatalf("resume: %+v", m)
	}
	c.Close()
}

// TestLiveTailSkips: a burst larger than the buffer reaches the client
// as the newest lines and a count of the skipped ones.
func TestLiveTailSkips(t *testing.T) {
	s, srv := exploreSetup(t, 0)
	c, _, err := dialLive(t, srv, "", "ana")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readLive(t, c)
	var burst []store.Record
	for i := 0; i < 3*LiveBuffer; i++ {
		burst = append(burst, rec("", "app", fmt.Sprintf("burst %d", i), t0))
	}
	if _, err := s.Append(context.Background(), "web1", burst); err != nil {
		t.Fatal(err)
	}
	var lines, skipped int64
	for lines+skipped < int64(len(burst)) {
		m := readLive(t, c)
		lines += int64(len(m.Lines))
		skipped += m.Skipped
	}
	if skipped < int64(LiveBuffer) || lines > int64(LiveBuffer) || lines+skipped != int64(len(burst)) {
		t.Fatalf("%d lines and %d skipped of %d", lines, skipped, len(burst))
	}
}

// TestLiveTailCap: tails beyond the cap are refused with a reason.
func TestLiveTailCap(t *testing.T) {
	_, srv := exploreSetup(t, 2)
	var open []*websocket.Conn
	for _, u := range []string{"ana", "bo"} {
		c, _, err := dialLive(t, srv, "", u)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		readLive(t, c)
	}
	_, resp, err := dialLive(t, srv, "", "cy")
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third tail: %v %v", err, resp)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "already serves 2 live tails") {
		t.Fatalf("refusal: %s", b)
	}
	open[0].Close()
	// The slot frees once the server sees the close.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, _, err := dialLive(t, srv, "", "cy")
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slot never freed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	open[1].Close()
}

func fieldKV(k, v string) logparse.Field { return logparse.Field{Key: k, Value: v} }

// FuzzCursor: a cursor from a URL never panics and round-trips.
func FuzzCursor(f *testing.F) {
	f.Add("1700000000123456789.42")
	f.Add("-5.0")
	f.Add("..")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			return
		}
		if c2, err := ParseCursor(FormatCursor(c)); err != nil || c2 != c {
			t.Fatalf("%q: %v then %v (%v)", s, c, c2, err)
		}
	})
}
