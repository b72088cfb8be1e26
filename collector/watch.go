package collector

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// registry is what the watcher and the tailer share: the inodes open, the
// paths they were seen at, the files opened but not yet admitted, and
// which were written to.
type registry struct {
	mu      sync.Mutex
	known   map[fileID]bool
	byPath  map[string]fileID
	queue   []opened
	moves   []moved
	dirty   map[fileID]bool
	all     bool
	polling bool
	wake    chan struct{}
	// sizes: how large the watcher saw each open file on its writes.
	// It looks the moment inotify reports a write, also while the
	// tailer waits for the runner, so it sees bytes that a copytruncate
	// removes before the tailer could read them: those are counted lost.
	sizes map[fileID]*sizeSeen
}

// sizeSeen is the largest size seen of a file since it was last seen
// truncated, and the largest sizes before the truncations seen.
type sizeSeen struct {
	max, blocks int64
	ended       []int64
}

type moved struct {
	id      fileID
	path    string // "": no longer at the path it had
	matched bool
}

func newRegistry() *registry {
	return &registry{known: map[fileID]bool{}, byPath: map[string]fileID{}, dirty: map[fileID]bool{}, wake: make(chan struct{}, 1),
		sizes: map[fileID]*sizeSeen{}}
}

func (r *registry) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *registry) take() ([]opened, []moved, map[fileID]bool, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, m, d, all := r.queue, r.moves, r.dirty, r.all
	r.queue, r.moves, r.dirty, r.all = nil, nil, map[fileID]bool{}, false
	return q, m, d, all
}

func (r *registry) remember(id fileID, path string) {
	r.mu.Lock()
	r.known[id], r.byPath[path] = true, id
	r.mu.Unlock()
}

// sawSize records a size the watcher saw of an open file.
func (r *registry) sawSize(id fileID, size, blocks int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.known[id] {
		return
	}
	s := r.sizes[id]
	if s == nil {
		s = &sizeSeen{}
		r.sizes[id] = s
	}
	// Truncated: smaller, or (a writer without O_APPEND goes on past a
	// hole) a file that was dense is now mostly hole. Blocks alone can
	// fall without a truncation (ext4 trims its preallocation).
	sparse := func(size, blocks int64) bool { return 2*blocks*512 < size }
	if size < s.max || size >= s.max && s.max > 64<<10 && sparse(size, blocks) && !sparse(s.max, s.blocks) {
		if len(s.ended) < 4 {
			s.ended = append(s.ended, s.max)
		}
		s.max, s.blocks = size, blocks
	}
	s.max, s.blocks = max(s.max, size), max(s.blocks, blocks)
}

// takeEnded: the tailer found the file truncated; the largest size the
// watcher saw it have before.
func (r *registry) takeEnded(id fileID) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sizes[id]
	if s == nil {
		return 0
	}
	if len(s.ended) > 0 {
		v := s.ended[0]
		s.ended = s.ended[1:]
		return v
	}
	// The tailer saw the truncation first: the stretch ends here, and
	// the watcher starts the next one from its next look.
	v := s.max
	s.max, s.blocks = 0, 0
	return v
}

func (r *registry) forget(id fileID, path string) {
	r.mu.Lock()
	delete(r.known, id)
	delete(r.sizes, id)
	if r.byPath[path] == id {
		delete(r.byPath, path)
	}
	r.mu.Unlock()
}

func (r *registry) isPolling() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.polling
}

// watcher finds and opens the files the patterns match: inotify on their
// folders reports a new file within milliseconds; rescans of the globs
// stay as the safety net, and are the only way where inotify is missing
// or its limits are reached.
type watcher struct {
	sources []*fileSource
	reg     *registry
	rescan  time.Duration // with inotify
	poll    time.Duration // rescans without it
	logf    func(msg string, args ...any)

	fsw     *fsnotify.Watcher
	watched map[string]bool
	polled  map[string]bool // folders inotify could not watch
	warned  map[string]bool
	// lostName: a matched name that vanished (renamed) before it was
	// opened; the next file created in its folder is where it went.
	lostName map[string]renamed
	// moved: the open inode last renamed away in a folder; the file
	// created next there (the rename's other half) is where it went.
	moved map[string]fileID
}

type renamed struct {
	path string
	src  *fileSource
	at   time.Time
}

// newWatcher: noInotify polls only (collect -once needs no watch).
func newWatcher(sources []*fileSource, reg *registry, rescan, poll time.Duration, noInotify bool, logf func(string, ...any)) *watcher {
	w := &watcher{sources: sources, reg: reg, rescan: rescan, poll: poll, logf: logf,
		watched: map[string]bool{}, polled: map[string]bool{}, warned: map[string]bool{}, lostName: map[string]renamed{}, moved: map[string]fileID{}}
	if !noInotify && len(sources) > 0 {
		fsw, err := fsnotify.NewWatcher()
		if err != nil {
			logf("inotify unavailable; polling the log files instead", "err", err)
		} else {
			w.fsw = fsw
		}
	}
	return w
}

func (w *watcher) run(ctx context.Context) {
	if w.fsw == nil {
		w.reg.mu.Lock()
		w.reg.polling = true
		w.reg.mu.Unlock()
	} else {
		defer w.fsw.Close()
	}
	w.scanAll()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	timer := time.NewTimer(w.interval())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.event(ev)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				w.logf("inotify queue overflowed; rescanning every pattern")
			} else {
				w.logf("inotify error; rescanning", "err", err)
			}
			w.scanAll()
			w.reg.mu.Lock()
			w.reg.all = true
			w.reg.mu.Unlock()
			w.reg.signal()
		case <-timer.C:
			w.scanAll()
			timer.Reset(w.interval())
		}
	}
}

func (w *watcher) interval() time.Duration {
	if w.fsw == nil || len(w.polled) > 0 {
		return min(w.rescan, 4*w.poll)
	}
	return w.rescan
}

// scanAll expands every pattern, watching its folders, and opens what is
// new.
func (w *watcher) scanAll() {
	for _, s := range w.sources {
		w.watchDirs(s.Path)
		paths, err := filepath.Glob(s.Path)
		if err != nil {
			if !w.warned[s.Path] {
				w.logf("bad file pattern", "pattern", s.Path, "err", err)
				w.warned[s.Path] = true
			}
			continue
		}
		for _, p := range paths {
			w.consider(p, s, "")
		}
	}
	w.reg.signal()
}

func (w *watcher) watchDirs(pattern string) {
	if w.fsw == nil {
		return
	}
	dir := filepath.Dir(pattern)
	dirs := []string{dir}
	if hasMeta(dir) {
		dirs, _ = filepath.Glob(dir)
	}
	for _, d := range dirs {
		if w.watched[d] {
			continue
		}
		if err := w.fsw.Add(d); err != nil {
			if !w.polled[d] && !errors.Is(err, os.ErrNotExist) {
				w.logf("cannot watch folder with inotify (limits: fs.inotify.max_user_watches); polling it", "folder", d, "err", err)
				w.polled[d] = true
				w.reg.mu.Lock()
				w.reg.polling = true
				w.reg.mu.Unlock()
			}
			continue
		}
		w.watched[d] = true
		delete(w.polled, d)
	}
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// match finds the pattern a path matches.
func (w *watcher) match(p string) *fileSource {
	if isCompressed(p) {
		return nil
	}
	for _, s := range w.sources {
		if m, _ := filepath.Match(s.Path, p); m {
			return s
		}
	}
	return nil
}

func (w *watcher) event(ev fsnotify.Event) {
	p := ev.Name
	switch {
	case ev.Has(fsnotify.Create):
		src := w.match(p)
		source := ""
		if r, ok := w.lostName[filepath.Dir(p)]; ok {
			delete(w.lostName, filepath.Dir(p))
			if time.Since(r.at) < 5*time.Second {
				// Created and renamed before it could be opened: read
				// it under the name it was written as.
				src, source = r.src, "file:"+r.path
			}
		}
		if id, ok := w.moved[filepath.Dir(p)]; ok && src == nil {
			delete(w.moved, filepath.Dir(p))
			if st, err := statPath(p); err == nil && st.id == id {
				w.moveKnown(id, p, false)
				break
			}
		}
		w.consider(p, src, source)
	case ev.Has(fsnotify.Write):
		w.reg.mu.Lock()
		id, ok := w.reg.byPath[p]
		if ok {
			w.reg.dirty[id] = true
		}
		w.reg.mu.Unlock()
		if ok {
			if st, err := statPath(p); err == nil && st.id == id {
				w.reg.sawSize(id, st.size, st.blocks)
			}
		} else {
			if src := w.match(p); src != nil {
				w.consider(p, src, "")
			}
		}
	case ev.Has(fsnotify.Rename), ev.Has(fsnotify.Remove):
		w.reg.mu.Lock()
		id, ok := w.reg.byPath[p]
		if ok {
			delete(w.reg.byPath, p)
			w.reg.moves = append(w.reg.moves, moved{id: id})
			if ev.Has(fsnotify.Rename) {
				w.moved[filepath.Dir(p)] = id
			}
		}
		w.reg.mu.Unlock()
		if !ok && ev.Has(fsnotify.Rename) {
			if src := w.match(p); src != nil {
				w.lostName[filepath.Dir(p)] = renamed{path: p, src: src, at: time.Now()}
			}
		}
	default:
		return
	}
	w.reg.signal()
}

// consider opens p if its inode is not open yet: a file a pattern matches
// (src), or a possible rotation of an open one (a copytruncate copy is
// created beside the original and may be compressed and removed soon).
func (w *watcher) consider(p string, src *fileSource, source string) {
	if isCompressed(p) {
		return
	}
	if src == nil && !w.rotationOfKnown(p) {
		return
	}
	st, err := statPath(p)
	if err != nil || !st.reg {
		return
	}
	if w.moveKnown(st.id, p, src != nil) {
		return
	}
	f, err := os.Open(p)
	if err != nil {
		if src != nil && !w.warned[p] && !errors.Is(err, os.ErrNotExist) {
			w.logf("cannot read log file; leaving it out", "file", p, "err", err)
			w.warned[p] = true
		}
		return
	}
	st, err = statFile(f)
	if err != nil || w.moveKnown(st.id, p, src != nil) {
		f.Close()
		return
	}
	w.reg.mu.Lock()
	w.reg.known[st.id], w.reg.byPath[p] = true, st.id
	w.reg.queue = append(w.reg.queue, opened{f: f, st: st, path: p, src: src, source: source, matched: src != nil})
	w.reg.mu.Unlock()
}

// moveKnown: an open inode seen at p; the tailer learns where it is now.
func (w *watcher) moveKnown(id fileID, p string, matched bool) bool {
	w.reg.mu.Lock()
	defer w.reg.mu.Unlock()
	if !w.reg.known[id] {
		return false
	}
	if w.reg.byPath[p] != id {
		w.reg.byPath[p] = id
		w.reg.moves = append(w.reg.moves, moved{id: id, path: p, matched: matched})
	}
	return true
}

func (w *watcher) rotationOfKnown(p string) bool {
	dir := filepath.Dir(p)
	w.reg.mu.Lock()
	defer w.reg.mu.Unlock()
	for kp := range w.reg.byPath {
		if filepath.Dir(kp) == dir && rotationOf(p, filepath.Base(kp)) {
			return true
		}
	}
	return false
}
