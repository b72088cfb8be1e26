package collector

import (
	"context"
	"errors"
	"io"
	"os"
	"sort"
	"sync"
	"time"
)

// The collector reads files itself rather than through a tail library:
// the checkpoint needs each line's exact start offset, a file must be
// identified by its content rather than its name, a replaced file must be
// read to its end while the new one is already read, and a truncated
// file's lost end must be measured.
//
// Two goroutines share the work. The watcher (watch.go) opens every new
// file the moment inotify reports it, or a rescan finds it, so that a file
// renamed or deleted a moment later is still read through its descriptor;
// it never waits for shipping. The tailer, below, owns every open file
// and reads those that changed, and all of them on a sweep.

// tailFile is one open file (an inode).
type tailFile struct {
	f       *os.File
	id      fileID
	path    string      // where it was last seen
	src     *fileSource // the configured pattern it matched (nil: a possible copy)
	matched bool        // still at a path a pattern matches
	opened  time.Time
	g       *generation // the generation read from it; nil while undecided or a copy
	copyOf  *generation // it holds the same first bytes as this generation
	source  string      // the source a new generation takes ("": file: and path)
	// bornEmpty: it was empty when opened, so written since: a new file
	// or a copy being made, not an old one renamed.
	bornEmpty bool
}

// tailer reads the followed files; see above.
type tailer struct {
	sources []*fileSource
	out     chan<- Line
	now     func() time.Time
	// poll: the sweep of every file where inotify is missing; with
	// inotify, sweeps are four times rarer (a file system whose writes
	// inotify does not see, NFS say, is still read).
	poll        time.Duration
	rotateQuiet time.Duration // a deleted file is closed after this quiet at its end
	rotateWait  time.Duration // a file renamed out of every pattern, after this quiet
	maxLine     int
	once        bool
	logf        func(msg string, args ...any)

	onTruncatedLine func()
	// onLost counts bytes that existed but cannot be read (lines is an
	// estimate); generation is set when a whole generation went unread.
	onLost func(source, path string, bytes, lines int64, generation bool)
	// onFinish: a generation ended; its checkpoint can go once it is
	// acknowledged up to offset.
	onFinish func(key string, offset int64)
	// onBirth: a generation is being read; its checkpoint exists from
	// now on, so that after a restart it is found wherever it went, even
	// before any of its lines was acknowledged.
	onBirth func(key string, cp checkpoint)

	reg      *registry
	files    map[fileID]*tailFile
	savedIDs map[fileID][]checkpoint // checkpoints not yet resumed, by inode
	saved    []checkpoint
	chunk    []byte

	queue      []Line // read, not yet taken by the runner
	qHead      int
	queueBytes int
	starved    bool // a file was not read for a full queue
	order      []*tailFile
	done       []*generation // ended lately, to know their copies
	sweeps     int
	scratch    []byte // fingerprintLen bytes for comparing first bytes
}

// maxChunks bounds how much of one file a round reads, so that one busy
// file does not delay the others.
const maxChunks = 16

func (t *tailer) run(ctx context.Context, w *watcher) {
	t.files = map[fileID]*tailFile{}
	t.chunk = make([]byte, 64<<10)
	defer t.closeAll()
	t.reattach(ctx)
	if t.once {
		w.scanAll()
		t.takeQueue(ctx)
		for ctx.Err() == nil {
			more := false
			for _, tf := range t.sorted() {
				more = t.service(ctx, tf, true) || more
			}
			if !t.flush(ctx) {
				return
			}
			if !more && !t.starved {
				break
			}
			t.starved = false
		}
		for _, tf := range t.sorted() {
			if tf.g != nil {
				t.flushJoin(ctx, tf.g) // a last line without newline waits for the next run
			}
		}
		t.flush(ctx)
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.run(ctx) }()
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	lastSweep := time.Time{}
	pending := map[fileID]bool{}
	for ctx.Err() == nil {
		t.push()
		dirty, all := t.takeQueue(ctx)
		every := t.poll
		if !t.reg.isPolling() {
			every = 4 * t.poll
		}
		if time.Since(lastSweep) >= every {
			all, lastSweep = true, time.Now()
			t.sweeps++
		}
		if t.starved && len(t.queue)-t.qHead < queueLines/2 && t.queueBytes < queueBytes/2 {
			all, t.starved = true, false
		}
		for id := range pending {
			dirty[id] = true
		}
		clear(pending)
		todo := t.order[:0]
		if all {
			todo = t.sorted()
		} else {
			// Only what changed: with a thousand files, a write to one
			// costs one look, not a thousand.
			for id := range dirty {
				if tf := t.files[id]; tf != nil {
					todo = append(todo, tf)
				}
			}
			sortFiles(todo)
		}
		for _, tf := range todo {
			if t.files[tf.id] == tf && t.service(ctx, tf, all) {
				pending[tf.id] = true
			}
		}
		t.order = todo[:0]
		t.push()
		if len(pending) > 0 {
			continue
		}
		timer.Reset(max(time.Millisecond, every-time.Since(lastSweep)))
		var out chan<- Line
		var next Line
		if t.qHead < len(t.queue) {
			out, next = t.out, t.queue[t.qHead]
		}
		select {
		case <-ctx.Done():
			return
		case <-t.reg.wake:
		case <-timer.C:
		case out <- next:
			t.pop()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// The lines read wait in a short queue for the runner, so that while it
// ships, the tailer goes on watching every file (a truncation, a new
// copy, how far a file grew) and only stops reading.
const (
	queueLines = 512
	queueBytes = 512 << 10
)

func (t *tailer) full() bool {
	return len(t.queue)-t.qHead >= queueLines || t.queueBytes >= queueBytes
}

// push hands queued lines to the runner as far as it takes them now.
func (t *tailer) push() {
	for t.qHead < len(t.queue) {
		select {
		case t.out <- t.queue[t.qHead]:
			t.pop()
		default:
			return
		}
	}
}

func (t *tailer) pop() {
	t.queueBytes -= len(t.queue[t.qHead].Text)
	t.queue[t.qHead] = Line{}
	t.qHead++
	if t.qHead == len(t.queue) {
		t.queue, t.qHead = t.queue[:0], 0
	} else if t.qHead > 256 && t.qHead > len(t.queue)/2 {
		n := copy(t.queue, t.queue[t.qHead:])
		clear(t.queue[n:])
		t.queue, t.qHead = t.queue[:n], 0
	}
}

// flush hands every queued line to the runner, waiting for it.
func (t *tailer) flush(ctx context.Context) bool {
	for t.qHead < len(t.queue) {
		select {
		case t.out <- t.queue[t.qHead]:
			t.pop()
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// sorted lists the open files in a stable order: the generations of one
// source then ship in the order they were written.
func (t *tailer) sorted() []*tailFile {
	out := t.order[:0]
	for _, tf := range t.files {
		out = append(out, tf)
	}
	sortFiles(out)
	t.order = out
	return out
}

func sortFiles(out []*tailFile) {
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.g != nil && b.g != nil && a.g.source == b.g.source && a.g.cp.Epoch == b.g.cp.Epoch && a.matched != b.matched {
			return !a.matched // a rotated generation before the one that replaced it
		}
		return a.opened.Before(b.opened) || a.opened.Equal(b.opened) && a.path < b.path
	})
}

// takeQueue admits what the watcher opened and applies the moves it saw;
// it returns the files written to since the last call.
func (t *tailer) takeQueue(ctx context.Context) (map[fileID]bool, bool) {
	q, moves, dirty, all := t.reg.take()
	for _, o := range q {
		t.admit(ctx, o)
	}
	for _, m := range moves {
		if tf := t.files[m.id]; tf != nil {
			if m.path != "" {
				tf.path = m.path
			}
			tf.matched = m.matched
			dirty[m.id] = true
		}
	}
	return dirty, all
}

// service reads what is new in one file; true when more is waiting.
// sweep adds the checks that need a system call for each file.
func (t *tailer) service(ctx context.Context, tf *tailFile, sweep bool) bool {
	st, err := statFile(tf.f)
	if err != nil {
		t.logf("cannot read log file; leaving it", "file", tf.path, "err", err)
		t.closeFile(ctx, tf, true)
		return false
	}
	if sweep && tf.matched && !t.once && t.sweeps%8 == 0 {
		// Still where it was? (The watcher's events say so sooner; this
		// is the safety net, every few sweeps.)
		if ps, err := statPath(tf.path); err != nil || ps.id != tf.id {
			t.locate(tf)
		}
	}
	if tf.g == nil {
		t.serviceUndecided(ctx, tf, st)
		return false
	}
	g := tf.g
	if st.size < g.readPos || st.size > g.readPos && t.rewritten(tf) {
		t.truncated(ctx, tf, st)
		return true
	}
	if !t.startOf(tf, st) {
		return false
	}
	if !t.fillHead(tf, st) {
		t.truncated(ctx, tf, st)
		return true
	}
	g.known = max(g.known, st.size)
	if st.size > g.readPos {
		if t.full() {
			t.starved = true
			return false
		}
		for i := 0; i < maxChunks && !t.full(); i++ {
			n, err := tf.f.ReadAt(t.chunk, g.readPos)
			if n > 0 && t.rewritten(tf) {
				// Truncated while reading: what was read may be the
				// next generation's bytes (or a hole's zeros).
				t.truncated(ctx, tf, st)
				return true
			}
			if n > 0 {
				g.lastData = t.now()
				if !t.consume(ctx, g, t.chunk[:n]) {
					return false
				}
			}
			if n < len(t.chunk) || err != nil {
				if err != nil && !errors.Is(err, io.EOF) {
					t.logf("read error", "file", tf.path, "err", err)
				}
				return false
			}
		}
		return true
	}
	if g.join != nil && g.join.due(t.now()) {
		if ev, ok := g.join.flush(); ok && !t.send(ctx, g, ev.text, ev.from, ev.end) {
			return false
		}
	}
	if t.once {
		return false
	}
	if g.fromCopy && !g.settled {
		// Nobody writes to a copy: at its end the generation is complete,
		// and what was seen beyond it is lost now, not when it is closed.
		t.settle(ctx, g, tf.path)
	}
	quiet := t.now().Sub(g.lastData)
	switch {
	case st.nlink == 0 && quiet >= t.rotateQuiet:
		t.closeFile(ctx, tf, true)
	case g.fromCopy && !tf.matched, !tf.matched && quiet >= t.rotateWait:
		// Closed only when no pattern matches where it is now: reopened
		// by a rescan, it would look new.
		if t.locate(tf); !tf.matched {
			t.closeFile(ctx, tf, true)
		}
	}
	return false
}

// locate learns where tf is now and whether a pattern matches it there.
func (t *tailer) locate(tf *tailFile) {
	if p, ok := currentPath(tf.f); ok {
		tf.path, tf.matched = p, t.matches(p)
	} else if ps, err := statPath(tf.path); err != nil || ps.id != tf.id {
		tf.matched = false
	}
}

func (t *tailer) startsWithHole(tf *tailFile) bool {
	var b [1]byte
	n, _ := tf.f.ReadAt(b[:], 0)
	return n == 1 && b[0] == 0
}

// startOf settles where a generation not yet read starts (after a
// hole); false while it holds only NULs.
func (t *tailer) startOf(tf *tailFile, st fileStat) bool {
	g := tf.g
	if g.readPos == g.cp.FPAt && len(g.head) == 0 && st.size > g.readPos {
		return t.skipHole(tf, st)
	}
	return true
}

// skipHole steps over NUL bytes at the start of a generation: the hole a
// writer without O_APPEND leaves after a copytruncate. When the
// generation follows a truncation, the hole's length is how long the old
// one was, and what of it was neither read nor found in the copy is lost.
// false: only NULs so far, wait for the data.
func (t *tailer) skipHole(tf *tailFile, st fileStat) bool {
	g := tf.g
	b, err := readAt(tf.f, g.readPos, 1)
	if err != nil || len(b) == 0 || b[0] != 0 {
		g.holeCredit = -1
		return true
	}
	start := dataStart(tf.f, g.readPos, st.size)
	if start >= st.size {
		return false
	}
	if g.holeCredit >= 0 {
		if lost := start - g.holeCredit; lost > 0 {
			t.logf("bytes written before a copytruncate were not in the copy; counted lost", "file", tf.path, "bytes", lost)
			t.onLost(g.source, tf.path, lost, linesIn(g, lost), false)
		}
	}
	g.holeCredit = -1
	g.readPos, g.bufAt, g.cp.FPAt, g.cp.Offset = start, start, start, start
	return true
}

// fillHead reads a generation's first bytes as soon as they are written,
// whether or not the lines are read yet: a copy of it, or its truncation,
// is recognised by them. false: the bytes there are not those seen before.
func (t *tailer) fillHead(tf *tailFile, st fileStat) bool {
	g := tf.g
	if len(g.head) >= fingerprintLen || st.size <= g.cp.FPAt+int64(len(g.head)) {
		return true
	}
	b, err := readAt(tf.f, g.cp.FPAt, fingerprintLen)
	if err != nil || len(b) < len(g.head) {
		return true
	}
	if string(b[:len(g.head)]) != string(g.head) {
		return false
	}
	g.head = append(g.head[:0], b...)
	g.cp.FPLen, g.cp.FP = len(g.head), fpHash(g.head)
	return true
}

// rewritten reports whether the generation's first bytes changed: the
// file was truncated and written past the old size between two looks.
func (t *tailer) rewritten(tf *tailFile) bool {
	g := tf.g
	if len(g.head) == 0 {
		return false
	}
	if cap(t.scratch) < fingerprintLen {
		t.scratch = make([]byte, fingerprintLen)
	}
	b := t.scratch[:len(g.head)]
	n, err := tf.f.ReadAt(b, g.cp.FPAt)
	if err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return string(b[:n]) != string(g.head)
}

// truncated ends the generation tf carried: what the copy logrotate made
// (copytruncate) holds beyond what was read is read from it, under the
// same generation; what neither holds is counted lost. The file goes on
// as a new generation.
func (t *tailer) truncated(ctx context.Context, tf *tailFile, st fileStat) {
	g := tf.g
	before := max(g.known, g.readPos)
	if seen := t.reg.takeEnded(tf.id); !t.startsWithHole(tf) {
		// What the watcher saw it grow to before the truncation. With a
		// hole the hole itself says it exactly (skipHole), and the
		// watcher may have seen the next generation's growth.
		before = max(before, seen)
	}
	g.known = before
	accounted := before
	if c, cst := t.findCopy(tf, g); c != nil {
		t.logf("file truncated in place (copytruncate); reading its end from the copy", "file", tf.path, "copy", c.path)
		c.g, c.copyOf, g.fromCopy = g, nil, true
		g.cp.Dev, g.cp.Ino, g.cp.Path = c.id.dev, c.id.ino, c.path
		g.known = max(before, cst.size)
		accounted = g.known
	} else {
		t.endGeneration(ctx, g, tf.path)
	}
	ng := newGeneration(tf.src, g.source, tf.id, tf.path, g.cp.Epoch+1, 0, t.now(), birthOf(tf.f, t.now()))
	ng.holeCredit, ng.lines, ng.lineBytes = accounted, g.lines, g.lineBytes
	tf.g = ng
	t.born(ng)
}

func (t *tailer) born(g *generation) {
	if t.onBirth != nil {
		t.onBirth(g.key(), g.cp)
	}
}

// endGeneration: nothing more of g will be read. What it was seen to hold
// beyond what was read is lost; otherwise a last line without newline is
// complete.
func (t *tailer) endGeneration(ctx context.Context, g *generation, path string) {
	t.settle(ctx, g, path)
	g.ended = true
	// Remembered a while: a copy of it appearing later (logrotate's,
	// matched by app.log*) is known and not read again.
	if len(t.done) >= 64 {
		t.done = append(t.done[:0], t.done[1:]...)
	}
	t.done = append(t.done, g)
	t.finishIfUnused(g)
}

// finishIfUnused lets an ended generation's checkpoint go, unless an open
// copy of it still needs it: after a restart, the checkpoint is how the
// copy is known.
func (t *tailer) finishIfUnused(g *generation) {
	for _, o := range t.files {
		if o.copyOf == g || o.g == g {
			return
		}
	}
	t.onFinish(g.key(), g.cp.Offset)
}

// settle counts what g was seen to hold beyond what was read as lost, or
// ships its last line without newline.
func (t *tailer) settle(ctx context.Context, g *generation, path string) {
	g.settled = true
	if g.readPos < g.known {
		lost := g.known - g.bufAt
		g.buf, g.skipToNewline = g.buf[:0], false
		t.flushJoin(ctx, g)
		t.logf("a file's end could not be read before it was truncated or removed; counted lost", "file", path, "bytes", lost)
		t.onLost(g.source, path, lost, linesIn(g, lost), false)
		g.known, g.bufAt = g.readPos, g.readPos
	} else {
		t.flushPartial(ctx, g)
	}
}

func (t *tailer) closeFile(ctx context.Context, tf *tailFile, end bool) {
	tf.f.Close()
	delete(t.files, tf.id)
	t.reg.forget(tf.id, tf.path)
	if end && tf.g != nil {
		t.endGeneration(ctx, tf.g, tf.path)
	}
	if g := tf.copyOf; g != nil && g.ended {
		t.finishIfUnused(g)
	}
}

func (t *tailer) closeAll() {
	for _, tf := range t.files {
		tf.f.Close()
		t.reg.forget(tf.id, tf.path)
	}
	t.files = nil
}
