package vlogs

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/query"
	"github.com/watchpost/watchpost/store"
)

var update = flag.Bool("update", false, "rewrite testdata/logsql.golden")

// TestFilterGolden: the LogsQL of each query, as VictoriaLogs receives
// it (a reviewable record of the translation).
func TestFilterGolden(t *testing.T) {
	queries := []string{
		"", "sshd", "SSHD", "kex_exchange", `"failed password"`, "10.0.0.1", "straße", "\u212a", "-cron",
		"42", "1.5", "-0.5",
		"host=web1", "host!=WEB1", "program=postfix/smtp", "host~^web", "-program~^post",
		"severity=error", "severity<=err", "severity>debug", "-severity>=info", "facility=auth",
		"status=500", "status!=500", "status=1.0", "user=root", "user!=root", `user=""`, `user!=""`,
		"status>=500", "status<300", "-status>=400", "latency<=0.6",
		"message~timeout", "message~^$", "-user~^r", "-user~^", "sd.origin.ip=10.1.1.1", "_raw=x", "wp_lc=y", "seq>100",
	}
	var b strings.Builder
	for _, s := range queries {
		q, err := query.Parse(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		b.WriteString(s + "\n\t" + Filter(q) + "\n")
	}
	golden := filepath.Join("testdata", "logsql.golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("LogsQL changed (run with -update and review the diff):\n%s", b.String())
	}
	if got := TimeFilter(corpusStart, corpusStart.Add(time.Hour)); got != "_time:[2026-11-06T00:00:00Z, 2026-11-06T01:00:00Z)" {
		t.Errorf("time filter %s", got)
	}
}

// TestEncodeCut: a line over the limit is cut at a character boundary
// before it is sent and says how long it was; no encoded line comes near
// VictoriaLogs' 256 KiB limit, whatever the fields.
func TestEncodeCut(t *testing.T) {
	ev := logparse.NewEvent()
	ev.Time, ev.Host, ev.Message = corpusStart, "web1", strings.Repeat("é", 30000)
	for i := 0; i < 3000; i++ {
		ev.Fields = append(ev.Fields, logparse.Field{Key: "k" + strings.Repeat("x", i%200), Value: strings.Repeat("\x01", 5000)})
	}
	r := store.Record{Kind: store.KindLog, Seq: 7, Event: ev, Raw: "app: " + ev.Message, Offset: -1}
	line, cut := appendRecord(nil, &r, DefaultMaxLineBytes)
	if !cut {
		t.Fatal("not marked cut")
	}
	if len(line) > maxEncoded {
		t.Fatalf("encoded line of %d bytes", len(line))
	}
	v, err := fastjson.ParseBytes(line)
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	msg := string(v.GetStringBytes("_msg"))
	if !utf8.ValidString(msg) || len(msg) > DefaultMaxLineBytes || !strings.HasPrefix(r.Raw, msg) {
		t.Errorf("_msg cut badly: %d bytes", len(msg))
	}
	if got := string(v.GetStringBytes(fieldTruncated)); got != "60005" {
		t.Errorf("wp_truncated %q", got)
	}
	// A short line is whole and round-trips.
	r2 := store.Record{Kind: store.KindLog, Seq: 8, Event: logparse.NewEvent(), Raw: "bad \xff \"quoted\"\n\u2028", Offset: -1}
	r2.Time, r2.Host, r2.Message, r2.Received = corpusStart, "h", "m", corpusStart
	r2.Fields = []logparse.Field{{Key: "host", Value: "evil"}, {Key: "n", Value: "1.0"}, {Key: "e", Value: ""}}
	line, cut = appendRecord(nil, &r2, DefaultMaxLineBytes)
	if cut {
		t.Fatal("short line marked cut")
	}
	v, err = fastjson.ParseBytes(line)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeRow(v)
	if err != nil {
		t.Fatal(err)
	}
	if canonical(&back) != canonical(&r2) {
		t.Errorf("round trip:\n got %s\nwant %s", canonical(&back), canonical(&r2))
	}
}

// TestInsertRequest: what the shipper sends, seen by a capture server:
// POST, the Content-Type VictoriaLogs needs (without it nothing is
// stored), gzip, the tenant, the credentials, the stream and field
// parameters.
func TestInsertRequest(t *testing.T) {
	type seen struct {
		method, path, ct, ce, account, project, auth string
		body                                         string
	}
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(zr)
		}
		got <- seen{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"),
			r.Header.Get("AccountID"), r.Header.Get("ProjectID"), r.Header.Get("Authorization"), string(body)}
	}))
	defer srv.Close()
	c, err := NewClient(ClientOptions{URL: srv.URL, AccountID: 7, ProjectID: 3, Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, t.TempDir())
	sh, err := NewShipper(ShipperOptions{Store: st, Client: c, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	recs := corpus()[:3]
	body, n, err := sh.encode(recs)
	if err != nil || n != 3 {
		t.Fatal(err)
	}
	if err := c.Insert(context.Background(), body); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.method != "POST" || s.path != "/insert/jsonline"+insertParams || s.ct != "application/stream+json" || s.ce != "gzip" ||
		s.account != "7" || s.project != "3" || s.auth != "Basic dTpw" {
		t.Errorf("request %+v", s)
	}
	if lines := strings.Split(strings.TrimSuffix(s.body, "\n"), "\n"); len(lines) != 3 || !strings.Contains(lines[0], `"_time":"2026-11-06T00:00:00.7Z"`) {
		t.Errorf("body:\n%s", s.body)
	}
	for _, bad := range []ClientOptions{{URL: "vl:9428"}, {URL: "http://u:p@vl:9428"}, {URL: "http://vl", Username: "u", BearerToken: "t"},
		{URL: "http://vl", TLSCAFile: "/nonexistent"}} {
		if _, err := NewClient(bad); err == nil {
			t.Errorf("NewClient(%+v) accepted", bad)
		}
	}
}

// TestFailedInsertLooksFirst: after a request fails the shipper asks
// VictoriaLogs which lines of it arrived before sending again, and sends
// only the others.
func TestFailedInsertLooksFirst(t *testing.T) {
	var inserts [][]byte
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/insert/jsonline":
			zr, _ := gzip.NewReader(r.Body)
			b, _ := io.ReadAll(zr)
			inserts = append(inserts, b)
			if fail {
				fail = false
				http.Error(w, "timeout", http.StatusServiceUnavailable)
			}
		case "/select/logsql/query":
			// Two of the three lines arrived.
			w.Write([]byte(`{"seq":"1"}` + "\n" + `{"seq":"2"}` + "\n"))
		}
	}))
	defer srv.Close()
	c, _ := NewClient(ClientOptions{URL: srv.URL})
	st := openStore(t, t.TempDir())
	sh, _ := NewShipper(ShipperOptions{Store: st, Client: c, Logger: quietLogger()})
	recs := corpus()[:3]
	for i := range recs {
		recs[i].Seq = int64(i + 1)
	}
	if err := sh.send(context.Background(), recs, false); err != nil {
		t.Fatal(err)
	}
	if len(inserts) != 2 || bytes.Count(inserts[1], []byte("\n")) != 1 || !bytes.Contains(inserts[1], []byte(`"seq":"3"`)) {
		t.Fatalf("inserts: %d, last:\n%s", len(inserts), inserts[len(inserts)-1])
	}
}

func FuzzFilter(f *testing.F) {
	for _, s := range []string{"sshd", "host=web1 -x", `"a b" status>=5`, "user~^(a|b)$", "straße", "-user~^"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := query.Parse(s)
		if err != nil {
			return
		}
		out := Filter(q)
		if !utf8.ValidString(out) && utf8.ValidString(s) {
			t.Errorf("invalid UTF-8 LogsQL %q for %q", out, s)
		}
	})
}

func FuzzDecodeRow(f *testing.F) {
	f.Add([]byte(`{"_time":"2026-11-06T00:00:00Z","_msg":"x","seq":"1","wp_exact":"{\"n\":\"1.0\"}"}`))
	f.Add([]byte(`{"seq":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := fastjson.ParseBytes(b)
		if err != nil {
			return
		}
		decodeRow(v)
	})
}

// TestStall: VictoriaLogs refusing lines for StallAfter is told once, and
// its recovery once.
func TestStall(t *testing.T) {
	var mu sync.Mutex
	fails := 2
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/insert/jsonline" && fails > 0 {
			fails--
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c, _ := NewClient(ClientOptions{URL: srv.URL})
	st := openStore(t, t.TempDir())
	var events []bool
	sh, _ := NewShipper(ShipperOptions{Store: st, Client: c, Logger: quietLogger(), StallAfter: time.Millisecond,
		OnStall: func(ctx context.Context, ok bool, err error) { events = append(events, ok) }})
	recs := corpus()[:2]
	if err := sh.send(context.Background(), recs, false); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(events) != "[false true]" {
		t.Errorf("stall events %v, want [false true]", events)
	}
}
