// Package e2e holds the end-to-end tests: they build the real watchpost
// binary and run it as a process against real peers on loopback.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"github.com/watchpost/watchpost/internal/peers"
	"golang.org/x/crypto/bcrypt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "watchpost-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "watchpost")
	build := exec.Command("go", "build", "-o", binary, "../cmd/watchpost")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build watchpost: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		// syslog listens on UDP too: the port must be free there as well.
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		pc.Close()
		return port
	}
	t.Fatal("no free port")
	return 0
}

// syncBuffer is a bytes.Buffer safe for a process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// loghost is a running `watchpost serve`.
type loghost struct {
	t      testing.TB
	cmd    *exec.Cmd
	out    *syncBuffer
	base   string
	done   chan struct{}
	exitMu sync.Mutex
}

type loghostConfig struct {
	dir        string
	httpPort   int
	syslogPort int
	extra      string // more YAML appended to the config
	// adminUser adds the dashboard user admin / "correct horse" (see
	// submitLogin).
	adminUser bool
}

func (c loghostConfig) write(t testing.TB) string {
	t.Helper()
	path := filepath.Join(c.dir, "watchpost.yml")
	users := ""
	if c.adminUser {
		hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		users = fmt.Sprintf("  users:\n    - {name: admin, password_hash: '%s'}\n", hash)
	}
	y := fmt.Sprintf(`server:
  listen: 127.0.0.1:%d
  syslog_listen: 127.0.0.1:%d
  admin_token: e2e-admin-token-0123
%sstorage:
  path: %s
hosts:
  web1: {token: token-web1}
  db1: {tokens: [token-db1, token-db1-old]}
self:
  enabled: false
%s`, c.httpPort, c.syslogPort, users, filepath.Join(c.dir, "watchpost.db"), c.extra)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startProc starts the binary in its own process group, its output
// gathered; done closes when it exits.
func startProc(t testing.TB, args ...string) (*exec.Cmd, *syncBuffer, chan struct{}) {
	t.Helper()
	return startBinary(t, binary, nil, args...)
}

// startBinary is startProc for another build of the binary, with more
// environment variables.
func startBinary(t testing.TB, bin string, env []string, args ...string) (*exec.Cmd, *syncBuffer, chan struct{}) {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	return cmd, out, done
}

func startLoghost(t testing.TB, args ...string) *loghost {
	t.Helper()
	cmd, out, done := startProc(t, append([]string{"serve"}, args...)...)
	l := &loghost{t: t, cmd: cmd, out: out, done: done}
	t.Cleanup(func() { l.kill() })
	return l
}

func (l *loghost) waitReady(base string) {
	l.t.Helper()
	l.base = base
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-l.done:
			l.t.Fatalf("loghost exited early:\n%s", l.out.String())
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.t.Fatalf("loghost not ready at %s:\n%s", base, l.out.String())
}

func (l *loghost) kill() {
	if l.cmd.Process != nil {
		syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-l.done
}

func (l *loghost) stop() {
	l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.done:
	case <-time.After(30 * time.Second):
		l.t.Errorf("loghost did not stop on SIGTERM:\n%s", l.out.String())
		l.kill()
	}
}

// run runs the binary to completion.
func run(t testing.TB, ctx context.Context, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary, args...)
	var o, e bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			t.Fatal(err)
		}
	}
	return o.String(), e.String(), code
}

// submitLogin fills the dashboard's sign-in form on the page the browser
// shows with the adminUser credentials and sends it.
func submitLogin(b *peers.Browser) {
	b.Eval(`document.querySelector("input[name=user]").value = "admin"; document.querySelector("input[name=password]").value = "correct horse"; document.querySelector("form").submit(); true`)
}
