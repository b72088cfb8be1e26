package collector

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/internal/peers"
)

// recordingSink keeps what it was given, failing the first failN calls.
type recordingSink struct {
	mu    sync.Mutex
	lines []Line
	failN int
	calls int
}

func (s *recordingSink) Ship(ctx context.Context, lines []Line) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failN {
		return errors.New("loghost down")
	}
	for _, l := range lines {
		s.lines = append(s.lines, l)
	}
	return nil
}

func (s *recordingSink) texts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.lines {
		out = append(out, string(l.Text))
	}
	return out
}

func (s *recordingSink) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := s.texts(); len(got) >= n {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("got %d lines, want %d: %q", len(s.texts()), n, s.texts())
	return nil
}

type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (r running) stop() { r.cancel(); <-r.done }

func startRunner(t *testing.T, cfg Config, sink Sink) running {
	t.Helper()
	cfg.Poll, cfg.RotateQuiet, cfg.Rescan, cfg.BatchDelay = 10*time.Millisecond, 150*time.Millisecond, 50*time.Millisecond, 20*time.Millisecond
	r, err := NewRunner(cfg, sink, time.Now, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return running{cancel, done}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestFileLinesOffsetsAndPartialLine(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendFile(t, log, "first\r\nsecond\nthird without end")
	sink := &recordingSink{}
	startRunner(t, Config{Files: []FileConfig{{Path: log, Format: "plain", Site: "s"}}, StateDir: dir}, sink)
	got := sink.waitFor(t, 2)
	time.Sleep(100 * time.Millisecond)
	if len(sink.texts()) != 2 {
		t.Fatalf("a partial line was shipped: %q", sink.texts())
	}
	appendFile(t, log, " now ended\n")
	got = sink.waitFor(t, 3)
	want := []string{"first", "second", "third without end now ended"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q want %q", got, want)
	}
	offs := []int64{sink.lines[0].Offset, sink.lines[1].Offset, sink.lines[2].Offset}
	if fmt.Sprint(offs) != "[0 7 14]" {
		t.Fatalf("offsets %v", offs)
	}
	if sink.lines[0].Source != "file:"+log || sink.lines[0].Format != "plain" || sink.lines[0].Site != "s" || sink.lines[0].Gen == "" {
		t.Fatalf("line metadata: %+v", sink.lines[0])
	}
}

func TestRestartResumesWithoutDuplicates(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	for i := 0; i < 50; i++ {
		appendFile(t, log, fmt.Sprintf("line %d\n", i))
	}
	sink := &recordingSink{failN: 3} // the loghost is down at first: nothing lost
	r := startRunner(t, Config{Files: []FileConfig{{Path: log}}, StateDir: dir}, sink)
	sink.waitFor(t, 50)
	r.stop()
	for i := 50; i < 80; i++ {
		appendFile(t, log, fmt.Sprintf("line %d\n", i))
	}
	startRunner(t, Config{Files: []FileConfig{{Path: log}}, StateDir: dir}, sink)
	got := sink.waitFor(t, 80)
	time.Sleep(100 * time.Millisecond)
	got = sink.texts()
	if len(got) != 80 {
		t.Fatalf("%d lines after restart, want 80", len(got))
	}
	for i, l := range got {
		if l != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
}

func TestRenameRotationDrainsOldFile(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendFile(t, log, "before 1\nbefore 2\n")
	sink := &recordingSink{}
	startRunner(t, Config{Files: []FileConfig{{Path: log}}, StateDir: dir}, sink)
	sink.waitFor(t, 2)
	// A daemon keeps its descriptor across the rename and writes once more.
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, log, "new 1\n")
	f.WriteString("late to the old file\n")
	f.Close()
	appendFile(t, log, "new 2\n")
	sink.waitFor(t, 5)
	// Both files are read at once: each in order, the two in any order.
	sink.mu.Lock()
	defer sink.mu.Unlock()
	byGen := map[string][]string{}
	for _, l := range sink.lines {
		byGen[l.Gen] = append(byGen[l.Gen], string(l.Text))
		if l.Source != "file:"+log {
			t.Errorf("source %q", l.Source)
		}
	}
	old, cur := byGen[sink.lines[0].Gen], []string(nil)
	for g, ls := range byGen {
		if g != sink.lines[0].Gen {
			cur = ls
		}
	}
	if fmt.Sprint(old) != fmt.Sprint([]string{"before 1", "before 2", "late to the old file"}) || fmt.Sprint(cur) != fmt.Sprint([]string{"new 1", "new 2"}) || len(byGen) != 2 {
		t.Fatalf("old generation %q, new %q", old, cur)
	}
}

func TestTruncationStartsNewGeneration(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendFile(t, log, "aaaa 1\naaaa 2\naaaa 3\n")
	sink := &recordingSink{}
	startRunner(t, Config{Files: []FileConfig{{Path: log}}, StateDir: dir}, sink)
	sink.waitFor(t, 3)
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	appendFile(t, log, "bbbb 1\n")
	got := sink.waitFor(t, 4)
	if got[3] != "bbbb 1" || sink.lines[3].Offset != 0 || sink.lines[3].Gen == sink.lines[0].Gen {
		t.Fatalf("after truncation: %q %+v", got, sink.lines[3])
	}
}

func TestGlobPicksUpNewFiles(t *testing.T) {
	dir := t.TempDir()
	sink := &recordingSink{}
	startRunner(t, Config{Files: []FileConfig{{Path: filepath.Join(dir, "*.log")}}, StateDir: t.TempDir()}, sink)
	appendFile(t, filepath.Join(dir, "a.log"), "from a\n")
	sink.waitFor(t, 1)
	appendFile(t, filepath.Join(dir, "b.log"), "from b\n")
	got := sink.waitFor(t, 2)
	if got[1] != "from b" {
		t.Fatalf("%q", got)
	}
}

func TestParseJournalEntry(t *testing.T) {
	tests := []struct {
		name, in, msg string
		wantErr       bool
	}{
		{"string", `{"__CURSOR":"c1","MESSAGE":"hello","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"sshd","_PID":"12","PRIORITY":"6","SYSLOG_FACILITY":"4","__REALTIME_TIMESTAMP":"1763805600000000"}`, "hello", false},
		{"bytes", `{"__CURSOR":"c2","MESSAGE":[104,105,255]}`, "hi\xff", false},
		{"null", `{"__CURSOR":"c3","MESSAGE":null}`, "", false},
		{"no message", `{"__CURSOR":"c4"}`, "", false},
		{"no cursor", `{"MESSAGE":"x"}`, "", true},
		{"bad byte", `{"__CURSOR":"c5","MESSAGE":[300]}`, "", true},
		{"number", `{"__CURSOR":"c6","MESSAGE":5}`, "", true},
		{"not json", `{"__CURSOR":`, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, msg, err := parseJournalEntry([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if err == nil && string(msg) != tc.msg {
				t.Fatalf("msg %q", msg)
			}
			if tc.name == "string" {
				l := e.line(msg, time.UTC)
				if l.Program != "sshd" || l.PID != "12" || l.Priority != 6 || l.Facility != 4 || l.Host != "h" ||
					string(l.Text) != "Nov 22 10:00:00 h sshd[12]: hello" {
					t.Fatalf("line %+v %q", l, l.Text)
				}
			}
		})
	}
}

// A real journal: systemd-journal-remote writes a journal file from
// export-format entries and journalctl reads it, as it reads the live
// journal (this machine runs no journald, so the test makes its own file).
func TestRealJournalFile(t *testing.T) {
	remote := "/lib/systemd/systemd-journal-remote"
	if _, err := os.Stat(remote); err != nil {
		remote = "/usr/lib/systemd/systemd-journal-remote"
	}
	_, errJ := exec.LookPath("journalctl")
	if _, err := os.Stat(remote); err != nil || errJ != nil {
		peers.Unavailable(t, "systemd-journal-remote and journalctl are needed (Debian packages systemd-journal-remote, systemd)")
	}
	dir := t.TempDir()
	var export strings.Builder
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).UnixMicro()
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&export, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=jhost\nSYSLOG_IDENTIFIER=backup\n_PID=77\nPRIORITY=%d\nSYSLOG_FACILITY=3\nMESSAGE=nightly backup step %d\n\n", base+int64(i)*1000000, 1000+i, 3+i, i)
	}
	jfile := filepath.Join(dir, "test.journal")
	cmd := exec.Command(remote, "-o", jfile, "-")
	cmd.Stdin = strings.NewReader(export.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
	sink := &recordingSink{}
	cfg := Config{Journal: true, JournalCommand: []string{"journalctl", "--file=" + jfile}, JournalNoFollow: true, FromStart: true, StateDir: dir, Location: time.UTC}
	r := startRunner(t, cfg, sink)
	got := sink.waitFor(t, 3)
	if got[0] != "Nov 22 10:00:00 jhost backup[77]: nightly backup step 0" {
		t.Fatalf("%q", got)
	}
	l := sink.lines[2]
	if l.Priority != 5 || l.Facility != 3 || !l.Time.Equal(time.UnixMicro(base+2000000)) || l.Offset != 2 {
		t.Fatalf("entry %+v", l)
	}
	r.stop()
	// A restart reads after the saved cursor: nothing is shipped twice.
	startRunner(t, cfg, sink)
	time.Sleep(300 * time.Millisecond)
	if n := len(sink.texts()); n != 3 {
		t.Fatalf("%d lines after restart", n)
	}
}

func FuzzReadCheckpoints(f *testing.F) {
	f.Add([]byte(`{"version":1,"sources":{"file:/x":{"gen":"a.b.c.0","offset":10,"dev":1,"ino":2,"fp_len":5,"fp":"ab"},"journal":{"gen":"g","offset":3,"cursor":"s=1"}}}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"sources":{"x":{"offset":-1}}}`))
	f.Add([]byte{0xff, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		cps, err := parseCheckpoints(b)
		if cps == nil {
			t.Fatal("nil map")
		}
		if err == nil {
			for _, c := range cps {
				if c.Offset < 0 || c.FPLen > fingerprintLen {
					t.Fatalf("accepted %+v", c)
				}
			}
		}
	})
}

func FuzzJournalEntry(f *testing.F) {
	f.Add([]byte(`{"__CURSOR":"c","MESSAGE":[1,2,3],"PRIORITY":"9","__REALTIME_TIMESTAMP":"x"}`))
	f.Add([]byte(`{"__CURSOR":"c","MESSAGE":"\u0000"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, msg, err := parseJournalEntry(b)
		if err == nil {
			l := e.line(msg, time.UTC)
			if l.Priority > 7 || l.Facility > 23 {
				t.Fatalf("out of range: %+v", l)
			}
		}
	})
}

type discardSink struct{ n int }

func (d *discardSink) Ship(ctx context.Context, lines []Line) error { d.n += len(lines); return nil }

// BenchmarkFileToSink measures lines/s from a file through the runner.
func BenchmarkFileToSink(b *testing.B) {
	dir := b.TempDir()
	log := filepath.Join(dir, "app.log")
	f, _ := os.Create(log)
	line := "Nov 22 10:00:00 web1 sshd[812]: Failed password for invalid user admin from 198.51.100.7 port 50522 ssh2\n"
	for i := 0; i < b.N; i++ {
		f.WriteString(line)
	}
	f.Close()
	sink := &discardSink{}
	r, _ := NewRunner(Config{Files: []FileConfig{{Path: log}}, StateDir: dir, Poll: time.Millisecond}, sink, time.Now, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	b.SetBytes(int64(len(line)))
	b.ResetTimer()
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	for {
		r.mu.Lock()
		cp := pathCheckpoint(r.cps, log)
		r.mu.Unlock()
		if cp.Offset >= int64(b.N*len(line)) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// TestRotatedWhileStopped: logrotate renamed the file while the collector
// was not running; the rest of the old generation is found by inode and
// read before the new file, and nothing is counted lost.
func TestRotatedWhileStopped(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendFile(t, log, "old 1\nold 2\n")
	sink := &recordingSink{}
	state := t.TempDir()
	r := startRunner(t, Config{Files: []FileConfig{{Path: log}}, StateDir: state}, sink)
	sink.waitFor(t, 2)
	r.stop()
	appendFile(t, log, "old 3 written while stopped\n")
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, log, "new 1\n")
	startRunner(t, Config{Files: []FileConfig{{Path: log}}, StateDir: state}, sink)
	got := sink.waitFor(t, 4)
	want := []string{"old 1", "old 2", "old 3 written while stopped", "new 1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if sink.lines[2].Gen != sink.lines[0].Gen || sink.lines[3].Gen == sink.lines[0].Gen {
		t.Errorf("generations: %q %q %q", sink.lines[0].Gen, sink.lines[2].Gen, sink.lines[3].Gen)
	}
}

// TestRotatedAwayIsCountedLost: the old generation is gone (compressed or
// deleted) before the collector read its end; the loss is counted.
func TestRotatedAwayIsCountedLost(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendFile(t, log, "old 1\n")
	sink := &recordingSink{}
	state := t.TempDir()
	r := startRunner(t, Config{Files: []FileConfig{{Path: log}}, StateDir: state}, sink)
	sink.waitFor(t, 1)
	r.stop()
	appendFile(t, log, "never read\n")
	os.Remove(log)
	appendFile(t, log, "new 1\n")
	set := metrics.NewSet()
	r2, err := NewRunner(Config{Files: []FileConfig{{Path: log}}, StateDir: state, Poll: 10 * time.Millisecond, BatchDelay: 10 * time.Millisecond}, sink, time.Now, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r2.Run(ctx); close(done) }()
	sink.waitFor(t, 2)
	cancel()
	<-done
	if rep := r2.Report("test", 0, 0); rep.LostGenerations != 1 {
		t.Errorf("lost generations = %d, want 1", rep.LostGenerations)
	}
}

// TestTruncateThenGrowPastOldSize: the file is truncated and rewritten
// beyond its old size between two polls; the size never looks smaller,
// the first bytes give it away, and the new content is read from 0.
func TestTruncateThenGrowPastOldSize(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendFile(t, log, "2026-11-25T10:00:00 first generation line\n")
	sink := &recordingSink{}
	startRunner(t, Config{Files: []FileConfig{{Path: log}}, StateDir: dir}, sink)
	sink.waitFor(t, 1)
	time.Sleep(50 * time.Millisecond) // the follower is idle at the end
	// One write replaces the content: truncate and grow in a single step.
	if err := os.WriteFile(log, []byte("2026-11-25T11:11:11 SECOND generation, longer than the first one was\nand another line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := sink.waitFor(t, 3)
	want := []string{"2026-11-25T10:00:00 first generation line", "2026-11-25T11:11:11 SECOND generation, longer than the first one was", "and another line"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if sink.lines[1].Offset != 0 || sink.lines[1].Gen == sink.lines[0].Gen {
		t.Errorf("rewritten file is not a new generation read from 0: %+v", sink.lines[1])
	}
}

// TestInodeReuse: while the collector is stopped the file is deleted and
// a new one, likely on the same inode, written; the checkpoint's offset
// must not be applied to the new content.
func TestInodeReuse(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendFile(t, log, "old content line 1\nold content line 2\n")
	sink := &recordingSink{}
	state := t.TempDir()
	r := startRunner(t, Config{Files: []FileConfig{{Path: log}}, StateDir: state}, sink)
	sink.waitFor(t, 2)
	r.stop()
	os.Remove(log)
	appendFile(t, log, "NEW content, first line, long enough to pass the old offset\nnew 2\n")
	startRunner(t, Config{Files: []FileConfig{{Path: log}}, StateDir: state}, sink)
	got := sink.waitFor(t, 4)
	if got[2] != "NEW content, first line, long enough to pass the old offset" || got[3] != "new 2" {
		t.Fatalf("got %q", got)
	}
}

// pathCheckpoint is the checkpoint of the generation last read at path.
func pathCheckpoint(cps map[string]checkpoint, path string) checkpoint {
	var best checkpoint
	for _, cp := range cps {
		if cp.Path == path && cp.Offset >= best.Offset {
			best = cp
		}
	}
	return best
}

// FuzzCheckpointRoundTrip: what the runner writes, the parser reads back
// the same.
func FuzzCheckpointRoundTrip(f *testing.F) {
	f.Add("file:/var/log/app.log", "/var/log/app.log.1", "fe00.12.tabc.0", int64(100), uint64(1), uint64(2), 64, "0123abcd", int64(0), int64(200), 1, "")
	f.Add("", "", "g", int64(3), uint64(0), uint64(0), 0, "", int64(0), int64(0), 0, "s=1;i=2")
	f.Add("file:/a\"b\\c\n", "/x\xff", "g\x00", int64(0), uint64(1<<63), uint64(1), 1, "x", int64(0), int64(0), 0, "")
	f.Fuzz(func(t *testing.T, source, path, gen string, off int64, dev, ino uint64, fpLen int, fp string, fpAt, seen int64, epoch int, cursor string) {
		if source != "" {
			source = "file:" + strings.TrimPrefix(source, "file:")
		}
		cp := checkpoint{Source: source, Path: path, Gen: gen, Offset: off, Dev: dev, Ino: ino, FPLen: fpLen, FP: fp, FPAt: fpAt, Seen: seen, Epoch: epoch, Cursor: cursor}
		key := "journal"
		if source != "" {
			key = source + "|" + gen
		}
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		if err := appendCheckpointFile(w, nil, map[string]checkpoint{key: cp}); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		got, err := parseCheckpoints(buf.Bytes())
		if err != nil {
			return // rejected as corrupt (a negative offset, ...): never read wrongly
		}
		if !utf8.ValidString(source+path+gen+fp+cursor) || source != "" && gen == "" {
			return // invalid UTF-8 is written as U+FFFD
		}
		if source != "" && path == "" {
			cp.Path, _ = cutSource(source)
		}
		if g, ok := got[key]; !ok || g != cp {
			t.Fatalf("wrote %+v as %s, read %+v", cp, buf.Bytes(), got)
		}
	})
}
