package rules

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Command is one child an exec, pipe or report action starts: argv[0] is
// an absolute path, run with no shell and no PATH lookup; Stdin is what it
// reads (the line for pipe, the contexts' lines for report, nothing for
// exec).
type Command struct {
	Kind  string   `json:"kind"` // exec, pipe or report
	Argv  []string `json:"argv"`
	Stdin []byte   `json:"stdin,omitempty"`
	Src   string   `json:"src"` // FILE:LINE of the rule (or of the rule that opened the context)
}

// runner runs commands as logsurfer does — every one of them — but at most
// max at once: the others wait their turn in a queue, in order. When the
// queue holds maxQueue commands, start waits (the caller is reading input:
// reading slows down instead of anything being dropped).
type runner struct {
	timeout  time.Duration
	max      int
	maxQueue int
	jobs     chan job // made on the first command: most engines start none
	// onDone, when set, hears of every command with an ID that ran (or
	// failed to); cancelled commands are not counted as dropped then
	// (they stay in the durable queue).
	onDone func(id int64)
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	m      *engineMetrics
	wg     sync.WaitGroup
	mu     sync.RWMutex // closed; held shared while a command is queued
	closed bool
}

type job struct {
	Command
	id int64
}

func newRunner(timeout time.Duration, max, maxQueue int, stdout, stderr io.Writer, log *slog.Logger, m *engineMetrics) *runner {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if max <= 0 {
		max = 32
	}
	if maxQueue <= 0 {
		maxQueue = 10_000
	}
	return &runner{timeout: timeout, max: max, maxQueue: maxQueue, stdout: stdout, stderr: stderr, log: log, m: m}
}

// start queues c. It waits while the queue is full, and gives up (counting
// the command as not run) only when ctx ends.
func (r *runner) start(ctx context.Context, c Command) { r.startID(ctx, c, 0) }

// startID is start for a command of a durable queue.
func (r *runner) startID(ctx context.Context, c Command, id int64) {
	j := job{Command: c, id: id}
	r.mu.Lock()
	if r.jobs == nil && !r.closed {
		r.jobs = make(chan job, r.maxQueue)
		for range r.max {
			r.wg.Add(1)
			go r.work(r.jobs)
		}
	}
	r.mu.Unlock()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.m.execDropped.Inc()
		r.log.Warn("rules: command after the end of input; not run", "rule", c.Src, "cmd", c.Argv[0])
		return
	}
	select {
	case r.jobs <- j:
		return
	default:
	}
	r.m.execWaits.Inc()
	select {
	case r.jobs <- j:
	case <-ctx.Done():
		if r.onDone != nil {
			return // still queued durably: it runs after the restart
		}
		r.m.execDropped.Inc()
		r.log.Warn("rules: input ended while the command waited its turn; not run", "rule", c.Src, "cmd", c.Argv[0])
	}
}

func (r *runner) work(jobs <-chan job) {
	defer r.wg.Done()
	for j := range jobs {
		r.run(j.Command)
		if r.onDone != nil && j.id != 0 {
			r.onDone(j.id)
		}
	}
}

func (r *runner) run(c Command) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	newCmd := func() *exec.Cmd {
		cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
		cmd.Args = c.Argv
		// Children never read the loghost's stdin (logsurfer's exec
		// children inherit its own): exec's read /dev/null.
		if c.Stdin != nil {
			cmd.Stdin = bytes.NewReader(c.Stdin)
		}
		if r.stdout != nil {
			cmd.Stdout = childStdout(r.stdout)
		}
		cmd.Stderr = r.stderr
		// Output copied through a pipe (not to a file) may finish a
		// moment after the child on a busy machine.
		cmd.WaitDelay = 10 * time.Second
		return cmd
	}
	cmd := newCmd()
	r.m.execs.Inc()
	err := cmd.Start()
	// A busy machine can refuse a fork for a moment (EAGAIN): try again
	// rather than lose the action.
	for try := 1; err != nil && errors.Is(err, syscall.EAGAIN) && try <= 20; try++ {
		time.Sleep(time.Duration(try) * 10 * time.Millisecond)
		cmd = newCmd()
		err = cmd.Start()
	}
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		r.m.execErrors.Inc()
		r.log.Warn("rules: command failed", "rule", c.Src, "cmd", c.Argv[0], "err", err)
	}
}

// wait lets the queued commands run and waits for them until ctx ends.
// No command may be started after it.
func (r *runner) wait(ctx context.Context) {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		if r.jobs != nil {
			close(r.jobs)
		}
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// engineMetrics are the engine's own series; all nil-safe when no set is
// configured.
type engineMetrics struct {
	set         *metrics.Set
	lines       *metrics.Counter
	contexts    *metrics.Gauge
	alerts      *metrics.Counter
	alertErrors *metrics.Counter
	execs       *metrics.Counter
	execErrors  *metrics.Counter
	execDropped *metrics.Counter
	execWaits   *metrics.Counter
	dropped     *metrics.Counter
}

func newEngineMetrics(set *metrics.Set) *engineMetrics {
	if set == nil {
		set = metrics.NewSet() // private: counted but not exported
	}
	return &engineMetrics{
		set:         set,
		lines:       set.GetOrCreateCounter(`watchpost_rules_lines_total`),
		contexts:    set.GetOrCreateGauge(`watchpost_rules_contexts`, nil),
		alerts:      set.GetOrCreateCounter(`watchpost_rules_alerts_total`),
		alertErrors: set.GetOrCreateCounter(`watchpost_rules_alert_errors_total`),
		execs:       set.GetOrCreateCounter(`watchpost_rules_exec_total`),
		execErrors:  set.GetOrCreateCounter(`watchpost_rules_exec_errors_total`),
		execDropped: set.GetOrCreateCounter(`watchpost_rules_exec_dropped_total`),
		execWaits:   set.GetOrCreateCounter(`watchpost_rules_exec_queue_full_total`),
		dropped:     set.GetOrCreateCounter(`watchpost_rules_limit_dropped_total`),
	}
}

// ruleMetrics are one rule's hit count and last-hit time. Dynamic rules
// count under the rule line that created them, with kind="dynamic".
type ruleMetrics struct {
	hits *metrics.Counter
	last *metrics.Gauge
}

func (m *engineMetrics) rule(file string, line int, dynamic bool) *ruleMetrics {
	kind := "static"
	if dynamic {
		kind = "dynamic"
	}
	labels := fmt.Sprintf(`{file=%q,line="%d",kind=%q}`, file, line, kind)
	return &ruleMetrics{
		hits: m.set.GetOrCreateCounter(`watchpost_rule_hits_total` + labels),
		last: m.set.GetOrCreateGauge(`watchpost_rule_last_hit_timestamp_seconds`+labels, nil),
	}
}

func (r *ruleMetrics) hit(at time.Time) {
	r.hits.Inc()
	r.last.Set(float64(at.Unix()))
}
