package grep

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/logapi"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
)

// now is the grep's clock in every test: nothing depends on today.
var now = time.Date(2026, 12, 7, 7, 30, 0, 0, time.UTC)

type fixture struct {
	dir     string
	store   *store.Store
	srv     *httptest.Server
	tokFile string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(dir, "watchpost.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := &logapi.Handler{Store: s, Location: time.UTC, Now: func() time.Time { return now }}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/logs", h.Logs)
	mux.HandleFunc("GET /api/v1/logs/tail", h.Tail)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tok := filepath.Join(dir, "admin.token")
	os.WriteFile(tok, []byte("t\n"), 0o600)
	return &fixture{dir: dir, store: s, srv: srv, tokFile: tok}
}

// syslogRec is a message as the syslog listener stores it: the frame as
// it came, parsed.
func syslogRec(host, frame string) store.Record {
	ev, err := logparse.ParseSyslog([]byte(frame), now, time.UTC)
	if err != nil {
		panic(err)
	}
	return store.Record{Kind: store.KindLog, Event: ev, Raw: frame, Offset: -1, Format: "syslog", Received: now}
}

// fileRec is a line of a log file a collector shipped.
func fileRec(raw string, at time.Time) store.Record {
	ev := logparse.NewEvent()
	ev.Message, ev.Time = raw, at
	return store.Record{Kind: store.KindLog, Event: ev, Raw: raw, Offset: -1, File: "/var/log/app.log", Received: at}
}

func (f *fixture) add(t *testing.T, host string, recs ...store.Record) {
	t.Helper()
	if _, err := f.store.Append(context.Background(), host, recs); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (f *fixture) run(t *testing.T, ctx context.Context, remote bool, pageSize int, args ...string) (string, string, int) {
	t.Helper()
	if remote {
		args = append([]string{"-server", f.srv.URL, "-token-file", f.tokFile}, args...)
	} else {
		args = append([]string{"-data", f.dir}, args...)
	}
	var out, errb syncBuffer
	rc := Run(ctx, args, Env{Stdout: &out, Stderr: &errb, Now: func() time.Time { return now }, Location: time.UTC, PageSize: pageSize})
	return out.String(), errb.String(), rc
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Flags after the query words were taken as words: `grep sshd -since 10m`
// found nothing where `grep -since 10m sshd` found the lines.
func TestFlagsAnywhere(t *testing.T) {
	f := newFixture(t)
	var recs []store.Record
	for i := range 38 {
		at := now.Add(-time.Duration(38-i) * time.Minute)
		recs = append(recs, syslogRec("web1", fmt.Sprintf("<86>1 %s web1 sshd 23103 - - Failed password try %d", at.Format(time.RFC3339), i)))
	}
	f.add(t, "web1", recs...)
	f.add(t, "web1", syslogRec("web1", "<86>1 "+now.Add(-2*time.Minute).Format(time.RFC3339)+" web1 cron 1 - - cron ran sshd-keygen"))
	for _, remote := range []bool{false, true} {
		ctx := context.Background()
		before, _, rc1 := f.run(t, ctx, remote, 0, "-since", "10m", "sshd")
		after, _, rc2 := f.run(t, ctx, remote, 0, "sshd", "-since", "10m")
		if rc1 != 0 || rc2 != 0 || before != after || len(lines(after)) != 11 {
			t.Fatalf("remote=%v: -since before the words: rc %d, %d lines; after: rc %d, %d lines", remote, rc1, len(lines(before)), rc2, len(lines(after)))
		}
		out, _, rc := f.run(t, ctx, remote, 0, "host=web1", "-n", "5")
		if rc != 0 || len(lines(out)) != 5 {
			t.Fatalf("remote=%v: host=web1 -n 5: rc %d, %d lines:\n%s", remote, rc, len(lines(out)), out)
		}
		out, _, _ = f.run(t, ctx, remote, 0, "--since=10m", "sshd", "-cron")
		if len(lines(out)) != 10 || strings.Contains(out, "cron ran") {
			t.Fatalf("remote=%v: -cron is a negated word:\n%s", remote, out)
		}
		// After --, a flag's name is a negated word.
		out, _, rc = f.run(t, ctx, remote, 0, "-since", "10m", "--", "sshd", "-n")
		if rc != 0 || len(lines(out)) != 10 {
			t.Fatalf("remote=%v: -- -n: rc %d\n%s", remote, rc, out)
		}
	}
	for _, args := range [][]string{{"sshd", "-v"}, {"sshd", "-sinse", "10m"}, {"sshd", "--nope"}, {"sshd", "-n"}} {
		_, stderr, rc := f.run(t, context.Background(), false, 0, args...)
		if rc != 2 || stderr == "" {
			t.Fatalf("%q: rc %d, stderr %q; want a usage error", args, rc, stderr)
		}
		if strings.Contains(args[1], "v") && !strings.Contains(stderr, "-- -v") {
			t.Fatalf("the error should say how to mean the word: %s", stderr)
		}
	}
}

// A syslog message shows as rsyslog writes it, not as its wire frame; -o
// json keeps everything.
func TestSyslogShownAsRsyslogWritesIt(t *testing.T) {
	f := newFixture(t)
	frame := `<86>1 2026-12-07T07:17:54.499+00:00 vm sshd 23103 - [timeQuality tzKnown="1"] Failed password for root from 203.0.113.9 port 22 ssh2`
	f.add(t, "vm", syslogRec("vm", frame))
	want := "Dec  7 07:17:54 vm sshd[23103]: Failed password for root from 203.0.113.9 port 22 ssh2\n"
	for _, remote := range []bool{false, true} {
		out, _, rc := f.run(t, context.Background(), remote, 0, "Failed")
		if rc != 0 || out != want {
			t.Fatalf("remote=%v: got %q, want %q", remote, out, want)
		}
		out, _, _ = f.run(t, context.Background(), remote, 0, "-o", "json", "Failed")
		if !strings.Contains(out, `timeQuality`) || !strings.Contains(out, `"program":"sshd"`) {
			t.Fatalf("remote=%v: -o json lost the frame: %s", remote, out)
		}
	}
}

// One rule for the host prefix, searching and following alike: a file's
// line is prefixed with its host, a syslog line names its host itself.
func TestHostPrefixOneRule(t *testing.T) {
	want := []string{"web1:app started marker", "Dec  7 07:29:00 web1 app[7]: marker from syslog"}
	for _, remote := range []bool{false, true} {
		f := newFixture(t)
		f.add(t, "web1", fileRec("app started marker", now.Add(-time.Minute)))
		f.add(t, "web1", syslogRec("web1", "<14>1 "+now.Add(-time.Minute).Format(time.RFC3339)+" web1 app 7 - - marker from syslog"))
		out, _, _ := f.run(t, context.Background(), remote, 0, "marker")
		if got := lines(out); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("remote=%v search: %q, want %q", remote, got, want)
		}
		out, _, _ = f.run(t, context.Background(), remote, 0, "host=web1", "marker")
		if got := lines(out); len(got) != 2 || got[0] != "app started marker" {
			t.Fatalf("remote=%v: host=web1 names the host, no prefix: %q", remote, got)
		}
		// -f: the same two lines arriving live print the same way.
		ctx, cancel := context.WithCancel(context.Background())
		var out2 string
		done := make(chan struct{})
		var buf syncBuffer
		go func() {
			defer close(done)
			args := []string{"-data", f.dir, "-f", "marker"}
			if remote {
				args = []string{"-server", f.srv.URL, "-token-file", f.tokFile, "-f", "marker"}
			}
			Run(ctx, args, Env{Stdout: &buf, Stderr: &buf, Now: func() time.Time { return now }, Location: time.UTC})
		}()
		deadline := time.Now().Add(30 * time.Second)
		for len(lines(buf.String())) < 4 && time.Now().Before(deadline) {
			f.add(t, "web1", fileRec("app started marker", now.Add(-time.Minute)))
			f.add(t, "web1", syslogRec("web1", "<14>1 "+now.Add(-time.Minute).Format(time.RFC3339)+" web1 app 7 - - marker from syslog"))
			time.Sleep(300 * time.Millisecond)
		}
		// What a follower showed before it stops: each line as it came.
		out2 = buf.String()
		cancel()
		<-done
		seen := map[string]bool{}
		for _, l := range lines(out2) {
			if l != want[0] && l != want[1] {
				t.Fatalf("remote=%v -f printed %q, want one of %q", remote, l, want)
			}
			seen[l] = true
		}
		if len(seen) != 2 {
			t.Fatalf("remote=%v -f: %q, want both of %q", remote, out2, want)
		}
	}
}

// Piped output escapes CR and LF inside a line: a crafted line cannot
// forge a second line with another host's prefix.
func TestNewlinesCannotForgeLines(t *testing.T) {
	f := newFixture(t)
	f.add(t, "web1", fileRec("evil\nweb2:forged line\r", now.Add(-time.Minute)))
	out, _, _ := f.run(t, context.Background(), false, 0, "evil")
	if out != `web1:evil\x0aweb2:forged line\x0d`+"\n" {
		t.Fatalf("got %q", out)
	}
	// Other control characters pass through a pipe but not to a terminal.
	f.add(t, "web1", fileRec("bell\a esc\x1b[31m", now.Add(-time.Minute)))
	var b bytes.Buffer
	Run(context.Background(), []string{"-data", f.dir, "bell"}, Env{Stdout: &b, Stderr: &b, Terminal: true, Now: func() time.Time { return now }, Location: time.UTC})
	if b.String() != `web1:bell\x07 esc\x1b[31m`+"\n" {
		t.Fatalf("terminal: %q", b.String())
	}
}

// grep -server gets every match, page by page, where it used to stop at
// the API's limit without a word. Matches sharing one time at a page's
// edge are printed once.
func TestServerPagesThroughEverything(t *testing.T) {
	f := newFixture(t)
	var recs []store.Record
	for i := range 25 {
		at := now.Add(-time.Hour).Add(time.Duration(i/3) * time.Second) // three lines a second
		recs = append(recs, fileRec(fmt.Sprintf("paged line %02d", i), at))
	}
	f.add(t, "web1", recs...)
	local, _, _ := f.run(t, context.Background(), false, 0, "paged")
	remote, stderr, rc := f.run(t, context.Background(), true, 4, "paged")
	if rc != 0 || remote != local || len(lines(remote)) != 25 {
		t.Fatalf("rc %d, %d lines (stderr %q):\n%s\nwant:\n%s", rc, len(lines(remote)), stderr, remote, local)
	}
	// More lines at one instant than a page holds: said on stderr.
	recs = recs[:0]
	for i := range 6 {
		recs = append(recs, fileRec(fmt.Sprintf("same instant %d", i), now.Add(-time.Minute)))
	}
	f.add(t, "web1", recs...)
	out, stderr, _ := f.run(t, context.Background(), true, 4, "instant")
	if len(lines(out)) != 4 || !strings.Contains(stderr, "share the time") {
		t.Fatalf("%d lines, stderr %q", len(lines(out)), stderr)
	}
}
