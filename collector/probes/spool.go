package probes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// spool keeps the results the loghost has not taken, on disk, in files
// of a few results each, oldest first: a collector that cannot reach
// the loghost keeps probing, and sends what it saw when it can. It is
// bounded in size and in age; what falls out is counted (the loghost is
// told, and raises it).
//
// A file's name says what is in it: the time of its first and last
// result (Unix nanoseconds), a sequence number, and how many lines it
// holds: NNN-NNN-NNN-N.ndjson. So neither the count nor the age needs
// the file read.
type spool struct {
	dir    string
	max    int64
	maxAge time.Duration

	mu      sync.Mutex
	files   []spoolFile // oldest first
	size    int64
	lines   int64
	dropped int64 // since the collector started probing here (kept in the folder)
	seq     int64
}

type spoolFile struct {
	name        string
	first, last time.Time
	lines       int64
	size        int64
}

func openSpool(dir string, max int64, maxAge time.Duration) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("probe spool: %w", err)
	}
	s := &spool{dir: dir, max: max, maxAge: maxAge}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("probe spool: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case name == "dropped":
			b, _ := os.ReadFile(filepath.Join(dir, name))
			s.dropped, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		case strings.HasSuffix(name, ".tmp"):
			os.Remove(filepath.Join(dir, name)) // a write cut short: never acknowledged
		case strings.HasSuffix(name, ".ndjson"):
			f, ok := parseSpoolName(name)
			if !ok {
				continue
			}
			if fi, err := e.Info(); err == nil {
				f.size = fi.Size()
			}
			s.files = append(s.files, f)
			s.size += f.size
			s.lines += f.lines
		}
	}
	sort.Slice(s.files, func(i, j int) bool { return s.files[i].name < s.files[j].name })
	return s, nil
}

func parseSpoolName(name string) (spoolFile, bool) {
	parts := strings.Split(strings.TrimSuffix(name, ".ndjson"), "-")
	if len(parts) != 4 {
		return spoolFile{}, false
	}
	var n [4]int64
	for i, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return spoolFile{}, false
		}
		n[i] = v
	}
	return spoolFile{name: name, first: time.Unix(0, n[0]), last: time.Unix(0, n[1]), lines: n[3]}, true
}

// add writes lines (NDJSON, one result each, first and last their times)
// as one file, durably, then drops the oldest files over the size bound.
func (s *spool) add(body []byte, lines int64, first, last time.Time) error {
	s.mu.Lock()
	s.seq++
	name := fmt.Sprintf("%020d-%020d-%06d-%d.ndjson", first.UnixNano(), last.UnixNano(), s.seq%1000000, lines)
	s.mu.Unlock()
	path := filepath.Join(s.dir, name)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("probe spool: %w", err)
	}
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("probe spool: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files = append(s.files, spoolFile{name: name, first: first, last: last, lines: lines, size: int64(len(body))})
	sort.Slice(s.files, func(i, j int) bool { return s.files[i].name < s.files[j].name })
	s.size += int64(len(body))
	s.lines += lines
	var drop int64
	for s.size > s.max && len(s.files) > 1 {
		drop += s.removeLocked(0)
	}
	return s.countDropped(drop)
}

// removeLocked deletes the i-th file and returns its line count.
func (s *spool) removeLocked(i int) int64 {
	f := s.files[i]
	os.Remove(filepath.Join(s.dir, f.name))
	s.files = append(s.files[:i], s.files[i+1:]...)
	s.size -= f.size
	s.lines -= f.lines
	return f.lines
}

// countDropped adds n to the dropped count and keeps it on disk; s.mu
// is held.
func (s *spool) countDropped(n int64) error {
	if n == 0 {
		return nil
	}
	s.dropped += n
	if err := os.WriteFile(filepath.Join(s.dir, "dropped"), []byte(strconv.FormatInt(s.dropped, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("probe spool: %w", err)
	}
	return nil
}

// expire drops the files whose newest result is older than the age
// bound: a result that old tells nobody anything.
func (s *spool) expire(now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var drop int64
	for i := 0; i < len(s.files); {
		if now.Sub(s.files[i].last) > s.maxAge {
			drop += s.removeLocked(i)
			continue
		}
		i++
	}
	return s.countDropped(drop)
}

// head returns the oldest file's content and name ("" when empty).
func (s *spool) head() (string, []byte, int64, error) {
	s.mu.Lock()
	if len(s.files) == 0 {
		s.mu.Unlock()
		return "", nil, 0, nil
	}
	f := s.files[0]
	s.mu.Unlock()
	b, err := os.ReadFile(filepath.Join(s.dir, f.name))
	if errors.Is(err, os.ErrNotExist) {
		// Gone from under us (removed by hand): forget it.
		s.mu.Lock()
		for i, g := range s.files {
			if g.name == f.name {
				s.files = append(s.files[:i], s.files[i+1:]...)
				s.size -= g.size
				s.lines -= g.lines
				break
			}
		}
		s.mu.Unlock()
		return "", nil, 0, nil
	}
	if err != nil {
		return "", nil, 0, fmt.Errorf("probe spool: %w", err)
	}
	return f.name, bytes.TrimSpace(b), f.lines, nil
}

// done removes a file the loghost took.
func (s *spool) done(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.files {
		if f.name == name {
			s.removeLocked(i)
			return
		}
	}
}

func (s *spool) stats() (lines, dropped int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines, s.dropped
}

func (s *spool) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files) == 0
}
