package peers

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLookup(t *testing.T) {
	t.Setenv("PATH", "/bin:/usr/bin")
	tests := []struct {
		program string
		found   bool
		want    string // expected path when found; empty: any
	}{
		{"sh", true, ""},
		{"/bin/sh", true, "/bin/sh"},
		{"nologin", true, ""}, // /usr/sbin: not on the PATH above
		{"watchpost-no-such-program", false, ""},
		{"/etc/passwd", false, ""}, // not executable
		{"/nonexistent/sh", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.program, func(t *testing.T) {
			got, ok := Lookup(tt.program)
			if ok != tt.found {
				t.Fatalf("Lookup(%q) found=%v (%q), want %v", tt.program, ok, got, tt.found)
			}
			if ok && !filepath.IsAbs(got) {
				t.Errorf("Lookup(%q) = %q, want an absolute path", tt.program, got)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("Lookup(%q) = %q, want %q", tt.program, got, tt.want)
			}
		})
	}
}

func TestDebianPackage(t *testing.T) {
	tests := map[string]string{
		"rsyslogd":                    "rsyslog",
		"logger":                      "bsdutils",
		"check_http":                  "monitoring-plugins-basic",
		"/usr/lib/cgi-bin/awstats.pl": "awstats",
		"nsd":                         "nsd",
		"smtp-sink":                   "postfix",
		"drill":                       "ldnsutils",
		"systemd-journal-remote":      "systemd-journal-remote",
	}
	for prog, want := range tests {
		if got := DebianPackage(prog); got != want {
			t.Errorf("DebianPackage(%q) = %q, want %q", prog, got, want)
		}
	}
}

func TestRequire(t *testing.T) {
	tests := []struct {
		name       string
		ci         string
		programs   []string
		wantSkip   bool
		wantFail   bool
		wantInMsgs []string
	}{
		{name: "present", programs: []string{"sh", "sleep"}},
		{name: "missing on a laptop skips", programs: []string{"sh", "rsyslogd-missing", "check_missing"},
			wantSkip: true, wantInMsgs: []string{"rsyslogd-missing", "check_missing", "monitoring-plugins-basic"}},
		{name: "missing under CI fails", ci: "true", programs: []string{"logger-missing"},
			wantFail: true, wantInMsgs: []string{"logger-missing", "CI=true"}},
		{name: "CI other than true skips", ci: "1", programs: []string{"nsd-missing"}, wantSkip: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			f := &fakeTB{}
			var got map[string]string
			f.run(func(tb testing.TB) { got = Require(tb, tt.programs...) })
			if f.skipped != tt.wantSkip || f.failed != tt.wantFail {
				t.Fatalf("skipped=%v failed=%v, want %v %v; messages: %s", f.skipped, f.failed, tt.wantSkip, tt.wantFail, f.text())
			}
			for _, s := range tt.wantInMsgs {
				if !strings.Contains(f.text(), s) {
					t.Errorf("message %q lacks %q", f.text(), s)
				}
			}
			if tt.wantSkip || tt.wantFail {
				return
			}
			for _, p := range tt.programs {
				if !filepath.IsAbs(got[p]) {
					t.Errorf("Require: %s -> %q, want an absolute path", p, got[p])
				}
			}
		})
	}
}

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	l, err := net.Listen("tcp", Addr(port))
	if err != nil {
		t.Fatalf("tcp on the free port: %v", err)
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", Addr(port))
	if err != nil {
		t.Fatalf("udp on the free port: %v", err)
	}
	u.Close()
}

func TestStartCapturesOutputAndStops(t *testing.T) {
	p := Start(t, "sh", "-c", "echo hello; echo oops >&2; exec sleep 60")
	Eventually(t, 10*time.Second, func() bool {
		out := p.Output()
		return strings.Contains(out, "hello") && strings.Contains(out, "oops")
	})
	if err := p.Err(); err != nil {
		t.Fatalf("Err while running = %v, want nil", err)
	}
	err := p.Stop()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("Stop = %v, want an exit error from SIGTERM", err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if err2 := p.Stop(); err2 != err {
		t.Errorf("second Stop = %v, want %v", err2, err)
	}
}

func TestStopKillsProcessGroup(t *testing.T) {
	// The shell ignores nothing, but its child is a separate process that a
	// kill of the leader alone would leave running.
	p := Start(t, "sh", "-c", "sleep 60 & echo child=$!; wait")
	var child int
	Eventually(t, 10*time.Second, func() bool {
		_, after, ok := strings.Cut(p.Output(), "child=")
		if !ok {
			return false
		}
		n, err := strconv.Atoi(strings.TrimSpace(after))
		child = n
		return err == nil
	})
	p.Stop()
	Eventually(t, 10*time.Second, func() bool { return !running(child) })
}

// running reports whether pid exists and is not a zombie (an orphan may wait
// for a PID 1 that never reaps it).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

func TestCleanupStopsAndShowsOutputOnFailure(t *testing.T) {
	tests := []struct {
		name       string
		testFailed bool
	}{
		{"passed test stays quiet", false},
		{"failed test shows output", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTB{}
			var p *Process
			f.run(func(tb testing.TB) {
				p = Start(tb, "sh", "-c", "printf 'marker\\033[31m\\n'; exec sleep 60")
			})
			if p == nil {
				t.Fatalf("Start failed: %s", f.text())
			}
			Eventually(t, 10*time.Second, func() bool { return strings.Contains(p.Output(), "marker") })
			f.failed = tt.testFailed
			f.finish()
			select {
			case <-p.Done():
			default:
				t.Fatal("cleanup left the peer running")
			}
			logged := f.text()
			if got := strings.Contains(logged, "marker"); got != tt.testFailed {
				t.Errorf("output logged = %v, want %v: %q", got, tt.testFailed, logged)
			}
			if strings.Contains(logged, "\033") {
				t.Errorf("escape character reached the log: %q", logged)
			}
		})
	}
}

func TestStartMissingProgramSkips(t *testing.T) {
	t.Setenv("CI", "")
	f := &fakeTB{}
	f.run(func(tb testing.TB) { Start(tb, "watchpost-no-such-peer") })
	if !f.skipped {
		t.Fatalf("want a skip, got: %s", f.text())
	}
}

// TestSignal uses SIGUSR1: a shell started with SIGHUP ignored (under
// nohup) cannot trap it.
func TestSignal(t *testing.T) {
	p := Start(t, "sh", "-c", `trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.05; done`)
	Eventually(t, 10*time.Second, func() bool { return strings.Contains(p.Output(), "ready") })
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 10*time.Second, func() bool { return strings.Contains(p.Output(), "got-usr1") })
	p.Stop()
	if err := p.Signal(syscall.SIGHUP); err == nil {
		t.Error("Signal after exit = nil, want an error")
	}
}

func TestProcessWaitTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := Start(t, "sleep", "60")
	p.WaitTCP(l.Addr().String(), 10*time.Second)
}

func TestProcessWaitTCPPeerDies(t *testing.T) {
	closed := Addr(FreePort(t))
	f := &fakeTB{}
	start := time.Now()
	f.run(func(tb testing.TB) {
		p := Start(tb, "sh", "-c", "echo cannot-bind; exit 3")
		p.WaitTCP(closed, time.Minute)
	})
	f.finish()
	if !f.failed {
		t.Fatal("WaitTCP on a dead peer did not fail")
	}
	if !strings.Contains(f.text(), "cannot-bind") || !strings.Contains(f.text(), "exit status 3") {
		t.Errorf("failure lacks the peer's output and status: %s", f.text())
	}
	// A logic check, not a timing assertion: waiting the whole minute would
	// mean the exit went unnoticed.
	if time.Since(start) > 30*time.Second {
		t.Error("WaitTCP waited for the timeout instead of noticing the exit")
	}
}

func TestWaitTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	WaitTCP(t, l.Addr().String(), 10*time.Second)

	closed := Addr(FreePort(t))
	f := &fakeTB{}
	f.run(func(tb testing.TB) { WaitTCP(tb, closed, 50*time.Millisecond) })
	if !f.failed || !strings.Contains(f.text(), closed) {
		t.Errorf("WaitTCP on a closed port: failed=%v, %s", f.failed, f.text())
	}
}

func TestEventually(t *testing.T) {
	calls := 0
	Eventually(t, 10*time.Second, func() bool { calls++; return calls == 5 })
	if calls != 5 {
		t.Errorf("cond called %d times, want 5", calls)
	}

	f := &fakeTB{}
	f.run(func(tb testing.TB) { Eventually(tb, 30*time.Millisecond, func() bool { return false }) })
	if !f.failed {
		t.Error("Eventually on a false condition did not fail")
	}
}

func TestLogsurferBuilds(t *testing.T) {
	p := Logsurfer(t, true)
	if !isExecutable(p) {
		t.Fatalf("%s is not executable", p)
	}
}
