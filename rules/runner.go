package rules

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// runner starts the children of exec, pipe and report: no shell, no PATH
// lookup, a time limit each, and never a wait in the line pipeline (a child
// that cannot start at once because too many run is dropped and counted).
type runner struct {
	timeout time.Duration
	sem     chan struct{}
	stdout  io.Writer
	stderr  io.Writer
	log     *slog.Logger
	m       *engineMetrics
	wg      sync.WaitGroup
}

func newRunner(timeout time.Duration, max int, stdout, stderr io.Writer, log *slog.Logger, m *engineMetrics) *runner {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	if max <= 0 {
		max = 16
	}
	return &runner{timeout: timeout, sem: make(chan struct{}, max), stdout: stdout, stderr: stderr, log: log, m: m}
}

func (r *runner) start(argv []string, stdin []byte, src string) {
	select {
	case r.sem <- struct{}{}:
	default:
		r.m.execDropped.Inc()
		r.log.Warn("rules: too many children running, command dropped", "rule", src, "cmd", argv[0])
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer func() { <-r.sem }()
		ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Args = argv
		// Children always get a stdin: logsurfer's exec children inherit
		// its stdin, but ours must not read the loghost's.
		cmd.Stdin = bytes.NewReader(stdin)
		if r.stdout != nil {
			cmd.Stdout = childStdout(r.stdout)
		}
		cmd.Stderr = r.stderr
		cmd.WaitDelay = time.Second
		r.m.execs.Inc()
		if err := cmd.Run(); err != nil {
			r.m.execErrors.Inc()
			r.log.Warn("rules: command failed", "rule", src, "cmd", argv[0], "err", err)
		}
	}()
}

// wait waits for running children until ctx ends.
func (r *runner) wait(ctx context.Context) {
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
