package vlogs

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/fixtures"
	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
)

// corpusStart is the fixed date of the test corpus (VictoriaLogs is
// started with a 100-year retention, so the date never ages out).
var corpusStart = time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(dir, "watchpost.db"),
		Now: func() time.Time { return corpusStart.Add(10 * 24 * time.Hour) }, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func startVL(t testing.TB) (*peers.VictoriaLogs, *Client) {
	t.Helper()
	v := peers.StartVictoriaLogs(t, filepath.Join(t.TempDir(), "vl"))
	c, err := NewClient(ClientOptions{URL: v.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return v, c
}

// record makes a stored log record from a raw line as the loghost would:
// parsed, with the given source.
func record(raw string, at time.Time, host, source, file, format string) store.Record {
	ev := logparse.Parse(format, []byte(raw), at, time.UTC)
	if ev.Time.IsZero() {
		ev.Time = at
	}
	ev.Host = host // the block's host, as ingest stores it
	return store.Record{Kind: store.KindLog, Received: at.Add(time.Second), Event: ev, Raw: raw,
		Source: source, File: file, Format: format, Gen: "g1", Offset: -1}
}

// corpus is the conformance corpus: generated syslog, mail and web lines
// from eight hosts plus hand-made lines for the edges (case, Unicode
// folding, punctuation inside words, parser fields that clash with the
// standard ones, invalid UTF-8, lines sharing a timestamp).
func corpus() []store.Record {
	g := fixtures.NewGenerator(7, corpusStart, 700*time.Millisecond)
	var recs []store.Record
	for i := 0; i < 3000; i++ {
		l := g.Next()
		at := l.Time
		if i%7 == 3 {
			at = recs[len(recs)-1].Time // ties: several lines in one second
		}
		src, file := "file:/var/log/syslog", "/var/log/syslog"
		switch {
		case i%5 == 0:
			src, file = "", "" // received over syslog
		case l.Program == "nginx":
			file = "/var/log/nginx/access.log"
		}
		r := record(l.Text, at, l.Host, src, file, "")
		r.Time = at
		if i%3 == 0 {
			r.Severity, r.Facility = i%8, []int{3, 4, 10, 16}[i%4]
		}
		recs = append(recs, r)
	}
	at := corpusStart.Add(3000 * 700 * time.Millisecond)
	special := []struct{ raw, host, format string }{
		{"Nov 10 00:00:01 web1 sshd[77]: kex_exchange_identification: Connection closed by remote host", "web1", ""},
		{"Nov 10 00:00:01 web1 sshd[77]: Failed password for invalid user KEX from 10.0.0.1 port 22 ssh2", "web1", ""},
		{"Nov 10 00:00:02 WEB2 app[9]: straße STRASSE Σίσυφος ΣΊΣΥΦΟΣ", "WEB2", ""},
		{"Nov 10 00:00:03 web2 app[9]: temperature 300 \u212a by the Kelvin sign", "web2", ""},
		{"Nov 10 00:00:03 web2 app[9]: temperature 301 k in lower case", "web2", ""},
		{"Nov 10 00:00:04 web2 app[9]: the long \u017f and a plain s", "web2", ""},
		{"Nov 10 00:00:05 db1 app[9]: bad \xff byte and \xfe more", "db1", ""},
		{`{"level":"error","msg":"db timeout after 5s","status":"+5","latency":".5","user":"","host":"evil"}`, "db1", "json"},
		{`{"level":"info","msg":"json ok","status":"200","latency":"1e3","user":"root"}`, "db1", "json"},
		{"status=503 method=GET path=/api/v1/x took=10ms user=alice", "web1", "logfmt"},
		{"status=404 method=POST path=/wp-login.php took=3s", "web1", "logfmt"},
		{`<34>1 2026-11-10T00:00:06.5Z gw su 42 ID47 [origin ip="10.1.1.1"] 'su root' failed for lonvick`, "gw", ""},
		{"Nov 10 00:00:07 mail postfix/smtp[5]: 3F2A1: to=<a@example.org>, status=sent (250 ok)", "mail", ""},
		{"Nov 10 00:00:07 mail postfix/smtp[5]: 3F2A2: to=<b@example.org>, status=deferred (timeout)", "mail", ""},
		{"user=root \"quoted\" back\\slash <html> => done", "web1", ""},
		{"1.50", "db1", ""},
		{"n=1_000 m=-0 z=007 f=2.50 e=", "db1", "logfmt"},
	}
	for i, s := range special {
		r := record(s.raw, at.Add(time.Duration(i/2)*time.Second), s.host, "file:/var/log/app.log", "/var/log/app.log", s.format)
		r.Time = at.Add(time.Duration(i/2) * time.Second)
		recs = append(recs, r)
	}
	return recs
}

// fill appends recs to the store, host by host in batches, as ingest
// does.
func fill(t testing.TB, s *store.Store, recs []store.Record) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && j-i < 50 && recs[j].Host == recs[i].Host {
			j++
		}
		if _, err := s.Append(ctx, recs[i].Host, recs[i:j]); err != nil {
			t.Fatal(err)
		}
		i = j
	}
	// Compacted, as the loghost's maintenance leaves blocks after a
	// minute: the store's context never crosses a block, and blocks are
	// a host's lines in seq order.
	if _, err := s.Compact(ctx, 0); err != nil {
		t.Fatal(err)
	}
}

// describe renders hits for a failure message.
func describe(hits []store.Hit) string {
	var b strings.Builder
	for i, h := range hits {
		if i == 40 {
			fmt.Fprintf(&b, "... %d more\n", len(hits)-i)
			break
		}
		fmt.Fprintf(&b, "  seq=%d match=%v group=%d %s %s %q\n", h.Seq, h.Match, h.Group, h.Time.UTC().Format(time.RFC3339Nano), h.Host, h.Raw)
	}
	return b.String()
}
