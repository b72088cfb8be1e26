package rules

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// QueuedCommand is a command waiting in a durable queue.
type QueuedCommand struct {
	ID int64
	Command
}

// CommandQueue is where the loghost keeps the commands its rules made until
// they have run: written in the transaction that commits the batch that
// made them, removed once they ran. A restart runs what is left (a command
// that was running when the loghost stopped runs again: at least once).
type CommandQueue interface {
	// Next returns up to n commands with an ID over after, in ID order.
	Next(ctx context.Context, after int64, n int) ([]QueuedCommand, error)
	// Done removes commands that ran.
	Done(ctx context.Context, ids []int64) error
}

// Executor runs the commands of a CommandQueue in order, at most max at
// once, each within a time limit.
type Executor struct {
	q       CommandQueue
	run     *runner
	log     *slog.Logger
	wake    chan struct{}
	mu      sync.Mutex
	done    []int64
	started *metrics.Counter
}

// ExecutorConfig configures an Executor.
type ExecutorConfig struct {
	MaxChildren int           // default 32
	Timeout     time.Duration // per command; default 60s
	Logger      *slog.Logger
	Metrics     *metrics.Set
}

// NewExecutor returns an executor over q; Run runs it.
func NewExecutor(q CommandQueue, cfg ExecutorConfig) *Executor {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := newEngineMetrics(cfg.Metrics)
	x := &Executor{q: q, log: cfg.Logger, wake: make(chan struct{}, 1),
		started: m.set.GetOrCreateCounter(`watchpost_rules_commands_started_total`)}
	// The runner's queue is short: the durable queue is the real one.
	x.run = newRunner(cfg.Timeout, cfg.MaxChildren, 1, nil, nil, cfg.Logger, m)
	x.run.onDone = x.finished
	return x
}

// Wake tells the executor that commands were committed.
func (x *Executor) Wake() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

func (x *Executor) finished(id int64) {
	x.mu.Lock()
	x.done = append(x.done, id)
	x.mu.Unlock()
}

// flush removes the commands that ran from the queue.
func (x *Executor) flush(ctx context.Context) {
	x.mu.Lock()
	ids := x.done
	x.done = nil
	x.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := x.q.Done(ctx, ids); err != nil {
		x.log.Warn("rules: could not mark commands done; they will run again after a restart", "err", err)
	}
}

// Run runs queued commands until ctx ends, then waits (up to their time
// limits) for those running.
func (x *Executor) Run(ctx context.Context) {
	var last int64
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	defer func() {
		// Those still running after a few seconds stay queued and run
		// again after the restart.
		wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		x.run.wait(wctx)
		x.flush(wctx)
	}()
	for ctx.Err() == nil {
		batch, err := x.q.Next(ctx, last, 64)
		if err != nil && ctx.Err() == nil {
			x.log.Warn("rules: read the command queue", "err", err)
		}
		for _, c := range batch {
			last = c.ID
			if len(c.Argv) == 0 {
				x.finished(c.ID)
				continue
			}
			x.started.Inc()
			x.run.startID(ctx, c.Command, c.ID)
		}
		x.flush(ctx)
		if len(batch) == 64 {
			continue
		}
		select {
		case <-ctx.Done():
		case <-x.wake:
		case <-tick.C:
		}
	}
}
