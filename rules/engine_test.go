package rules

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/logparse"
)

// fakeAlerter records the alerts it is handed.
type fakeAlerter struct {
	mu     sync.Mutex
	alerts []Alert
}

func (f *fakeAlerter) Alert(_ context.Context, a Alert) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts = append(f.alerts, a)
	return nil
}

// fakeClock is a settable wall clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// traceEngine builds an engine over one rule text whose actions are
// recorded as `rules test` prints them.
func traceEngine(t *testing.T, rules string, cfg Config) (*Engine, *[]string) {
	t.Helper()
	var out []string
	cfg.Files = []File{{Name: "t.conf", Data: []byte(rules)}}
	if cfg.Trace == nil {
		cfg.DryRun = true
		cfg.Trace = func(a Action) {
			if a.Kind == "echo" {
				out = append(out, a.Args)
				return
			}
			out = append(out, a.Kind+": "+a.Args)
		}
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, &out
}

func TestThreshold(t *testing.T) {
	rules := "#!watchpost clock log\n" +
		`'Failed password for .* from ([0-9.]+)' - - - 0 threshold 3 60s by $2 echo "brute force from $2"` + "\n"
	e, out := traceEngine(t, rules, Config{})
	base := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	feed := func(sec int, ip string) {
		e.Feed(context.Background(), "sshd[1]: Failed password for root from "+ip+" port 22", base.Add(time.Duration(sec)*time.Second))
	}
	feed(0, "10.0.0.1")
	feed(10, "10.0.0.2")
	feed(20, "10.0.0.1")
	feed(70, "10.0.0.1") // the event at 0 slid out: 2 in the window
	feed(75, "10.0.0.1") // 20, 70, 75: fires
	feed(80, "10.0.0.1") // swallowed: within 60s of 20
	feed(81, "10.0.0.2")
	feed(90, "10.0.0.2") // 81, 90 and 10 is gone: no
	feed(85, "10.0.0.1")
	feed(140, "10.0.0.1") // window of 20 ended at 80: counting again, 1
	feed(141, "10.0.0.1")
	feed(142, "10.0.0.1") // fires again
	want := []string{"brute force from 10.0.0.1", "brute force from 10.0.0.1"}
	if strings.Join(*out, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", *out, want)
	}
}

func TestAlertReachesAlerter(t *testing.T) {
	rules := `'sshd\[[0-9]+\]: Accepted ([a-z]+) for ([^ ]+) from ([0-9.]+)' - - - 0` + "\n" +
		`	alert critical "root login from $4 via $2" user=$3 "note=$2 login" service=ssh` + "\n"
	fa := &fakeAlerter{}
	e, err := New(Config{Files: []File{{Name: "a.conf", Data: []byte(rules)}}, Alerter: fa})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	line := "Nov 22 08:00:00 web1 sshd[9]: Accepted password for root from 192.0.2.7 port 22 ssh2"
	e.Feed(context.Background(), line, at)
	if len(fa.alerts) != 1 {
		t.Fatalf("%d alerts, want 1", len(fa.alerts))
	}
	a := fa.alerts[0]
	if a.Severity != "critical" || a.Title != "root login from 192.0.2.7 via password" || a.Line != line {
		t.Errorf("alert %+v", a)
	}
	want := map[string]string{"user": "root", "note": "password login", "service": "ssh", "rule": "a.conf:1"}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, a.Labels[k], v)
		}
	}
}

func TestContextTimeouts(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	rules := `'open ([a-z]+)' - - - 0 open "ctx $2" - 0 10 0 echo "abs $2 $lines"` + "\n" +
		`'rel ([a-z]+)' - - - 0 open "ctx $2" - 0 0 5 echo "rel $2 $lines"` + "\n" +
		`'min ([a-z]+)' - - - 0 open "ctx $2" - 0 0 5 3 echo "min $2 $lines"` + "\n" +
		`'tmp' - - - 3 echo "temporary rule"` + "\n"
	e, out := traceEngine(t, rules, Config{Now: clk.now})
	step := func(d int, line string) {
		clk.t = clk.t.Add(time.Duration(d) * time.Second)
		if line == "" {
			e.Tick(clk.t)
			return
		}
		e.Feed(context.Background(), line, time.Time{})
	}
	step(0, "open a")
	step(0, "tmp")
	step(0, "rel b")
	step(0, "min c")
	step(4, "ctx b") // rel b extended to now+5
	step(0, "ctx a") // 2 lines in a
	step(4, "tmp")   // t0+8: the rule (t0+3) expired after "ctx b"; min c (1 line, t0+5) dropped silently
	step(3, "")      // t0+11: abs a (t0+10) and rel b (t0+9) fire, in creation order
	step(3, "")
	want := []string{"open: ctx a", "temporary rule", "open: ctx b", "open: ctx c", "abs a 2", "rel b 2"}
	got := strings.Join(*out, "\n")
	if got != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
}

// TestStateRoundTrip cuts every oracle run at every line, carries the state
// over to a new engine, and expects the very same output as one run.
func TestStateRoundTrip(t *testing.T) {
	for _, name := range []string{"basic", "contexts", "dynamic", "quoting", "regex", "report"} {
		conf, err := os.ReadFile(filepath.Join("testdata/oracles", name+".conf"))
		if err != nil {
			t.Fatal(err)
		}
		logData, err := os.ReadFile(filepath.Join("testdata/oracles", name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(logData), "\n")
		run := func(cut int) string {
			var out []string
			cfg := Config{Files: []File{{Name: name, Data: conf}}, DryRun: true,
				Trace: func(a Action) { out = append(out, a.Kind+": "+a.Args) }}
			e, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range lines {
				if i == cut {
					st, err := e.MarshalState()
					if err != nil {
						t.Fatal(err)
					}
					if e, err = New(cfg); err != nil {
						t.Fatal(err)
					}
					if err := e.UnmarshalState(st); err != nil {
						t.Fatalf("cut %d: %v", cut, err)
					}
				}
				if strings.HasSuffix(l, "\n") {
					e.Feed(context.Background(), strings.TrimSuffix(l, "\n"), time.Time{})
				}
			}
			return strings.Join(out, "\n")
		}
		want := run(-1)
		for cut := 0; cut < len(lines); cut++ {
			if got := run(cut); got != want {
				t.Errorf("%s cut at line %d:\n%s\nwant\n%s", name, cut, got, want)
			}
		}
	}
}

// TestExecArgv runs a real child in both modes: printf shows each argument
// it got on its own line.
func TestExecArgv(t *testing.T) {
	printf := peers.Require(t, "printf")["printf"]
	for _, mode := range []string{"safe", "compat"} {
		t.Run(mode, func(t *testing.T) {
			// "\\\\n": the rule file's quotes make it \\n, and logsurfer
			// reads the command line a second time, which makes it \n.
			rules := `'user (.*)$' - - - 0 exec "` + printf + ` [%s]\\\\n $2"` + "\n"
			if mode == "compat" {
				rules = "#!watchpost compat unsafe-substitution\n" + rules
			}
			dir := t.TempDir()
			rf := filepath.Join(dir, "r.conf")
			lf := filepath.Join(dir, "in.log")
			if err := os.WriteFile(rf, []byte(rules), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(lf, []byte("user a \"b c\" d\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if rc := Main(context.Background(), []string{"test", "-exec", "-rules", rf, lf}, &stdout, &stderr); rc != 0 {
				t.Fatalf("rc %d: %s", rc, stderr.String())
			}
			want := "[a \"b c\" d]\n"
			if mode == "compat" {
				want = "[a]\n[b c]\n[d]\n"
			}
			if stdout.String() != want {
				t.Errorf("got %q, want %q (stderr %s)", stdout.String(), want, stderr.String())
			}
		})
	}
}

func TestRulesTestPrintsActions(t *testing.T) {
	dir := t.TempDir()
	rf := filepath.Join(dir, "r.conf")
	rules := `'from ([0-9.]+)' - - - 0 continue exec "/usr/bin/logger -t x $2"` + "\n" +
		`'from ([0-9.]+)' - - - 0 continue syslog auth:warning "seen $2"` + "\n" +
		`'from ([0-9.]+)' - - - 0 continue pipe "/bin/cat"` + "\n" +
		`'from ([0-9.]+)' - - - 0 ignore` + "\n"
	if err := os.WriteFile(rf, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	old := os.Stdin
	r, w, _ := os.Pipe()
	os.Stdin = r
	defer func() { os.Stdin = old }()
	w.WriteString("x from 10.1.2.3\n")
	w.Close()
	if rc := Main(context.Background(), []string{"test", "-rules", rf, "-"}, &stdout, &stderr); rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr.String())
	}
	want := "exec: /usr/bin/logger -t x 10.1.2.3\nsyslog: auth:warning seen 10.1.2.3\npipe: /bin/cat\n"
	if stdout.String() != want {
		t.Errorf("got\n%s\nwant\n%s", stdout.String(), want)
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	os.WriteFile(good, []byte("'x' - - - 0 ignore\n"), 0o644)
	os.WriteFile(bad, []byte("'x' - - - 0 ignore\n'(' - - - 0 ignore\n"), 0o644)
	var stdout, stderr bytes.Buffer
	if rc := Main(context.Background(), []string{"check", good}, &stdout, &stderr); rc != 0 {
		t.Errorf("good: rc %d %s", rc, stderr.String())
	}
	stderr.Reset()
	if rc := Main(context.Background(), []string{"check", bad}, &stdout, &stderr); rc != 1 ||
		!strings.Contains(stderr.String(), "bad.conf:2: match regex") {
		t.Errorf("bad: rc %d %q", rc, stderr.String())
	}
}

func TestMetrics(t *testing.T) {
	set := metrics.NewSet()
	rules := "'a' - - - 0 rule top 'b' - - - 0 ignore\n'.*' - - - 0 ignore\n"
	e, err := New(Config{Files: []File{{Name: "m.conf", Data: []byte(rules)}}, Metrics: set,
		Now: func() time.Time { return time.Unix(1700000000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"a", "b", "c", "b"} {
		e.Feed(context.Background(), l, time.Time{})
	}
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, want := range []string{
		`watchpost_rule_hits_total{file="m.conf",line="1",kind="static"} 1`,
		`watchpost_rule_hits_total{file="m.conf",line="1",kind="dynamic"} 2`,
		`watchpost_rule_hits_total{file="m.conf",line="2",kind="static"} 1`,
		`watchpost_rule_last_hit_timestamp_seconds{file="m.conf",line="2",kind="static"} 1700000000`,
		`watchpost_rules_lines_total 4`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %s in\n%s", want, b.String())
		}
	}
}

func TestRender(t *testing.T) {
	ev := logparse.NewEvent()
	ev.Time = time.Date(2026, 11, 2, 8, 5, 9, 0, time.UTC)
	ev.Host, ev.Program, ev.PID, ev.Message = "web1", "sshd", "812", "Accepted publickey for alice"
	if got, want := Render(ev), "Nov  2 08:05:09 web1 sshd[812]: Accepted publickey for alice"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	ev.PID = ""
	if got, want := Render(ev), "Nov  2 08:05:09 web1 sshd: Accepted publickey for alice"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	ev.Program = ""
	if got, want := Render(ev), "Nov  2 08:05:09 web1 Accepted publickey for alice"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestDynamicRegexEscaped: log data that enters a new regex is escaped in
// safe mode, so a user name ".*" watches for itself, not for everything.
func TestDynamicRegexEscaped(t *testing.T) {
	rules := `'login ([^ ]+)' - - - 0 rule top "logout ($2)" - - - 0 echo "bye $2"` + "\n" +
		`'start ([^ ]+)' - - - 0 open "ctx $2" - 0 0 0 ignore` + "\n" +
		`'stop ([^ ]+)' - - - 0 delete "ctx $2"` + "\n"
	for _, mode := range []string{"safe", "compat"} {
		t.Run(mode, func(t *testing.T) {
			text := rules
			if mode == "compat" {
				text = "#!watchpost compat unsafe-substitution\n" + text
			}
			e, out := traceEngine(t, text, Config{})
			for _, l := range []string{"login .*", "logout bob", "logout .*", "start a.c", "stop a.c"} {
				e.Feed(context.Background(), l, time.Time{})
			}
			want := `rule: top 'logout (\.\*)' - - - 0 echo "bye $2"|bye .*|open: ctx a\.c|delete: ctx a\.c`
			if mode == "compat" {
				want = `rule: top 'logout (.*)' - - - 0 echo "bye $2"|bye bob|bye .*|open: ctx a.c|delete: ctx a.c`
			}
			if got := strings.Join(*out, "|"); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if n := len(e.surfers[0].byName); n != 0 {
				t.Errorf("%d contexts left, want 0", n)
			}
		})
	}
}

// TestClockLog replays a log whose timestamps are minutes apart in a
// moment: with "clock log" the contexts time out as they did when the log
// was written.
func TestClockLog(t *testing.T) {
	dir := t.TempDir()
	rf := filepath.Join(dir, "r.conf")
	lf := filepath.Join(dir, "in.log")
	rules := "#!watchpost clock log\n" +
		`'session opened for ([a-z]+)' - - - 0 open "for $2" - 0 0 60 echo "idle $2 after $lines lines"` + "\n"
	log := "Nov 22 08:00:00 h app[1]: session opened for alice\n" +
		"Nov 22 08:00:30 h app[1]: work for alice\n" +
		"Nov 22 08:05:00 h app[1]: session opened for bob\n" +
		"Nov 22 08:05:10 h app[1]: work for bob\n"
	os.WriteFile(rf, []byte(rules), 0o644)
	os.WriteFile(lf, []byte(log), 0o644)
	var stdout, stderr bytes.Buffer
	if rc := Main(context.Background(), []string{"test", "-exec", "-rules", rf, lf}, &stdout, &stderr); rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr.String())
	}
	if got, want := stdout.String(), "idle alice after 2 lines\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestFixtureSSHD runs the example rule file shipped in fixtures/rules.
func TestFixtureSSHD(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if rc := Main(context.Background(), []string{"check", "../fixtures/rules/sshd.conf"}, &stdout, &stderr); rc != 0 {
		t.Fatalf("check: %s", stderr.String())
	}
	stdout.Reset()
	if rc := Main(context.Background(), []string{"test", "-rules", "../fixtures/rules/sshd.conf",
		"../fixtures/rules/sshd.log"}, &stdout, &stderr); rc != 0 {
		t.Fatalf("test: %s", stderr.String())
	}
	want := `open: sshd\[1210\]:
alert: warning "ssh brute force from 203.0.113.7" rule=../fixtures/rules/sshd.conf:12 service=ssh user=test
alert: critical "root login from 198.51.100.23" rule=../fixtures/rules/sshd.conf:16 service=ssh
open: sshd\[1220\]:
delete: sshd\[1220\]:
idle ssh session of alice (2 lines)
`
	if stdout.String() != want {
		t.Errorf("got\n%s\nwant\n%s", stdout.String(), want)
	}
}

func TestLimits(t *testing.T) {
	rules := `'open ([a-z]+)' - - - 0 open "ctx $2" - 0 0 0 ignore` + "\n" +
		`'rule ([a-z]+)' - - - 0 rule top "x $2" - - - 0 ignore` + "\n"
	e, _ := traceEngine(t, rules, Config{MaxContexts: 2, MaxDynamicRules: 1})
	for _, l := range []string{"open a", "open b", "open c", "rule a", "rule b"} {
		e.Feed(context.Background(), l, time.Time{})
	}
	if n := len(e.surfers[0].byName); n != 2 {
		t.Errorf("%d contexts, want 2", n)
	}
	if n := e.surfers[0].dynamic; n != 1 {
		t.Errorf("%d dynamic rules, want 1", n)
	}
}

// TestHandWrittenContextName: a context opened from log data is named with
// the data escaped (safe mode), and a name written by hand as logsurfer
// would have it still reaches it — in both modes, and after a restart.
func TestHandWrittenContextName(t *testing.T) {
	rules := `'connect from ([^ ]+)\[' - - - 0 open "from $2\\[" - 0 0 0 ignore
'kill one' - - - 0 delete "from gw.example.org\\["
`
	for _, compat := range []bool{false, true} {
		text := rules
		if compat {
			text = "#!watchpost compat unsafe-substitution\n" + rules
		}
		e, _ := traceEngine(t, text, Config{})
		e.Feed(context.Background(), "smtpd: connect from gw.example.org[192.0.2.1]", time.Time{})
		e.Feed(context.Background(), "smtpd: connect from other.example.org[192.0.2.2]", time.Time{})
		s := e.surfers[0]
		want := `from gw\.example\.org\[`
		if compat {
			want = `from gw.example.org\[`
		}
		if s.byName[want] == nil {
			t.Fatalf("compat=%v: no context %q: %v", compat, want, s.byName)
		}
		// A restart keeps the name it is known by.
		st, err := e.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		e2, _ := traceEngine(t, text, Config{})
		if err := e2.UnmarshalState(st); err != nil {
			t.Fatal(err)
		}
		e2.Feed(context.Background(), "kill one", time.Time{})
		if n := len(e2.surfers[0].byName); n != 1 {
			t.Errorf("compat=%v: %d contexts after the hand-written delete, want 1", compat, n)
		}
	}
}
