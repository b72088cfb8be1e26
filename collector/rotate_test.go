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

// TestRotationsLoseNothing: each way logrotate is commonly set up, at
// 20,000 lines/s, for the glob app.log and for app.log* (which also
// matches the rotated names): nothing lost, nothing twice. copytruncate
// can lose by itself what is written between its copy and its truncation
// (with a writer that appends): the collector reads those lines when it
// gets to them in time, and counts them when it saw them written, but
// lines that came and went unseen are the only ones allowed missing.
func TestRotationsLoseNothing(t *testing.T) {
	const every = 350 * time.Millisecond
	cases := []rotation{
		{name: "create", directives: []string{rotCreate}, reopen: true, every: every},
		{name: "copytruncate", directives: []string{rotCopytruncate}, every: every},
		{name: "compress", directives: []string{rotCompress}, reopen: true, every: every},
		{name: "delaycompress", directives: []string{rotDelay}, reopen: true, every: every},
		{name: "dateext", directives: []string{rotDateext}, reopen: true, every: 1100 * time.Millisecond},
		// Each rotation another way, copytruncate with its copy
		// compressed at once among them.
		{name: "mixed", directives: []string{rotCreate, rotCopytruncate, rotCompress, "\tcopytruncate\n\tcompress\n", rotDelay}, reopen: true, every: every},
	}
	for _, glob := range []string{"app.log", "app.log*"} {
		for _, rc := range cases {
			t.Run(rc.name+"/"+glob, func(t *testing.T) {
				n := 3
				if rc.name == "dateext" {
					n = 2
				} else if rc.name == "mixed" {
					n = 5
				}
				o := rotationCase(t, rc, glob, 20000, n)
				o.check(t, false)
				if !strings.Contains(strings.Join(rc.directives, ""), "copytruncate") && len(o.missing) > 0 {
					t.Errorf("%d lines lost through %s rotations", len(o.missing), rc.name)
				}
			})
		}
	}
}

// TestRotationsThroughIngest: the same through the loghost's real ingest
// handler and store, which drop what a generation sends twice.
func TestRotationsThroughIngest(t *testing.T) {
	for _, rc := range []struct {
		rot  rotation
		glob string
	}{
		{rotation{name: "create", directives: []string{rotCreate, rotDelay}, reopen: true, every: 350 * time.Millisecond, ingest: true}, "app.log*"},
		{rotation{name: "copytruncate", directives: []string{rotCopytruncate}, every: 350 * time.Millisecond, ingest: true}, "app.log"},
	} {
		t.Run(rc.rot.name+"/"+rc.glob, func(t *testing.T) {
			o := rotationCase(t, rc.rot, rc.glob, 20000, 2)
			o.check(t, false)
			if rc.rot.reopen && len(o.missing) > 0 {
				t.Errorf("%d lines lost", len(o.missing))
			}
		})
	}
}

// TestRenameRotationsAt100k: renames (and renames with compression) at
// 100,000 lines/s.
func TestRenameRotationsAt100k(t *testing.T) {
	rot := rotation{name: "rename", directives: []string{rotCreate, rotCompress}, reopen: true, every: 300 * time.Millisecond}
	for _, glob := range []string{"app.log", "app.log*"} {
		t.Run(glob, func(t *testing.T) {
			o := rotationCase(t, rot, glob, 100000, 2)
			o.check(t, true)
			if len(o.missing) > 0 {
				t.Errorf("%d lines lost", len(o.missing))
			}
		})
	}
}

// TestCopytruncateCountedExactly: a writer without O_APPEND (a shell's >
// redirection) goes on writing at its offset after the truncation; the
// hole it leaves tells exactly how long the file was, so every line is
// stored or counted lost, whenever logrotate runs, never silently missing.
func TestCopytruncateCountedExactly(t *testing.T) {
	rot := rotation{name: "copytruncate", directives: []string{rotCopytruncate}, noAppend: true, every: 350 * time.Millisecond}
	for _, glob := range []string{"app.log", "app.log*"} {
		t.Run(glob, func(t *testing.T) {
			o := rotationCase(t, rot, glob, 20000, 3)
			o.check(t, true)
		})
	}
}

// TestCreatedAndRenamedAt once: a file created under the pattern and
// renamed out of it within 100 ms is read, under the name it was written
// as.
func TestCreatedAndRenamedQuickly(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	p := startFastPipeline(t, dir, Config{Files: []FileConfig{{Path: filepath.Join(logs, "*.log")}}, Rescan: time.Hour})
	time.Sleep(200 * time.Millisecond) // the watch is set
	const files = 5
	for i := 0; i < files; i++ {
		name := filepath.Join(logs, fmt.Sprintf("job%d.log", i))
		var b strings.Builder
		for j := 0; j < 100; j++ {
			fmt.Fprintf(&b, "rotatetest n=%08d the quick brown fox jumps over the dog\n", i*100+j)
		}
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(i*20) * time.Millisecond) // 0 to 80 ms
		if err := os.Rename(name, name+".1"); err != nil {
			t.Fatal(err)
		}
	}
	lost, missing := waitAccounted(t, p, files*100)
	if len(missing) > 0 || lost > 0 {
		t.Fatalf("%d lines missing, %d counted lost", len(missing), lost)
	}
	p.sink.mu.Lock()
	defer p.sink.mu.Unlock()
}

// TestRestartAcrossRotations: the collector stops, logrotate renames
// (and with app.log* the glob then matches every rotated name) and the
// writer goes on; after the restart every line is there once: the rotated
// file is found by its inode and read from its checkpoint, the others
// are known by their first bytes and not read again.
func TestRestartAcrossRotations(t *testing.T) {
	bin := needLogrotate(t)
	for _, glob := range []string{"app.log", "app.log*"} {
		t.Run(glob, func(t *testing.T) {
			dir := t.TempDir()
			logs := filepath.Join(dir, "logs")
			os.MkdirAll(logs, 0o755)
			path := filepath.Join(logs, "app.log")
			cfg := Config{Files: []FileConfig{{Path: filepath.Join(logs, glob)}}}
			p := startFastPipeline(t, dir, cfg)
			w := startWriter(t, path, 20000, true, false)
			time.Sleep(300 * time.Millisecond)
			logrotate(t, bin, dir, path, rotCreate)
			time.Sleep(300 * time.Millisecond)
			p.stop()
			logrotate(t, bin, dir, path, rotDelay)
			time.Sleep(300 * time.Millisecond)
			// One loghost: what it has, it drops as replays.
			p2 := startFastPipelineTo(t, dir, cfg, p.sink)
			time.Sleep(300 * time.Millisecond)
			w.finish()
			o := outcome{written: w.n.Load(), logs: p2.logs, sink: p.sink}
			o.lost, o.missing = waitAccounted(t, p2, o.written)
			o.check(t, true)
			if len(o.missing) > 0 {
				t.Errorf("%d lines lost across the restart", len(o.missing))
			}
		})
	}
}

// TestCheckpointVersion1Resumes: a checkpoint file written before
// generations had their own checkpoints is read, and the file goes on
// where it was.
func TestCheckpointVersion1Resumes(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	var b strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "rotatetest n=%08d the quick brown fox jumps over the dog\n", i)
	}
	os.WriteFile(log, []byte(b.String()), 0o644)
	f, _ := os.Open(log)
	st, _ := statFile(f)
	head, _ := readAt(f, 0, fingerprintLen)
	f.Close()
	state := filepath.Join(dir, "state")
	os.MkdirAll(state, 0o750)
	off := int64(60 * 61)
	v1 := fmt.Sprintf(`{"version":1,"sources":{"file:%s":{"gen":"%x.%x.%s.0","offset":%d,"dev":%d,"ino":%d,"fp_len":%d,"fp":"%s"}}}`,
		log, st.id.dev, st.id.ino, fpHash(head), off, st.id.dev, st.id.ino, len(head), fpHash(head))
	os.WriteFile(filepath.Join(state, "checkpoints.json"), []byte(v1), 0o600)
	p := startFastPipeline(t, dir, Config{Files: []FileConfig{{Path: log}}})
	for deadline := time.Now().Add(10 * time.Second); p.shipped() < 40 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	seen := p.stored(t)
	if len(seen) != 40 || seen[59] != 0 || seen[60] != 1 || seen[99] != 1 {
		t.Fatalf("after a version 1 checkpoint at line 60: %d lines stored (line 60: %d)", len(seen), seen[60])
	}
	p.stop()
	cps, err := readCheckpoints(filepath.Join(state, "checkpoints.json"))
	if err != nil || len(cps) != 1 {
		t.Fatalf("checkpoints %v %v", cps, err)
	}
	for k, cp := range cps {
		if k != "file:"+log+"|"+cp.Gen || cp.Offset != int64(b.Len()) || cp.Path != log {
			t.Errorf("checkpoint %s: %+v", k, cp)
		}
	}
}
