package collector

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// FileConfig is one file or glob to follow.
type FileConfig struct {
	Path   string // a path or a glob; new matches are picked up on rescan
	Format string // parser hint for the loghost ("" detects)
	Site   string // web-statistics site of an access log
	// Multiline, when set, starts an event; lines not matching it
	// continue the previous one (stack traces).
	Multiline        string
	MultilineMax     int           // bytes per event (64 KiB)
	MultilineTimeout time.Duration // an open event is complete after this quiet (2 s)
}

// Config configures a Runner.
type Config struct {
	Files   []FileConfig
	Journal bool
	// JournalCommand is journalctl with any fixed arguments (default
	// {"journalctl"}); tests point it at a journal file.
	JournalCommand  []string
	JournalNoFollow bool // read what is there and stop (tests)
	// FromStart reads a journal with no checkpoint from its start rather
	// than from now.
	FromStart bool
	// Once reads every source to its current end, ships, and returns.
	Once     bool
	StateDir string // where the checkpoint file lives
	Location *time.Location

	Poll        time.Duration // sweep of every file without inotify (250 ms; 1 s with it)
	RotateQuiet time.Duration // a deleted file is read until quiet this long (1 s)
	RotateWait  time.Duration // a file renamed out of every pattern, until quiet this long (5 min)
	Rescan      time.Duration // globs are expanded again this often with inotify (10 s)
	NoInotify   bool          // poll only, as where inotify is missing (tests)
	BatchLines  int           // lines per batch (4,096)
	BatchBytes  int           // bytes per batch (2 MiB)
	BatchDelay  time.Duration // the longest a line waits for its batch to fill (200 ms)
	MaxLine     int           // longer lines are cut, the cut counted (256 KiB)
}

func (c *Config) defaults() {
	if len(c.JournalCommand) == 0 {
		c.JournalCommand = []string{"journalctl"}
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.Poll == 0 {
		c.Poll = 250 * time.Millisecond
	}
	if c.RotateQuiet == 0 {
		c.RotateQuiet = time.Second
	}
	if c.RotateWait == 0 {
		c.RotateWait = 5 * time.Minute
	}
	if c.Rescan == 0 {
		c.Rescan = 10 * time.Second
	}
	// Large batches: each is one request and one fsync on the loghost,
	// and only one is in flight (so a source's lines arrive in order).
	if c.BatchLines == 0 {
		c.BatchLines = 4096
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = 2 << 20
	}
	if c.BatchDelay == 0 {
		c.BatchDelay = 200 * time.Millisecond
	}
	if c.MaxLine == 0 {
		c.MaxLine = 256 << 10
	}
}

// Runner follows the configured sources and ships their lines through a
// sink, one batch at a time: while the sink fails, reading stops once a
// batch and a channel's worth are waiting, and the files are the buffer.
type Runner struct {
	cfg    Config
	sink   Sink
	now    func() time.Time
	logger *slog.Logger
	cpPath string

	mu  sync.Mutex
	cps map[string]checkpoint // acknowledged positions
	// finished: generations read to their end (or lost), by checkpoint
	// key: their checkpoint goes once acknowledged up to the offset.
	finished map[string]int64

	started time.Time
	set     *metrics.Set
	// The checkpoint file: when it was last written, whether the
	// checkpoints changed since.
	cpSaved time.Time
	cpDirty bool
	losses  lossBook

	shipped, shippedBytes, shipErrors, cpErrors, truncated, readErrors, lostFiles *metrics.Counter
}

// NewRunner prepares a runner; Run starts it.
func NewRunner(cfg Config, sink Sink, now func() time.Time, set *metrics.Set, logger *slog.Logger) (*Runner, error) {
	cfg.defaults()
	if cfg.StateDir == "" {
		return nil, errors.New("collector: no state folder for checkpoints")
	}
	if err := probeWritable(cfg.StateDir); err != nil {
		return nil, fmt.Errorf("state folder %s cannot be written (the checkpoints live there): %w", cfg.StateDir, err)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	if logger == nil {
		logger = slog.Default()
	}
	r := &Runner{cfg: cfg, sink: sink, now: now, logger: logger, cpPath: filepath.Join(cfg.StateDir, "checkpoints.json"),
		shipped:      set.NewCounter("watchpost_collector_lines_shipped_total"),
		shippedBytes: set.NewCounter("watchpost_collector_bytes_shipped_total"),
		shipErrors:   set.NewCounter("watchpost_collector_ship_errors_total"),
		cpErrors:     set.NewCounter("watchpost_collector_checkpoint_errors_total"),
		truncated:    set.NewCounter("watchpost_collector_truncated_lines_total"),
		readErrors:   set.NewCounter("watchpost_collector_read_errors_total"),
		lostFiles:    set.NewCounter("watchpost_collector_lost_generations_total"),
		started:      now(), set: set, finished: map[string]int64{},
	}
	for _, fc := range cfg.Files {
		if fc.Multiline != "" {
			if _, err := regexp.Compile(fc.Multiline); err != nil {
				return nil, fmt.Errorf("multiline pattern of %s: %w", fc.Path, err)
			}
		}
	}
	cps, err := readCheckpoints(r.cpPath)
	if err != nil {
		r.cpErrors.Inc()
		logger.Error("checkpoints unreadable: sources start over (the loghost drops replays)", "err", err)
	}
	r.cps = cps
	return r, nil
}

func (r *Runner) saved(source string) (checkpoint, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cps[source]
	return c, ok
}

// Run follows and ships until ctx ends. Lines read but not acknowledged
// are read again on the next start, from the checkpoints.
func (r *Runner) Run(ctx context.Context) error {
	// A short queue: the batch being built is the buffer, not the channel.
	lines := make(chan Line, min(r.cfg.BatchLines, 64))
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() { defer wg.Done(); r.watchFiles(ctx, lines) }()
	if r.cfg.Journal {
		wg.Add(1)
		go func() { defer wg.Done(); r.followJournal(ctx, lines) }()
	}
	if r.cfg.Once {
		// Every source stops at its end; the channel closes after the
		// last one, and ship returns once that is acknowledged.
		go func() { wg.Wait(); close(lines) }()
	}
	err := r.ship(ctx, lines)
	r.saveCheckpoints(true)
	return err
}

func (r *Runner) watchFiles(ctx context.Context, out chan<- Line) {
	var sources []*fileSource
	for _, fc := range r.cfg.Files {
		s := &fileSource{FileConfig: fc}
		if fc.Multiline != "" {
			re := regexp.MustCompile(fc.Multiline)
			s.join = func() *joiner {
				return &joiner{start: re, max: cmp.Or(fc.MultilineMax, 64<<10), timeout: cmp.Or(fc.MultilineTimeout, 2*time.Second)}
			}
		}
		sources = append(sources, s)
	}
	logf := func(msg string, args ...any) { r.logger.Warn(msg, args...) }
	reg := newRegistry()
	t := &tailer{sources: sources, out: out, now: r.now, poll: r.cfg.Poll, rotateQuiet: r.cfg.RotateQuiet,
		rotateWait: r.cfg.RotateWait, maxLine: r.cfg.MaxLine, once: r.cfg.Once, logf: logf, reg: reg,
		onTruncatedLine: func() { r.truncated.Inc() }, onLost: r.lost, onFinish: r.finish, onBirth: r.born}
	r.mu.Lock()
	for _, cp := range r.cps {
		if cp.Source != "" {
			t.saved = append(t.saved, cp)
		}
	}
	r.mu.Unlock()
	w := newWatcher(sources, reg, r.cfg.Rescan, r.cfg.Poll, r.cfg.Once || r.cfg.NoInotify, logf)
	t.run(ctx, w)
}

// born records a generation's first checkpoint, at its start.
func (r *Runner) born(key string, cp checkpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.cps[key]; !ok {
		r.cps[key] = cp
	}
}

// finish notes a generation read to its end; its checkpoint is dropped
// once acknowledged that far (at once when it already is).
func (r *Runner) finish(key string, offset int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cp, ok := r.cps[key]; !ok || cp.Offset >= offset {
		delete(r.cps, key)
		return
	}
	r.finished[key] = offset
}

func (r *Runner) followJournal(ctx context.Context, out chan<- Line) {
	if _, err := exec.LookPath(r.cfg.JournalCommand[0]); err != nil {
		r.logger.Warn("no journalctl: the systemd journal is not followed", "err", err)
		return
	}
	j := &journalSource{command: r.cfg.JournalCommand, follow: !r.cfg.JournalNoFollow, fromStart: r.cfg.FromStart,
		loc: r.cfg.Location, out: out, logf: func(msg string, args ...any) { r.logger.Warn(msg, args...) }}
	backoff := time.Second
	for {
		cp, ok := r.saved("journal")
		err := j.run(ctx, cp, ok)
		if ctx.Err() != nil || r.cfg.JournalNoFollow {
			return
		}
		r.readErrors.Inc()
		r.logger.Warn("journalctl stopped; restarting", "err", err, "in", backoff)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, time.Minute)
	}
}

func (r *Runner) ship(ctx context.Context, lines <-chan Line) error {
	if pr, ok := r.sink.(preparer); ok {
		return r.shipAhead(ctx, lines, pr)
	}
	batch := make([]Line, 0, 64)
	for {
		var size int
		var more bool
		batch, size, more = r.fill(ctx, lines, batch[:0])
		if len(batch) > 0 && !r.shipBatch(ctx, batch, size) {
			return ctx.Err()
		}
		if !more {
			return nil
		}
	}
}

// fill appends the next batch's lines to batch: it waits for a first line,
// then takes lines until the batch is full or BatchDelay passed. more is
// false once the channel is closed or ctx ended.
func (r *Runner) fill(ctx context.Context, lines <-chan Line, batch []Line) (_ []Line, size int, more bool) {
	select {
	case <-ctx.Done():
		return batch, 0, false
	case l, ok := <-lines:
		if !ok {
			return batch, 0, false
		}
		batch = append(batch, l)
		size += len(l.Text)
	}
	timer := time.NewTimer(r.cfg.BatchDelay)
	defer timer.Stop()
	for len(batch) < r.cfg.BatchLines && size < r.cfg.BatchBytes {
		select {
		case l, ok := <-lines:
			if !ok {
				return batch, size, false
			}
			batch = append(batch, l)
			size += len(l.Text)
		case <-timer.C:
			return batch, size, true
		case <-ctx.Done():
			return batch[:0], 0, false
		}
	}
	return batch, size, true
}

// shipBatch retries until the sink takes the batch (or ctx ends), then
// advances the checkpoints of its sources.
func (r *Runner) shipBatch(ctx context.Context, batch []Line, size int) bool {
	if !r.retry(ctx, len(batch), func() error { return r.sink.Ship(ctx, batch) }) {
		return false
	}
	r.advance(len(batch), size, func(yield func(string, checkpoint) bool) {
		for i := range batch {
			if !yield(batch[i].cpKey(), batch[i].checkpoint()) {
				return
			}
		}
	})
	return true
}

// retry calls send until it succeeds; false when ctx ended first.
func (r *Runner) retry(ctx context.Context, n int, send func() error) bool {
	backoff := 100 * time.Millisecond
	fullLogged := false
	for {
		err := send()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false
		}
		if errors.Is(err, ErrSpoolFull) {
			// Not an error of the batch: wait for the spool to drain,
			// reading nothing meanwhile, and check again soon.
			if !fullLogged {
				r.logger.Warn("spool full: reading paused; the log files are the buffer until the loghost takes the spool")
				fullLogged = true
			}
			if !sleep(ctx, 500*time.Millisecond) {
				return false
			}
			continue
		}
		r.shipErrors.Inc()
		wait := backoff/2 + rand.N(backoff/2+1)
		r.logger.Warn("shipping failed; retrying", "lines", n, "err", err, "in", wait.Round(time.Millisecond))
		if !sleep(ctx, wait) {
			return false
		}
		backoff = min(2*backoff, 30*time.Second)
	}
	return true
}

// advance records a taken batch: marks yields each line's source and
// checkpoint in order, so the last of each source wins.
func (r *Runner) advance(n, size int, marks iter.Seq2[string, checkpoint]) {
	r.shipped.Add(n)
	r.shippedBytes.Add(size)
	r.mu.Lock()
	for key, cp := range marks {
		if end, ok := r.finished[key]; ok && cp.Offset >= end {
			delete(r.finished, key)
			delete(r.cps, key)
			continue
		}
		r.cps[key] = cp
	}
	r.mu.Unlock()
	r.saveCheckpoints(false)
}

// checkpointEvery bounds how often the checkpoint file is rewritten: with
// a thousand files it is a quarter megabyte, and a checkpoint a moment
// stale only means lines sent again, which the loghost drops as replays.
const checkpointEvery = time.Second

// saveCheckpoints writes the checkpoints when a second has passed since
// the last write, or now (force) when they changed. Called by the one
// goroutine that ships, so its buffer needs no lock.
func (r *Runner) saveCheckpoints(force bool) {
	r.cpDirty = true
	if !force && time.Since(r.cpSaved) < checkpointEvery {
		return
	}
	// Encoded straight into the new file, a few kilobytes at a time: a
	// thousand files' checkpoints need no buffer of their own.
	err := writeCheckpointFunc(r.cpPath, func(w *bufio.Writer) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		var b [512]byte
		return appendCheckpointFile(w, b[:0], r.cps)
	})
	if err != nil {
		// The lines are safe at the loghost; a stale checkpoint only
		// means replays it will drop.
		r.cpErrors.Inc()
		r.logger.Error("save checkpoints", "err", err)
		return
	}
	r.cpDirty, r.cpSaved = false, time.Now()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
