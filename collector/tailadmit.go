package collector

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// opened is a file the watcher opened for the tailer.
type opened struct {
	f       *os.File
	st      fileStat
	path    string
	src     *fileSource // nil: not matched, maybe a rotation's copy
	source  string      // the source a new generation takes ("": from path)
	matched bool
}

// admit takes a file the watcher opened: a generation saved at this
// inode goes on from its checkpoint; the same first bytes as a
// generation being read make it a copy of that one (logrotate's
// copytruncate, or the glob app.log* matching a rotated name), never
// read twice; anything else is a new generation read from its start.
func (t *tailer) admit(ctx context.Context, o opened) {
	if tf := t.files[o.st.id]; tf != nil {
		o.f.Close()
		tf.path, tf.matched = o.path, o.matched || tf.matched
		return
	}
	tf := &tailFile{f: o.f, id: o.st.id, path: o.path, src: o.src, matched: o.matched, opened: t.now(), source: o.source,
		bornEmpty: o.st.size == 0}
	t.files[tf.id] = tf
	if cps := t.savedIDs[tf.id]; len(cps) > 0 {
		delete(t.savedIDs, tf.id)
		if tf.src == nil {
			tf.src = t.sourceFor(cps[0].Source)
		}
		t.resumeAny(ctx, tf, cps, o.st)
		return
	}
	t.decideNew(ctx, tf)
}

// resumeAny: an inode can have had several generations (truncated in
// place); the one whose first bytes are there now goes on, the others
// are looked for in copies or counted lost.
func (t *tailer) resumeAny(ctx context.Context, tf *tailFile, cps []checkpoint, st fileStat) {
	best := -1
	for i, cp := range cps {
		head, err := readAt(tf.f, cp.FPAt, cp.FPLen)
		if err == nil && len(head) == cp.FPLen && cp.FPLen > 0 && fpHash(head) == cp.FP && st.size >= cp.Offset {
			best = i
		}
	}
	if best < 0 {
		// None is there as it was: the latest decides (truncated while
		// stopped, or other content).
		for i, cp := range cps {
			if best < 0 || cp.Epoch > cps[best].Epoch {
				best = i
			}
		}
	}
	for i, cp := range cps {
		if i != best {
			t.recoverSaved(ctx, cp, filepath.Dir(tf.path))
		}
	}
	t.resume(ctx, tf, cps[best], st)
}

// decideNew settles what a file with no checkpoint is.
func (t *tailer) decideNew(ctx context.Context, tf *tailFile) {
	head, err := headOf(tf.f)
	if err != nil {
		t.logf("cannot read log file; leaving it", "file", tf.path, "err", err)
		t.closeFile(ctx, tf, false)
		return
	}
	if len(head) == 0 {
		return // empty: a new file, or a copy being made; decided once it has bytes
	}
	if g := t.copySource(tf, head); g != nil {
		tf.copyOf = g
		return
	}
	if tf.src == nil {
		// A rotation of a followed file that is not a copy of anything
		// read: when it was created empty and written since, it is a
		// copy of a generation that came and went unread between two
		// looks (copytruncate twice); read it. Otherwise it is an old
		// rotation renamed again.
		parent := t.rotationParent(tf)
		if !tf.bornEmpty || parent == nil {
			t.closeFile(ctx, tf, false)
			return
		}
		tf.src, tf.source = parent.src, parent.g.source
	}
	source := tf.source
	if source == "" {
		source = "file:" + tf.path
	}
	tf.g = newGeneration(tf.src, source, tf.id, tf.path, 0, 0, t.now(), birthOf(tf.f, t.now()))
	tf.g.lastData = t.now()
	t.born(tf.g)
}

// headOf reads a file's first bytes after any hole of NULs.
func headOf(f *os.File) ([]byte, error) {
	b, err := readAt(f, 0, fingerprintLen)
	if err != nil || len(b) == 0 || b[0] != 0 {
		return b, err
	}
	st, err := statFile(f)
	if err != nil {
		return nil, err
	}
	b, err = readAt(f, dataStart(f, 0, st.size), fingerprintLen)
	if len(b) > 0 && b[0] == 0 {
		return nil, err // still a hole there (a copy being made): later
	}
	return b, err
}

// copySource finds the generation whose first bytes this file begins
// with (as far as either goes).
func (t *tailer) copySource(tf *tailFile, head []byte) *generation {
	dir := filepath.Dir(tf.path)
	for _, o := range t.files {
		// The first bytes of every generation beside it (a copy is made
		// in the same folder) as written so far.
		if o.g != nil && len(o.g.head) < min(len(head), fingerprintLen) && o != tf && filepath.Dir(o.path) == dir {
			if st, err := statFile(o.f); err == nil && st.size >= o.g.readPos && t.startOf(o, st) {
				t.fillHead(o, st)
			}
		}
	}
	var best *generation
	for _, o := range t.files {
		g := o.g
		if o == tf || g == nil || len(g.head) == 0 {
			continue
		}
		n := min(len(head), len(g.head))
		if !bytes.Equal(head[:n], g.head[:n]) {
			continue
		}
		if best == nil || filepath.Dir(g.cp.Path) == filepath.Dir(tf.path) {
			best = g
		}
	}
	if best != nil {
		return best
	}
	for i := len(t.done) - 1; i >= 0; i-- {
		g := t.done[i]
		if n := min(len(head), len(g.head)); n > 0 && bytes.Equal(head[:n], g.head[:n]) {
			return g
		}
	}
	return nil
}

// rotationParent is the open file whose rotation tf's name is.
func (t *tailer) rotationParent(tf *tailFile) *tailFile {
	for _, o := range t.files {
		if o.g != nil && o.src != nil && o.matched && filepath.Dir(o.path) == filepath.Dir(tf.path) && rotationOf(tf.path, filepath.Base(o.path)) {
			return o
		}
	}
	return nil
}

// serviceUndecided looks again at a file that is empty or a possible copy.
func (t *tailer) serviceUndecided(ctx context.Context, tf *tailFile, st fileStat) {
	age := t.now().Sub(tf.opened)
	if tf.copyOf != nil {
		head, _ := headOf(tf.f)
		n := min(len(head), len(tf.copyOf.head))
		if n > 0 && !bytes.Equal(head[:n], tf.copyOf.head[:n]) {
			tf.copyOf = nil // it went its own way: a file of its own
			t.decideNew(ctx, tf)
			return
		}
	} else if st.size > 0 {
		t.decideNew(ctx, tf)
		return
	}
	// A copy nobody needed, or an empty file gone: close it. A copy at a
	// path a pattern matches stays open while it exists, so that it is
	// known and never read as new.
	if t.once || st.nlink == 0 && age >= t.rotateQuiet || !tf.matched && tf.src == nil && age >= time.Minute {
		t.closeFile(ctx, tf, false)
	}
}

// findCopy looks for logrotate's copy of g: among the open possible
// copies, then in the folder. A copy begins with g's first bytes, holds
// at g.readPos the bytes read last, and goes beyond them.
func (t *tailer) findCopy(tf *tailFile, g *generation) (*tailFile, fileStat) {
	var best *tailFile
	var bestSt fileStat
	try := func(c *tailFile) {
		st, err := statFile(c.f)
		if err != nil || st.size <= g.readPos || best != nil && st.size <= bestSt.size || !t.holdsGeneration(c.f, g, st) {
			return
		}
		best, bestSt = c, st
	}
	for _, c := range t.files {
		if c.copyOf == g || c != tf && c.g == nil && c.copyOf == nil {
			try(c)
		}
	}
	if best != nil {
		return best, bestSt
	}
	dir, base := filepath.Dir(tf.path), filepath.Base(g.source)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		name := e.Name()
		if isCompressed(name) || !rotationOf(name, base) && !rotationOf(name, filepath.Base(tf.path)) {
			continue
		}
		p := filepath.Join(dir, name)
		st, err := statPath(p)
		if err != nil || !st.reg || t.files[st.id] != nil || st.size <= g.readPos {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if fst, err := statFile(f); err == nil && t.files[fst.id] == nil && t.holdsGeneration(f, g, fst) && (best == nil || fst.size > bestSt.size) {
			if best != nil {
				t.closeFile(context.Background(), best, false)
			}
			best = &tailFile{f: f, id: fst.id, path: p, src: nil, opened: t.now()}
			bestSt = fst
			t.files[fst.id] = best
			t.reg.remember(fst.id, p)
			continue
		}
		f.Close()
	}
	return best, bestSt
}

// holdsGeneration: f begins with g's first bytes and has, before
// g.readPos, the bytes g read last.
func (t *tailer) holdsGeneration(f *os.File, g *generation, st fileStat) bool {
	if len(g.head) == 0 || st.size <= g.readPos {
		return false
	}
	head, err := readAt(f, g.cp.FPAt, len(g.head))
	if err != nil || !bytes.Equal(head, g.head) {
		return false
	}
	if len(g.tail) > 0 {
		tail, err := readAt(f, g.readPos-int64(len(g.tail)), len(g.tail))
		if err != nil || !bytes.Equal(tail, g.tail) {
			return false
		}
	}
	return true
}

// resume goes on with a saved generation found at tf's inode.
func (t *tailer) resume(ctx context.Context, tf *tailFile, cp checkpoint, st fileStat) {
	if tf.src == nil {
		tf.src = &fileSource{FileConfig: FileConfig{Path: cp.Path}}
	}
	head, err := readAt(tf.f, cp.FPAt, cp.FPLen)
	same := err == nil && len(head) == cp.FPLen && (cp.FPLen == 0 || fpHash(head) == cp.FP)
	if same && st.size >= cp.Offset {
		tf.g = resumedGeneration(tf.src, cp, head, t.now())
		tf.source = cp.Source
		return
	}
	// Truncated, or other content on the inode, while the collector was
	// stopped: the rest of the saved generation may be in a copy.
	t.recoverSaved(ctx, cp, filepath.Dir(tf.path))
	if same {
		tf.g = newGeneration(tf.src, cp.Source, tf.id, tf.path, cp.Epoch+1, 0, t.now(), birthOf(tf.f, t.now()))
		t.born(tf.g)
		return
	}
	tf.source = cp.Source
	t.decideNew(ctx, tf)
}

// reattach finds, before anything else is read, the files of the saved
// generations wherever they are now: a generation rotated while the
// collector was stopped is read to its end before its successor.
func (t *tailer) reattach(ctx context.Context) {
	t.savedIDs = map[fileID][]checkpoint{}
	sort.Slice(t.saved, func(i, j int) bool { return t.saved[i].Offset < t.saved[j].Offset })
	for _, cp := range t.saved {
		if t.sourceFor(cp.Source) == nil {
			continue // no longer configured
		}
		id := fileID{cp.Dev, cp.Ino}
		t.savedIDs[id] = append(t.savedIDs[id], cp)
	}
	for _, cp := range t.saved {
		id := fileID{cp.Dev, cp.Ino}
		cps := t.savedIDs[id]
		if len(cps) == 0 {
			continue
		}
		src := t.sourceFor(cp.Source)
		if f, st, p := findInode(cps[len(cps)-1].Path, id); f != nil {
			t.reg.remember(id, p)
			t.admit(ctx, opened{f: f, st: st, path: p, src: src, matched: t.matches(p)})
			continue
		}
		delete(t.savedIDs, id)
		for _, cp := range cps {
			t.recoverSaved(ctx, cp, filepath.Dir(cp.Path))
		}
	}
}

// recoverSaved reads a saved generation whose inode is gone (or holds
// other bytes) from a copy, or counts it lost.
func (t *tailer) recoverSaved(ctx context.Context, cp checkpoint, dir string) {
	src := t.sourceFor(cp.Source)
	if src == nil {
		src = &fileSource{FileConfig: FileConfig{Path: cp.Path}}
	}
	if cp.FPLen > 0 {
		base, _ := cutSource(cp.Source)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			name := e.Name()
			if isCompressed(name) || name != filepath.Base(base) && !rotationOf(name, filepath.Base(base)) && !rotationOf(name, filepath.Base(cp.Path)) {
				continue
			}
			p := filepath.Join(dir, name)
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			st, err := statFile(f)
			head, _ := readAt(f, cp.FPAt, cp.FPLen)
			if err == nil && t.files[st.id] == nil && st.size >= cp.Offset && len(head) == cp.FPLen && fpHash(head) == cp.FP {
				t.logf("reading the rest of a file rotated while the collector was stopped", "file", p)
				tf := &tailFile{f: f, id: st.id, path: p, src: src, matched: t.matches(p), opened: t.now(), source: cp.Source}
				tf.g = resumedGeneration(src, cp, head, t.now())
				tf.g.fromCopy = st.id != fileID{cp.Dev, cp.Ino}
				t.files[st.id] = tf
				t.reg.remember(st.id, p)
				return
			}
			f.Close()
		}
	}
	lost := max(0, cp.Seen-cp.Offset)
	t.logf("a file was rotated away or truncated while the collector was stopped, before it was read to its end; counted lost",
		"file", cp.Path, "bytes_known", lost)
	g := resumedGeneration(src, cp, nil, t.now())
	t.onLost(cp.Source, cp.Path, lost, linesIn(g, lost), true)
	t.onFinish(cp.Source+"|"+cp.Gen, cp.Offset)
}

// findInode opens the file with id at path, or elsewhere in its folder
// (renamed while the collector was stopped).
func findInode(path string, id fileID) (*os.File, fileStat, string) {
	try := func(p string) (*os.File, fileStat) {
		f, err := os.Open(p)
		if err != nil {
			return nil, fileStat{}
		}
		if st, err := statFile(f); err == nil && st.id == id && st.reg {
			return f, st
		}
		f.Close()
		return nil, fileStat{}
	}
	if f, st := try(path); f != nil {
		return f, st, path
	}
	dir := filepath.Dir(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fileStat{}, ""
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			continue
		}
		if st, err := statOf(info); err == nil && st.id == id {
			p := filepath.Join(dir, e.Name())
			if f, st := try(p); f != nil {
				return f, st, p
			}
		}
	}
	return nil, fileStat{}, ""
}

// sourceFor finds the configured pattern a source's path matches.
func (t *tailer) sourceFor(source string) *fileSource {
	p, ok := cutSource(source)
	if !ok {
		return nil
	}
	for _, s := range t.sources {
		if m, _ := filepath.Match(s.Path, p); m || s.Path == p {
			return s
		}
	}
	return nil
}

func (t *tailer) matches(p string) bool {
	for _, s := range t.sources {
		if m, _ := filepath.Match(s.Path, p); m && !isCompressed(p) {
			return true
		}
	}
	return false
}
