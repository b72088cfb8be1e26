package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/internal/readme"
)

// tourCheck says what one command of the README's tour promises.
type tourCheck func(t *testing.T, stdout, stderr string, rc int)

func wantRC0(t *testing.T, stdout, stderr string, rc int) {
	t.Helper()
	if rc != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", rc, stdout, stderr)
	}
}

func wantLine(re string) tourCheck {
	return func(t *testing.T, stdout, stderr string, rc int) {
		t.Helper()
		wantRC0(t, stdout, stderr, rc)
		if !regexp.MustCompile("(?m)" + re).MatchString(stdout) {
			t.Fatalf("no line matches %s in:\n%s\nstderr:\n%s", re, stdout, stderr)
		}
	}
}

// tourChecks holds a check for every command of the tour, by its text: a
// tour command without one fails the test, so the README cannot change
// without this test following it.
var tourChecks = map[string]tourCheck{
	`logger --rfc5424 --octet-count -T -n 127.0.0.1 -P 5514 -t demo "hello loghost"`:                               wantRC0,
	`logger -n 127.0.0.1 -P 5514 -t sshd -p auth.warning "Failed password for root from 203.0.113.9 port 22 ssh2"`: wantRC0,
	// As rsyslog writes it: "Dec  7 07:17:54 host demo: hello loghost".
	`./watchpost grep hello`:                                    wantLine(`^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ demo(\[\d+\])?: hello loghost$`),
	`./watchpost grep program=sshd "Failed password" -since 2h`: wantLine(`^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ sshd(\[\d+\])?: Failed password for root from 203\.0\.113\.9 port 22 ssh2$`),
	`./watchpost grep -since 2h severity=..warning -demo`: func(t *testing.T, stdout, stderr string, rc int) {
		wantLine(`sshd(\[\d+\])?: Failed password for root`)(t, stdout, stderr, rc)
		if strings.Contains(stdout, "demo") {
			t.Fatalf("-demo did not leave out the demo lines:\n%s", stdout)
		}
	},
	`./watchpost grep -server http://127.0.0.1:8080 -token-file watchpost-data/admin.token -n 50 "Failed password"`: wantLine(`sshd(\[\d+\])?: Failed password for root from 203\.0\.113\.9`),
	`./watchpost grep -o json program=demo`: func(t *testing.T, stdout, stderr string, rc int) {
		wantRC0(t, stdout, stderr, rc)
		for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil || ev["program"] != "demo" || ev["message"] != "hello loghost" {
				t.Fatalf("not a demo event: %s (%v)", l, err)
			}
		}
	},
	`printf '%s\n' '203.0.113.5 - - [07/Dec/2026:07:20:11 +0000] "GET /wiki/Main HTTP/1.1" 502 157 "-" "curl/8.5"' > access.log`: wantRC0,
	`./watchpost collect -once -journal=false -state collector-state -server http://127.0.0.1:8080 -token-file watchpost-data/collector.token -file 'access.log,format=combined,site=wiki.example.org'`: func(t *testing.T, stdout, stderr string, rc int) {
		wantRC0(t, stdout, stderr, rc)
		if !strings.Contains(stderr, "the loghost files this host's data") {
			t.Fatalf("the collector does not say where its data went:\n%s", stderr)
		}
	},
	`./watchpost grep status=500.. site=wiki.example.org`:                     wantLine(`:203\.0\.113\.5 - - \[07/Dec/2026:07:20:11 \+0000\] "GET /wiki/Main HTTP/1\.1" 502 157`),
	`./watchpost check http http://127.0.0.1:8080/healthz -c 'status == 200'`: wantLine(`^OK - .*status 200`),
	`echo 'correct horse battery staple' | ./watchpost user hash`:             wantLine(`^\$2[aby]\$\d\d\$.{53}$`),
}

// tourShell runs commands in the tour's folder: inside a network namespace
// of their own when the test runs as root (the tour's fixed ports cannot
// meet another test's), directly otherwise.
type tourShell struct {
	dir    string
	holder *exec.Cmd // keeps the namespace alive
}

func (s *tourShell) command(ctx context.Context, script string) *exec.Cmd {
	var cmd *exec.Cmd
	if s.holder != nil {
		cmd = exec.CommandContext(ctx, "nsenter", "-t", fmt.Sprint(s.holder.Process.Pid), "-n", "--", "bash", "-c", script)
	} else {
		cmd = exec.CommandContext(ctx, "bash", "-c", script)
	}
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "HOME="+s.dir)
	return cmd
}

func (s *tourShell) run(t *testing.T, script string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := s.command(ctx, script)
	var o, e syncBuffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return o.String(), e.String(), rc
}

// tourCommands are the README's set-up and tour commands, in order.
func tourCommands(t *testing.T) (build string, cmds []string, banner string) {
	t.Helper()
	blocks, err := readme.Blocks("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range blocks {
		if b.Section != "Set up" && b.Section != "A five-minute tour" {
			continue
		}
		if !b.IsShell() {
			if b.Section == "A five-minute tour" && strings.HasPrefix(b.Text, "Watchpost loghost is running.") {
				banner = b.Text
			}
			continue
		}
		for _, l := range strings.Split(strings.TrimSpace(b.Text), "\n") {
			if b.Section == "Set up" && i >= 0 {
				build = l
				continue
			}
			cmds = append(cmds, l)
		}
	}
	return build, cmds, banner
}

// TestReadmeTour runs the README's set-up and tour commands in order in a
// fresh folder and checks what each promises: the loghost starts on its
// defaults and prints the banner the README shows; syslog sent with
// logger arrives and shows as rsyslog writes it; each grep finds what it
// says, locally and through the API; the collector ships an access log;
// the check and the password hash work; Ctrl-C stops the loghost.
func TestReadmeTour(t *testing.T) {
	peers.Require(t, "logger")
	build, cmds, banner := tourCommands(t)
	// The build is the one this package's TestMain ran.
	if build != "CGO_ENABLED=1 go build -o watchpost ./cmd/watchpost" {
		t.Fatalf("the README's build command %q is not the one e2e builds with", build)
	}
	if len(cmds) < 8 || cmds[0] != "./watchpost serve" {
		t.Fatalf("the tour should start the loghost first: %q", cmds)
	}
	s := &tourShell{dir: t.TempDir()}
	if os.Geteuid() == 0 {
		peers.Require(t, "unshare", "nsenter", "ip")
		s.holder = exec.Command("unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec sleep 3600")
		if err := s.holder.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.holder.Process.Kill(); s.holder.Wait() })
		time.Sleep(200 * time.Millisecond)
	} else {
		for _, a := range []string{"127.0.0.1:8080", "127.0.0.1:5514"} {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				t.Skipf("the tour's port %s is taken here (as root it runs in its own network namespace)", a)
			}
			ln.Close()
		}
	}
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.dir, "watchpost"), b, 0o755)

	// 1. The loghost, in "a second terminal".
	serve := s.command(context.Background(), "exec "+cmds[0])
	out := &syncBuffer{}
	serve.Stdout, serve.Stderr = out, out
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	t.Cleanup(func() { serve.Process.Kill() })
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, _, rc := s.run(t, "./watchpost healthcheck -url http://127.0.0.1:8080/healthz"); rc == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loghost did not start:\n%s", out.String())
		}
	}
	// The banner as the README shows it, but for the folder and tokens.
	for _, l := range strings.Split(banner, "\n") {
		label, _, _ := strings.Cut(l, ": ")
		if l == "" || l == "..." {
			continue
		}
		want := l
		if strings.Contains(l, "/home/you/") || strings.Contains(l, "new ") && strings.Contains(l, "token:") {
			want = label + ": "
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("the banner lacks %q:\n%s", want, out.String())
		}
	}

	// Its hints name the binary the way it was started, not a "watchpost"
	// that is not on the PATH.
	if !strings.Contains(out.String(), "  ./watchpost grep -data ") || !strings.Contains(out.String(), "  ./watchpost collect -server ") {
		t.Errorf("the banner's hints do not call ./watchpost:\n%s", out.String())
	}
	for _, c := range cmds[1:] {
		check, ok := tourChecks[c]
		if !ok {
			t.Fatalf("the tour's command %q has no check in e2e/tour_test.go", c)
		}
		// Let what was sent arrive before it is searched for.
		if strings.Contains(c, "watchpost grep") {
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
				if _, _, rc := s.run(t, c); rc == 0 {
					break
				}
			}
		}
		t.Run(c, func(t *testing.T) {
			stdout, stderr, rc := s.run(t, c)
			check(t, stdout, stderr, rc)
		})
	}
	// Ctrl-C stops it cleanly.
	serve.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the loghost did not exit cleanly on Ctrl-C: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("the loghost did not stop on Ctrl-C:\n%s", out.String())
	}
}
