package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/store"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func newTestHandler(t testing.TB, mod func(*Options, *store.Options)) (*Handler, *store.Store) {
	t.Helper()
	so := store.Options{Path: filepath.Join(t.TempDir(), "w.db"), Now: func() time.Time { return now }}
	o := Options{
		Tokens:   NewTokens(map[string][]string{"web1": {"tok-web1"}, "db1": {"tok-db1-new", "tok-db1-old"}}, []string{"tok-enroll"}),
		Now:      func() time.Time { return now },
		Location: time.UTC,
		Metrics:  metrics.NewSet(),
	}
	if mod != nil {
		mod(&o, &so)
	}
	s, err := store.Open(context.Background(), so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	o.Store = s
	return New(o), s
}

type answer struct {
	code int
	body map[string]any
	hdr  http.Header
}

func post(t testing.TB, h http.Handler, token string, body []byte, hdr map[string]string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("answer %d is not JSON: %q", rec.Code, rec.Body.String())
	}
	return answer{rec.Code, m, rec.Header()}
}

func ndjson(items ...any) []byte {
	var b bytes.Buffer
	for _, it := range items {
		if s, ok := it.(string); ok {
			b.WriteString(s)
		} else {
			j, _ := json.Marshal(it)
			b.Write(j)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func allRecords(t testing.TB, s *store.Store) []store.Record {
	t.Helper()
	recs, err := s.ReadAfter(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestIngestGoodBatch(t *testing.T) {
	h, s := newTestHandler(t, nil)
	body := ndjson(
		map[string]any{"source": "file:/var/log/syslog", "gen": "g1", "offset": 0, "file": "/var/log/syslog",
			"line": "Nov 22 09:59:58 web1 sshd[812]: Accepted publickey for alice from 192.0.2.7 port 50522 ssh2"},
		map[string]any{"source": "file:/var/log/nginx/access.log", "gen": "g1", "offset": 0, "format": "combined", "site": "wiki.example.org",
			"line": `192.0.2.1 - - [22/Nov/2026:09:59:59 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/8.5.0"`},
		map[string]any{"type": "metric", "ts": 1795860000, "origin": "builtin", "values": []any{map[string]any{"field": "load", "value": 0.42}},
			"graph": map[string]any{"name": "load", "title": "Load average", "vlabel": "load", "category": "system", "fields": []any{map[string]any{"name": "load", "label": "load", "type": "GAUGE"}}}},
		map[string]any{"type": "report", "version": "0.1.0", "uptime_s": 3600, "spool_bytes": 0, "lost_lines": 0},
		map[string]any{"line_b64": base64.StdEncoding.EncodeToString([]byte("bad \xff\xfe bytes"))},
	)
	a := post(t, h, "tok-web1", gz(body), map[string]string{"Content-Encoding": "gzip"})
	if a.code != 200 || a.body["stored"].(float64) != 5 {
		t.Fatalf("answer %d %v", a.code, a.body)
	}
	recs := allRecords(t, s)
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	ssh := recs[0]
	if ssh.Host != "web1" || ssh.Program != "sshd" || ssh.PID != "812" || ssh.File != "/var/log/syslog" {
		t.Fatalf("sshd line: %+v", ssh)
	}
	if recs[1].Site != "wiki.example.org" || recs[1].Format != "combined" {
		t.Fatalf("access line lost its site: %+v", recs[1])
	}
	if recs[2].Kind != store.KindMetric || !strings.Contains(string(recs[2].Data), `"Load average"`) {
		t.Fatalf("metric: %+v", recs[2])
	}
	if recs[3].Kind != store.KindReport {
		t.Fatalf("report: %+v", recs[3])
	}
	if recs[4].Raw != "bad \xff\xfe bytes" {
		t.Fatalf("line_b64 bytes changed: %q", recs[4].Raw)
	}
	// Resending the batch stores nothing new.
	a = post(t, h, "tok-web1", body, nil)
	if a.code != 200 || a.body["stored"].(float64) != 3 || a.body["replays"].(float64) != 2 {
		t.Fatalf("resend: %d %v", a.code, a.body)
	}
}

func TestIngestBadInput(t *testing.T) {
	h, s := newTestHandler(t, func(o *Options, so *store.Options) { o.MaxBodyBytes = 4096; o.MaxBatchBytes = 8192 })
	good := ndjson(map[string]any{"line": "fine"})
	big := bytes.Repeat([]byte(`{"line":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`+"\n"), 200)
	tests := []struct {
		name   string
		token  string
		body   []byte
		hdr    map[string]string
		code   int
		errHas string
	}{
		{"no token", "", good, nil, 401, "token"},
		{"wrong token", "nope", good, nil, 401, "token"},
		{"oversized body", "tok-web1", big, nil, 413, "bytes"},
		{"zip bomb over the batch limit", "tok-web1", gz(bytes.Repeat([]byte(`{"line":"a"}`+"\n"), 2000)), map[string]string{"Content-Encoding": "gzip"}, 413, "decompression"},
		{"invalid gzip", "tok-web1", []byte("this is not gzip"), map[string]string{"Content-Encoding": "gzip"}, 400, "gzip"},
		{"truncated gzip", "tok-web1", gz(good)[:15], map[string]string{"Content-Encoding": "gzip"}, 400, "batch"},
		{"enroll token without host", "tok-enroll", good, nil, 400, "X-Watchpost-Host"},
		{"enroll token bad host", "tok-enroll", good, map[string]string{"X-Watchpost-Host": "a b"}, 400, "character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, h, tc.token, tc.body, tc.hdr)
			if a.code != tc.code {
				t.Fatalf("code %d, want %d (%v)", a.code, tc.code, a.body)
			}
			if msg, _ := a.body["error"].(string); !strings.Contains(msg, tc.errHas) {
				t.Fatalf("error %q does not mention %q", msg, tc.errHas)
			}
		})
	}
	if n := len(allRecords(t, s)); n != 0 {
		t.Fatalf("refused batches stored %d records", n)
	}
}

func TestIngestPartialAcceptance(t *testing.T) {
	h, s := newTestHandler(t, nil)
	body := ndjson(
		map[string]any{"line": "first good"},
		`{"line": "unterminated`,
		`[1,2,3]`,
		map[string]any{"type": "nonsense", "line": "x"},
		map[string]any{"line_b64": "!!!notbase64"},
		map[string]any{"source": "file:x", "line": "offset missing"},
		map[string]any{"line": "a", "line_b64": "YQ=="},
		map[string]any{"line": "last good", "time": "2026-11-22T09:00:00+01:00"},
		"\xff\xfe not json at all",
	)
	a := post(t, h, "tok-db1-old", body, nil)
	if a.code != 200 {
		t.Fatalf("code %d %v", a.code, a.body)
	}
	rej := a.body["rejected"].([]any)
	if len(rej) != 7 || a.body["stored"].(float64) != 2 {
		t.Fatalf("stored %v, rejected %v", a.body["stored"], rej)
	}
	for _, r := range rej {
		m := r.(map[string]any)
		if m["line"].(float64) < 2 || m["error"].(string) == "" {
			t.Fatalf("rejection without line number or reason: %v", m)
		}
	}
	recs := allRecords(t, s)
	if len(recs) != 2 || recs[0].Host != "db1" || recs[1].Raw != "last good" {
		t.Fatalf("records %+v", recs)
	}
	if want := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC); !recs[1].Time.Equal(want) {
		t.Fatalf("time %v, want %v", recs[1].Time, want)
	}
}

func TestIngestEnrollAndTokens(t *testing.T) {
	h, s := newTestHandler(t, nil)
	if a := post(t, h, "tok-enroll", ndjson(map[string]any{"line": "hello"}), map[string]string{"X-Watchpost-Host": "newhost"}); a.code != 200 {
		t.Fatalf("%d %v", a.code, a.body)
	}
	// A host token cannot file lines under another host.
	if a := post(t, h, "tok-web1", ndjson(map[string]any{"line": "x", "host": "db1"}), map[string]string{"X-Watchpost-Host": "db1"}); a.code != 200 {
		t.Fatalf("%d %v", a.code, a.body)
	}
	recs := allRecords(t, s)
	if recs[0].Host != "newhost" || recs[1].Host != "web1" {
		t.Fatalf("hosts %q %q", recs[0].Host, recs[1].Host)
	}
	// Rotation: the old token stops working once the table is updated.
	h.o.Tokens.Update(map[string][]string{"db1": {"tok-db1-new"}}, nil)
	if a := post(t, h, "tok-db1-old", ndjson(map[string]any{"line": "x"}), nil); a.code != 401 {
		t.Fatalf("rotated-out token: %d", a.code)
	}
}

func TestIngestQuotaAndBusy(t *testing.T) {
	h, _ := newTestHandler(t, func(o *Options, so *store.Options) { so.HostQuotaPerDay = 10 })
	body := ndjson(map[string]any{"line": "0123456789 over the quota"})
	if a := post(t, h, "tok-web1", body, nil); a.code != 200 {
		t.Fatalf("first batch: %d", a.code)
	}
	a := post(t, h, "tok-web1", body, nil)
	if a.code != 429 || a.hdr.Get("Retry-After") == "" {
		t.Fatalf("over quota: %d %v", a.code, a.hdr)
	}
	if a := post(t, h, "tok-db1-new", body, nil); a.code != 200 {
		t.Fatalf("other host refused: %d", a.code)
	}
}

type busyStore struct{}

func (busyStore) Append(context.Context, string, []store.Record) (store.AppendResult, error) {
	return store.AppendResult{}, store.ErrBusy
}

func TestIngestBusy(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	h.o.Store = busyStore{} // a fault the real writer shows only under load
	a := post(t, h, "tok-web1", ndjson(map[string]any{"line": "x"}), nil)
	if a.code != 503 || a.hdr.Get("Retry-After") != "1" {
		t.Fatalf("%d %v", a.code, a.hdr)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/ingest", nil))
	if rec.Code != 405 {
		t.Fatal(rec.Code)
	}
	io.Copy(io.Discard, rec.Body)
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"line":"x"}` + "\n" + `{"type":"metric","values":{"a":1}}`))
	f.Add([]byte(`{"type":"metric","ts":1,"graph":{"name":"load","fields":[{"name":"load"}]},"values":[{"field":"load","value":1}]}`))
	f.Add([]byte(`{"source":"s","gen":"g","offset":5,"line_b64":"/w=="}`))
	f.Add([]byte("{\"line\":\"\\u0000\"}\n\n\n{"))
	f.Add([]byte(`{"line":"x","time":"not a time","severity":99,"facility":-5}`))
	h := New(Options{Tokens: NewTokens(nil, nil), Location: time.UTC})
	f.Fuzz(func(t *testing.T, batch []byte) {
		recs, rej := h.decode(batch, "h", false, time.UTC, 0, nil)
		// In parts, the same records come out, in order, none empty.
		var parted []store.Record
		_, rej2 := h.decode(batch, "h", false, time.UTC, 2, func(p []store.Record) {
			if len(p) == 0 || len(p) > 2 {
				t.Fatalf("part of %d records", len(p))
			}
			parted = append(parted, p...)
		})
		if len(parted) != len(recs) || len(rej2) != len(rej) {
			t.Fatalf("in parts: %d records, %d rejected; whole: %d, %d", len(parted), len(rej2), len(recs), len(rej))
		}
		for i := range recs {
			if parted[i].Raw != recs[i].Raw || parted[i].Offset != recs[i].Offset || string(parted[i].Data) != string(recs[i].Data) {
				t.Fatalf("record %d differs in parts", i)
			}
		}
		for _, r := range rej {
			if r.Line < 1 || r.Error == "" {
				t.Fatalf("bad rejection %+v", r)
			}
		}
		for _, r := range recs {
			if r.Kind == store.KindLog && len(r.Raw) > h.o.MaxLineBytes {
				t.Fatalf("line over the limit kept")
			}
		}
	})
}

// BenchmarkIngest posts pre-made batches of 2,000 syslog lines, each with
// its own source generation so that none is a replay, through the handler
// into a real store (signature index included). Run it with a fixed count,
// e.g. -benchtime=200x: the batches are made before the clock starts.
func BenchmarkIngest(b *testing.B) {
	h, _ := newTestHandler(b, nil)
	const lines = 2000
	bodies := make([][]byte, b.N)
	for k := range bodies {
		var buf bytes.Buffer
		for i := 0; i < lines; i++ {
			fmt.Fprintf(&buf, `{"source":"file:/var/log/syslog","gen":"g%d","offset":%d,"line":"Nov 22 09:59:58 web1 sshd[%d]: Failed password for invalid user admin%d from 198.51.100.%d port %d ssh2"}`+"\n", k, i*120, 1000+i, i+k, i%250, 40000+i)
		}
		bodies[k] = buf.Bytes()
	}
	b.SetBytes(int64(len(bodies[0])))
	b.ReportAllocs()
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bodies[next.Add(1)-1]
			req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer tok-web1")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}

func TestIngestMetricChecks(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	good := `{"type":"metric","ts":1795860000,"graph":{"name":"load","fields":[{"name":"load","type":"GAUGE"}]},"values":[{"field":"load","value":0.4}]}`
	for _, tc := range []struct{ item, want string }{
		{good, ""},
		{`{"type":"metric","ts":1795860000,"graph":{"name":"","fields":[]},"values":[{"field":"x","value":1}]}`, "graph.name: missing"},
		{`{"type":"metric","ts":1795860000,"graph":{"name":"a/b","fields":[{"name":"x"}]},"values":[{"field":"x","value":1}]}`, "slash"},
		{`{"type":"metric","ts":1795860000,"graph":{"name":"load","fields":[{"name":"load"}]},"values":[]}`, "no values"},
		{`{"type":"metric","graph":{"name":"load","fields":[{"name":"load"}]},"values":[{"field":"load","value":1}]}`, "ts:"},
		{`{"type":"metric","ts":1,"graph":{"name":"load","fields":[{"name":"load","type":"RATE"}]},"values":[{"field":"load","value":1}]}`, "unknown type"},
		{`{"type":"metric","ts":1,"graph":{"name":"load","fields":[{"name":"load"}]},"values":[{"field":"other","value":1}]}`, "does not describe"},
		{`{"type":"metric","ts":1,"graph":{"name":"load","fields":{"load":{}}},"values":[{"field":"load","value":1}]}`, "metric: json"},
	} {
		a := post(t, h, "tok-web1", []byte(tc.item+"\n"), nil)
		rej, _ := a.body["rejected"].([]any)
		if tc.want == "" {
			if a.code != 200 || len(rej) != 0 {
				t.Errorf("good item: %d %v", a.code, a.body)
			}
			continue
		}
		if a.code != 200 || len(rej) != 1 || !strings.Contains(fmt.Sprint(rej[0]), tc.want) {
			t.Errorf("%s: %d %v, want a rejection with %q", tc.item, a.code, a.body, tc.want)
		}
	}
}
