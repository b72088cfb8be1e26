package collector

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
	// The two globs of one way run side by side: half the time, and
	// twice the load, which the tests must bear anyway.
	for _, rc := range cases {
		t.Run(rc.name, func(t *testing.T) {
			for _, glob := range []string{"app.log", "app.log*"} {
				t.Run(glob, func(t *testing.T) {
					t.Parallel()
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
		})
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
			t.Parallel()
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
			t.Parallel()
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
			t.Parallel()
			dir := t.TempDir()
			logs := filepath.Join(dir, "logs")
			os.MkdirAll(logs, 0o755)
			path := filepath.Join(logs, "app.log")
			cfg := Config{Files: []FileConfig{{Path: filepath.Join(logs, glob)}}}
			p := startFastPipeline(t, dir, cfg)
			w := startWriter(t, path, 20000, true, false)
			time.Sleep(300 * time.Millisecond)
			logrotate(t, bin, dir, path, rotCreate)
			rotated := w.n.Load()
			time.Sleep(300 * time.Millisecond)
			// Stopped once the rotated file was read: rotated again while
			// the collector is stopped, it is compressed, and what was not
			// read of it would be lost (and counted).
			for deadline := time.Now().Add(30 * time.Second); int64(p.shipped()) < rotated+400 && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
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

// TestRestartAfterCopytruncate: one inode, two generations (before and
// after a copytruncate) with checkpoints; after a restart the one whose
// first bytes are in the file goes on, the other is found in the copy,
// and nothing is read twice.
func TestRestartAfterCopytruncate(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	path := filepath.Join(logs, "app.log")
	cfg := Config{Files: []FileConfig{{Path: path}}}
	line := func(f *os.File, n int) {
		fmt.Fprintf(f, "rotatetest n=%08d the quick brown fox jumps over the dog\n", n)
	}
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	defer f.Close()
	n := 0
	for ; n < 1000; n++ {
		line(f, n)
	}
	p := startFastPipeline(t, dir, cfg)
	waitShipped := func(p *pipeline, want int) {
		for deadline := time.Now().Add(30 * time.Second); int(p.shipped()) < want && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitShipped(p, n)
	b, _ := os.ReadFile(path)
	os.WriteFile(path+".1", b, 0o644)
	os.Truncate(path, 0)
	for ; n < 1500; n++ {
		line(f, n)
	}
	waitShipped(p, n)
	time.Sleep(1200 * time.Millisecond) // the checkpoints are saved
	p.stop()
	for ; n < 2000; n++ {
		line(f, n)
	}
	p2 := startFastPipelineTo(t, dir, cfg, p.sink)
	o := outcome{written: int64(n), logs: p2.logs, sink: p.sink}
	o.lost, o.missing = waitAccounted(t, p2, o.written)
	o.check(t, true)
	if len(o.missing) > 0 {
		t.Errorf("%d lines lost", len(o.missing))
	}
}

// TestPollingWithoutInotify: where inotify is missing, the collector polls:
// new files are found by the rescans, and rotations lose nothing.
func TestPollingWithoutInotify(t *testing.T) {
	rot := rotation{name: "create", directives: []string{rotCreate, rotDelay}, reopen: true, every: 350 * time.Millisecond}
	bin := needLogrotate(t)
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	path := filepath.Join(logs, "app.log")
	p := startFastPipeline(t, dir, Config{Files: []FileConfig{{Path: filepath.Join(logs, "*.log*")}}, NoInotify: true})
	w := startWriter(t, path, 20000, rot.reopen, false)
	for i := 0; i < 3; i++ {
		time.Sleep(rot.every)
		logrotate(t, bin, dir, path, rot.directives[i%2])
	}
	// A file that appears later is found by a rescan.
	other := filepath.Join(logs, "other.log")
	os.WriteFile(other, []byte("rotatetest n=99999999 the quick brown fox jumps over the dog\n"), 0o644)
	time.Sleep(rot.every)
	w.finish()
	o := outcome{written: w.n.Load(), logs: p.logs, sink: p.sink}
	o.lost, o.missing = waitAccounted(t, p, o.written)
	o.check(t, true)
	if len(o.missing) > 0 {
		t.Errorf("%d lines lost", len(o.missing))
	}
	for deadline := time.Now().Add(10 * time.Second); p.stored(t)[99999999] == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a file created later was not found without inotify")
		}
	}
}
