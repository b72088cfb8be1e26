package collector

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ErrSpoolFull means the spool holds its bound: the caller stops reading
// and the log files become the buffer.
var ErrSpoolFull = errors.New("spool full")

// spool is a FIFO of ready-to-send request bodies on disk, one file each,
// named by a sequence number. A body is in the spool once its file is
// written, synced and renamed into place, so a batch handed to the spool
// survives kill -9 and power loss like one the loghost acknowledged.
type spool struct {
	dir string
	max int64

	mu    sync.Mutex
	files []spoolFile // oldest first
	size  int64
	next  uint64
}

type spoolFile struct {
	seq  uint64
	size int64
}

func openSpool(dir string, limit int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool: %w", err)
	}
	if err := probeWritable(dir); err != nil {
		return nil, fmt.Errorf("spool %s cannot be written: %w", dir, err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read spool: %w", err)
	}
	s := &spool{dir: dir, max: limit, next: 1}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name)) // a write cut short: never acknowledged
			continue
		}
		seqStr, ok := strings.CutSuffix(name, ".ndjson.gz")
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(seqStr, 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		s.files = append(s.files, spoolFile{seq: seq, size: info.Size()})
		s.size += info.Size()
		s.next = max(s.next, seq+1)
	}
	sort.Slice(s.files, func(i, j int) bool { return s.files[i].seq < s.files[j].seq })
	return s, nil
}

func (s *spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d.ndjson.gz", seq))
}

// put stores body durably, or returns ErrSpoolFull. An empty spool takes
// one body whatever its size, so a batch larger than the bound still
// moves.
func (s *spool) put(body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.files) > 0 && s.size+int64(len(body)) > s.max {
		return ErrSpoolFull
	}
	seq := s.next
	final := s.path(seq)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := f.Write(body); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("spool: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("spool: %w", err)
	}
	f.Close()
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool: %w", err)
	}
	if d, err := os.Open(s.dir); err == nil {
		d.Sync()
		d.Close()
	}
	s.next++
	s.files = append(s.files, spoolFile{seq: seq, size: int64(len(body))})
	s.size += int64(len(body))
	return nil
}

// oldest returns the oldest body, or ok=false when the spool is empty.
func (s *spool) oldest() (seq uint64, body []byte, ok bool, err error) {
	s.mu.Lock()
	if len(s.files) == 0 {
		s.mu.Unlock()
		return 0, nil, false, nil
	}
	seq = s.files[0].seq
	s.mu.Unlock()
	body, err = os.ReadFile(s.path(seq))
	if err != nil {
		return seq, nil, true, fmt.Errorf("read spool: %w", err)
	}
	return seq, body, true, nil
}

// remove drops a body the loghost acknowledged.
func (s *spool) remove(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.files) == 0 || s.files[0].seq != seq {
		return
	}
	os.Remove(s.path(seq))
	s.size -= s.files[0].size
	s.files = s.files[1:]
}

func (s *spool) stats() (files int, size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files), s.size
}
