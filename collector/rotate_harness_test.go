package collector

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/ingest"
	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/store"
)

// The rotation tests drive a real file with Debian's logrotate while a
// writer appends numbered lines, and count what the real ingest path (the
// loghost's ingest handler and store) stored: every line exactly once, or
// counted as lost by the collector.

// pipeline is a runner shipping to a real ingest handler and store, or
// (st nil) to a sink that drops replays as the store does: the same
// (source, generation) at an offset it already has.
type pipeline struct {
	st     *store.Store
	sink   *replaySink
	runner *Runner
	cancel context.CancelFunc
	done   chan struct{}
	logs   *syncLog
}

// replaySink keeps what it was given, dropping replays by the store's
// rule (store/writer.go).
type replaySink struct {
	mu    sync.Mutex
	last  map[[2]string]int64
	texts []string
	where []string
}

func (s *replaySink) Ship(ctx context.Context, lines []Line) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range lines {
		k := [2]string{l.Source, l.Gen}
		if last, ok := s.last[k]; ok && l.Offset <= last {
			continue
		}
		s.last[k] = l.Offset
		s.texts = append(s.texts, string(l.Text))
		s.where = append(s.where, fmt.Sprintf("%s@%d", l.Gen, l.Offset))
	}
	return nil
}

// startFastPipeline: the runner ships to a replaySink. The rotation
// matrix uses it (the race detector makes the store the slow part); the
// real ingest path is checked by the tests that use startPipeline.
func startFastPipeline(t *testing.T, dir string, cfg Config) *pipeline {
	t.Helper()
	return startFastPipelineTo(t, dir, cfg, &replaySink{last: map[[2]string]int64{}})
}

func startFastPipelineTo(t *testing.T, dir string, cfg Config, sink *replaySink) *pipeline {
	t.Helper()
	logs := &syncLog{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	cfg.StateDir = cmpOrString(cfg.StateDir, filepath.Join(dir, "state"))
	cfg.Poll = cmpOr(cfg.Poll, 50*time.Millisecond)
	cfg.RotateWait = cmpOr(cfg.RotateWait, 2*time.Second)
	r, err := NewRunner(cfg, sink, time.Now, metrics.NewSet(), logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &pipeline{sink: sink, runner: r, cancel: cancel, done: make(chan struct{}), logs: logs}
	go func() { defer close(p.done); r.Run(ctx) }()
	t.Cleanup(p.stop)
	return p
}

func cmpOrString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startPipeline(t *testing.T, dir string, cfg Config) *pipeline {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Path: filepath.Join(dir, "loghost.db"), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := ingest.New(ingest.Options{Store: st, Tokens: ingest.NewTokens(map[string][]string{"web1": {"tok"}}, nil), Location: time.UTC})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return startRunnerTo(t, dir, cfg, srv.URL, st)
}

func startRunnerTo(t *testing.T, dir string, cfg Config, url string, st *store.Store) *pipeline {
	t.Helper()
	logs := &syncLog{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	sh, err := NewShipper(ShipperConfig{Server: url, Token: "tok", SpoolDir: filepath.Join(dir, "state", "spool"), MaxBackoff: 50 * time.Millisecond},
		time.Now, metrics.NewSet(), logger)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(dir, "state")
	}
	if cfg.Poll == 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	cfg.RotateWait = cmpOr(cfg.RotateWait, 2*time.Second)
	r, err := NewRunner(cfg, sh, time.Now, metrics.NewSet(), logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &pipeline{st: st, runner: r, cancel: cancel, done: make(chan struct{}), logs: logs}
	go sh.Run(ctx, 0)
	go func() { defer close(p.done); r.Run(ctx) }()
	t.Cleanup(p.stop)
	return p
}

func cmpOr(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

func (p *pipeline) stop() {
	p.cancel()
	<-p.done
}

var lineNumber = regexp.MustCompile(`n=(\d{8}) `)

// stored counts each numbered line the store holds.
func (p *pipeline) stored(t *testing.T) map[int]int {
	t.Helper()
	var texts []string
	if p.sink != nil {
		p.sink.mu.Lock()
		texts = append(texts, p.sink.texts...)
		p.sink.mu.Unlock()
	} else {
		recs, err := p.st.ReadAfter(context.Background(), 0, 10_000_000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Kind == store.KindLog {
				texts = append(texts, r.Raw)
			}
		}
	}
	seen := map[int]int{}
	for _, s := range texts {
		// "rotatetest n=%08d ...": the number at a fixed place.
		if i := strings.Index(s, "rotatetest n="); i >= 0 && len(s) >= i+21 {
			if n, err := strconv.Atoi(s[i+13 : i+21]); err == nil {
				seen[n]++
				continue
			}
		}
		seen[-1]++ // not a line the writer wrote
	}
	return seen
}

// shipped is how many lines the loghost (or sink) took, cheap to poll.
func (p *pipeline) shipped() uint64 { return p.runner.shipped.Get() }

// lineWriter appends numbered lines of one length in bursts every 10 ms,
// as a busy daemon does. reopen: it reopens the path when the file there
// is another (Python's WatchedFileHandler; a daemon told by postrotate);
// otherwise it keeps its descriptor (copytruncate's case). noAppend
// writes at its own offset, as a shell's > redirection does.
type lineWriter struct {
	path     string
	perBurst int
	reopen   bool
	noAppend bool

	n    atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func startWriter(t *testing.T, path string, rate int, reopen, noAppend bool) *lineWriter {
	t.Helper()
	w := &lineWriter{path: path, perBurst: max(1, rate/100), reopen: reopen, noAppend: noAppend, stop: make(chan struct{}), done: make(chan struct{})}
	f, err := w.open()
	if err != nil {
		t.Fatal(err)
	}
	go w.run(f)
	t.Cleanup(w.finish)
	return w
}

func (w *lineWriter) open() (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if w.noAppend {
		flags = os.O_WRONLY | os.O_CREATE
	}
	return os.OpenFile(w.path, flags, 0o644)
}

func (w *lineWriter) run(f *os.File) {
	defer close(w.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	buf := make([]byte, 0, w.perBurst*64)
	for {
		select {
		case <-w.stop:
			f.Close()
			return
		case <-tick.C:
		}
		buf = buf[:0]
		n := w.n.Load()
		for i := 0; i < w.perBurst; i++ {
			buf = fmt.Appendf(buf, "rotatetest n=%08d the quick brown fox jumps over the dog\n", n+int64(i))
		}
		if _, err := f.Write(buf); err != nil {
			panic(err)
		}
		w.n.Add(int64(w.perBurst))
		if w.reopen {
			a, errA := f.Stat()
			b, errB := os.Stat(w.path)
			if errA != nil || errB != nil || !os.SameFile(a, b) {
				f.Close()
				var err error
				if f, err = w.open(); err != nil {
					panic(err)
				}
			}
		}
	}
}

// finish stops the writer and returns how many lines it wrote.
func (w *lineWriter) finish() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

func needLogrotate(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("logrotate")
	if err != nil {
		if p = "/usr/sbin/logrotate"; func() bool { _, err := os.Stat(p); return err != nil }() {
			peers.Unavailable(t, "logrotate is needed (Debian package logrotate)")
		}
	}
	return p
}

// logrotate rotates path now with the given directives.
func logrotate(t *testing.T, bin, dir, path, directives string) {
	t.Helper()
	conf := filepath.Join(dir, "logrotate.conf")
	body := fmt.Sprintf("%s {\n\trotate 4\n\tmissingok\n\tnomail\n%s\n}\n", path, directives)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-f", "-s", filepath.Join(dir, "logrotate.state"), conf).CombinedOutput()
	if err != nil {
		t.Fatalf("logrotate: %v\n%s", err, out)
	}
}

type rotation struct {
	name       string
	directives []string // one per rotation, in turn
	reopen     bool     // the writer reopens (create); false: copytruncate
	noAppend   bool     // the writer does not use O_APPEND
	every      time.Duration
	ingest     bool // through the real ingest handler and store
}

var (
	rotCreate       = "\tcreate\n"
	rotCopytruncate = "\tcopytruncate\n"
	rotCompress     = "\tcreate\n\tcompress\n"
	rotDelay        = "\tcreate\n\tcompress\n\tdelaycompress\n"
	// dateext names each rotation by the second, so one per second.
	rotDateext = "\tcreate\n\tdateext\n\tdateformat -%Y%m%d-%s\n"
)

// outcome is what a rotation run wrote, stored and counted.
type outcome struct {
	written int64
	lost    int64 // counted by the collector
	missing []int // lines not stored
	// window: lines logrotate itself destroyed (copytruncate): written
	// after its copy was read and before it truncated, in neither file.
	window map[int]bool
	logs   *syncLog
	sink   *replaySink
}

// rotationCase writes at rate while logrotate rotates n times, then waits
// for every line to be stored or counted lost, and fails on duplicates.
func rotationCase(t *testing.T, rot rotation, glob string, rate, n int) outcome {
	bin := needLogrotate(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	path := filepath.Join(logs, "app.log")
	cfg := Config{Files: []FileConfig{{Path: filepath.Join(logs, glob)}}}
	var p *pipeline
	if rot.ingest {
		p = startPipeline(t, dir, cfg)
	} else {
		p = startFastPipeline(t, dir, cfg)
	}
	w := startWriter(t, path, rate, rot.reopen, rot.noAppend)
	window := map[int]bool{}
	time.Sleep(rot.every / 2)
	for i := 0; i < n; i++ {
		d := rot.directives[i%len(rot.directives)]
		logrotate(t, bin, dir, path, d)
		if strings.Contains(d, "copytruncate") {
			copyWindow(t, path, window)
		}
		time.Sleep(rot.every)
	}
	w.finish()
	o := outcome{written: w.n.Load(), window: window, logs: p.logs, sink: p.sink}
	o.lost, o.missing = waitAccounted(t, p, o.written)
	return o
}

// copyWindow adds the lines logrotate's copytruncate lost by itself: after
// the last line of its copy and before the first line written after the
// truncation (it fsyncs the copy before truncating; what is written
// meanwhile is in neither file unless a reader took it in time).
func copyWindow(t *testing.T, path string, window map[int]bool) {
	t.Helper()
	b, err := os.ReadFile(path + ".1")
	if errors.Is(err, fs.ErrNotExist) {
		b, err = gunzip(path + ".1.gz")
	}
	if err != nil {
		t.Fatal(err)
	}
	last := -1
	if m := lineNumber.FindAllSubmatch(b, -1); len(m) > 0 {
		last, _ = strconv.Atoi(string(m[len(m)-1][1]))
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		cur, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if m := lineNumber.FindSubmatch(cur); m != nil {
			first, _ := strconv.Atoi(string(m[1]))
			for i := last + 1; i < first; i++ {
				window[i] = true
			}
			return
		}
	}
	t.Fatal("nothing written after the truncation")
}

func gunzip(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// waitAccounted waits until every written line is stored or counted
// lost, fails on duplicates and on counting more lost than is missing,
// and returns the count and the lines missing.
func waitAccounted(t *testing.T, p *pipeline, written int64) (int64, []int) {
	t.Helper()
	var seen map[int]int
	var lost int64
	// Done when all is accounted for, or when the last line is stored
	// and nothing moved for a second (lines logrotate destroyed unseen
	// never come).
	deadline := time.Now().Add(60 * time.Second)
	prev, still := uint64(0), 0
	for {
		n := p.shipped()
		lost = p.runner.Report("", 0, 0).LostLines
		if int64(n)+lost >= written || time.Now().After(deadline) {
			break
		}
		if n == prev && n > 0 {
			// Still for a second, with the last line stored: what is
			// missing now will not come.
			if still++; still >= 5 && p.stored(t)[int(written)-1] > 0 {
				break
			}
		} else {
			still = 0
		}
		prev = n
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // anything late would be a duplicate
	seen = p.stored(t)
	lost = p.runner.Report("", 0, 0).LostLines
	var dups, missing []int
	for i := 0; i < int(written); i++ {
		switch c := seen[i]; {
		case c == 0:
			missing = append(missing, i)
		case c > 1:
			dups = append(dups, i)
		}
	}
	if seen[-1] > 0 {
		t.Errorf("%d stored lines the writer never wrote", seen[-1])
	}
	if len(dups) > 0 {
		t.Errorf("%d lines stored more than once, first %v", len(dups), dups[:min(5, len(dups))])
	}
	if lost > int64(len(missing)) {
		t.Errorf("%d lines counted lost, but only %d missing", lost, len(missing))
	}
	if t.Failed() {
		t.Logf("collector log:\n%s", tailOf(p.logs.String(), 3000))
	}
	return lost, missing
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// check fails unless every line is stored or counted: exactly, or (exact
// false) save lines that logrotate's copytruncate destroyed unseen.
func (o outcome) check(t *testing.T, exact bool) {
	t.Helper()
	var outside []int
	for _, n := range o.missing {
		if !o.window[n] {
			outside = append(outside, n)
		}
	}
	switch {
	case exact && int64(len(o.missing)) != o.lost:
		t.Errorf("%d of %d lines missing, %d counted lost: first missing %v", len(o.missing), o.written, o.lost, o.missing[:min(10, len(o.missing))])
	case len(outside) > 0:
		t.Errorf("%d of %d lines missing outside logrotate's own copytruncate window (%d counted lost): first %v",
			len(outside), o.written, o.lost, outside[:min(10, len(outside))])
	}
	t.Logf("%d lines written, %d missing, %d counted lost, %d in logrotate's copytruncate window", o.written, len(o.missing), o.lost, len(o.window))
	if t.Failed() && o.sink != nil && len(o.missing) > 0 {
		o.sink.mu.Lock()
		for i, tx := range o.sink.texts {
			if strings.Contains(tx, fmt.Sprintf("n=%08d", o.missing[0]-1)) || strings.Contains(tx, fmt.Sprintf("n=%08d", o.missing[len(o.missing)-1]+1)) {
				t.Logf("neighbour %q at %s", tx[:min(30, len(tx))], o.sink.where[i])
			}
		}
		o.sink.mu.Unlock()
	}
	if t.Failed() && o.logs != nil {
		t.Logf("collector log:\n%s", tailOf(o.logs.String(), 4000))
	}
}
