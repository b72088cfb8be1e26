package store

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
)

// ErrDiskFull means the store's disk (or its SQLite page limit) is full:
// nothing of the batch was stored. Answer 503 with Retry-After; the
// loghost's disk incident says why.
var ErrDiskFull = errors.New("the store's disk is full")

// isFull reports whether err is SQLite's "database or disk is full" or
// the file system's ENOSPC.
func isFull(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrFull {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}

// fullError marks a write error as ErrDiskFull, and remembers when the
// store last found its disk full.
func (s *Store) fullError(err error) error {
	if !isFull(err) {
		return err
	}
	s.fullSince.CompareAndSwap(0, time.Now().UnixNano())
	return fmt.Errorf("%w: %w", ErrDiskFull, err)
}

// DiskFull reports whether the last write failed because the disk was
// full (a commit since clears it).
func (s *Store) DiskFull() bool { return s.fullSince.Load() != 0 }
