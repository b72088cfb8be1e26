package peers

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a peer gets after SIGTERM to flush and exit before
// its process group is killed.
const stopGrace = 5 * time.Second

// Process is a peer running in the foreground in its own process group, with
// stdout and stderr captured together.
type Process struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  *capture
	done chan struct{}
	err  error // set before done is closed

	stopOnce sync.Once
}

// Start runs program (looked up as Require does: missing means skip, or
// fail under CI=true) with args. The test's cleanup stops it; when the test
// failed, the cleanup logs everything the peer printed.
func Start(t testing.TB, program string, args ...string) *Process {
	t.Helper()
	path := Require(t, program)[program]
	return StartCmd(t, exec.Command(path, args...))
}

// StartCmd is Start for a command the caller prepared (Dir, Env, Stdin).
// Stdout, Stderr and SysProcAttr must be left unset: Process owns them.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	if cmd.Stdout != nil || cmd.Stderr != nil || cmd.SysProcAttr != nil {
		t.Fatalf("peers.StartCmd %s: Stdout, Stderr and SysProcAttr must be unset", cmd.Path)
	}
	p := &Process{
		t:    t,
		name: cmd.Path,
		cmd:  cmd,
		out:  newCapture(maxCapture),
		done: make(chan struct{}),
	}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	// Its own group, so that stopping it also stops the children a peer
	// forks (nsd's workers, postfix's master, a shell's commands).
	// Pdeathsig covers what cleanup cannot: a test binary killed by
	// -timeout or ^C would otherwise leave the peer holding its port. (It
	// fires when the forking OS thread exits, which Go only does for a
	// goroutine that exits while locked to its thread.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start peer %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		err := p.Stop()
		if t.Failed() {
			t.Logf("peer %s (pid %d) exited with %v; its output:\n%s", p.name, p.PID(), err, p.Output())
		}
	})
	return p
}

// PID is the peer's process ID, which is also its process group ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Output returns what the peer printed so far (stdout and stderr
// interleaved), with control characters escaped and at most the last
// 1 MiB.
func (p *Process) Output() string { return Printable(p.out.String()) }

// Done is closed when the peer has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the peer's exit status once Done is closed (nil for exit 0).
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Signal sends sig to the peer's main process only (SIGHUP to reload, say).
func (p *Process) Signal(sig os.Signal) error {
	select {
	case <-p.done:
		return errors.New("peer already exited")
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal peer: %w", err)
	}
	return nil
}

// Stop sends SIGTERM to the peer's process group, kills the group if the
// peer is still running after a grace period, and waits for it. It is safe
// to call more than once; the test's cleanup calls it too. The result is the
// peer's exit status (an *exec.ExitError when killed by our signal).
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		pgid := p.PID()
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(stopGrace):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-p.done
			}
		}
		// The leader is gone; children that ignored SIGTERM (or were
		// forked after it) must not outlive the test.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
	<-p.done
	return p.err
}

// WaitTCP waits until addr accepts connections, like the package's WaitTCP,
// but fails at once, with the peer's output, if the peer exits first.
func (p *Process) WaitTCP(addr string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if dialOK(addr) {
			return
		}
		select {
		case <-p.done:
			p.t.Fatalf("peer %s exited (%v) before %s accepted connections; its output:\n%s",
				p.name, p.err, addr, p.Output())
			return
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("peer %s: %s not accepting connections after %v; its output:\n%s",
				p.name, addr, timeout, p.Output())
			return
		}
		time.Sleep(pollInterval)
	}
}
