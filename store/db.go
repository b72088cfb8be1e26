// Package store is the loghost's embedded SQLite store: the durable event
// stream (log lines, metric samples, collector reports), the search index
// over log lines, consumer cursors, retention and quotas.
//
// Records are kept in blocks: one row holds many records of one host,
// encoded and zstd-compressed, with a trigram signature (a banded bloom
// filter) beside it. A row per line with FTS5 cannot reach the ingest
// target on two cores; a block row costs one insert per host per
// transaction and its signature answers substring queries, which FTS5's
// token index cannot (bare words are substrings, as grep -F finds them).
package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	_ "github.com/mattn/go-sqlite3" // the SQLite driver (cgo)
)

// Options configures a store.
type Options struct {
	Path string
	// ReadOnly opens the database for reading only (watchpost grep -data
	// while the loghost runs); Append and everything that writes fail.
	ReadOnly bool
	// Retention deletes blocks whose newest event is older than this (0: keep).
	Retention time.Duration
	// KeepAfter, when set, holds back Retention from blocks with records
	// after the seq it returns: lines a log shipper (VictoriaLogs) has not
	// confirmed yet. MaxSize still applies.
	KeepAfter func() int64
	// MaxSize bounds the bytes of stored blocks (0: no bound). When it is
	// exceeded the hosts over their fair share lose their oldest blocks first.
	MaxSize int64
	// HostQuotaPerDay bounds the raw bytes one host may ingest per day (0: no bound).
	HostQuotaPerDay int64
	// QueueLen is how many Append calls may wait for the writer before
	// Append answers ErrBusy.
	QueueLen int
	// MaxBatchRecords bounds how many records one writer transaction takes.
	MaxBatchRecords int
	// BlockLines is the number of lines compaction packs into one block.
	BlockLines int
	// BlockCache is how many bytes of decompressed blocks searches keep
	// for the next (0: none). The loghost's explorer pages through the
	// same blocks; a one-shot grep gains nothing from it.
	BlockCache int64
	// Location decides where quota days begin.
	Location *time.Location
	Now      func() time.Time
	Metrics  *metrics.Set
	Logger   *slog.Logger
}

func (o *Options) defaults() {
	if o.QueueLen == 0 {
		o.QueueLen = 256
	}
	if o.MaxBatchRecords == 0 {
		o.MaxBatchRecords = 65536
	}
	if o.BlockLines == 0 {
		o.BlockLines = 8192
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSet()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Store is an open database. Its methods are safe for concurrent use.
type Store struct {
	opts Options
	wdb  *sql.DB // the one writer connection
	rdb  *sql.DB // readers
	w    *writer // nil when read-only
	live *hub
	// cache holds recently decompressed blocks (nil: none).
	cache *blockCache
	// statsDone is set once no block lacks its stats.
	statsDone atomic.Bool
	// recent serves the stream consumers the newest commits from memory
	// (nil when read-only).
	recent *recent
	m      *storeMetrics
	close  sync.Once

	codecOnce sync.Once
	codecRO   *codec
	codecErr  error

	// afterList, when set (tests), runs between a search's listing of its
	// blocks and their reading.
	afterList func()

	// fullSince is when a write last failed for a full disk (Unix ns;
	// 0: the last commit succeeded).
	fullSince atomic.Int64

	notifyMu sync.Mutex
	notifyCh chan struct{} // closed and replaced after each commit
	lastSeq  int64         // guarded by notifyMu
}

func dsn(path string, ro bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	if ro {
		q.Set("mode", "ro")
	} else {
		// auto_vacuum takes only on a new file, before the first table:
		// compaction and retention free pages that incremental_vacuum
		// then hands back to the file system.
		q.Set("_auto_vacuum", "incremental")
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "FULL")
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating and migrating when writable) the store at opts.Path.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts.defaults()
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(opts.Path), 0o750); err != nil {
			return nil, fmt.Errorf("create store folder: %w", err)
		}
		// Logs hold secrets users never meant to log. SQLite gives its WAL
		// and shm files the database file's mode, so creating that file
		// 0600 keeps all three private whatever the umask.
		f, err := os.OpenFile(opts.Path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create store: %w", err)
		}
		f.Close()
	} else if _, err := os.Stat(opts.Path); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{opts: opts, notifyCh: make(chan struct{})}
	s.m = newStoreMetrics(opts.Metrics, s)
	s.live = newHub()
	s.cache = newBlockCache(opts.BlockCache)
	var err error
	s.rdb, err = sql.Open("sqlite3", dsn(opts.Path, true))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.rdb.SetMaxOpenConns(4)
	if !opts.ReadOnly {
		s.wdb, err = sql.Open("sqlite3", dsn(opts.Path, false))
		if err != nil {
			s.rdb.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
		s.wdb.SetMaxOpenConns(1)
		if err := migrate(ctx, s.wdb); err != nil {
			s.Close()
			return nil, err
		}
		if err := recordWatchingSince(ctx, s.wdb, opts.Now()); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.rdb.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	var v int
	if err := s.rdb.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		s.Close()
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	if v < len(migrations) {
		s.Close()
		return nil, fmt.Errorf("open store: schema version %d, this binary needs %d (start the loghost once to migrate)", v, len(migrations))
	}
	if v > len(migrations) {
		s.Close()
		return nil, fmt.Errorf("open store: schema version %d is newer than this binary knows (%d)", v, len(migrations))
	}
	if err := s.rdb.QueryRowContext(ctx, "SELECT COALESCE(MAX(max_seq),0) FROM blocks").Scan(&s.lastSeq); err != nil {
		s.Close()
		return nil, fmt.Errorf("read last seq: %w", err)
	}
	if !opts.ReadOnly {
		s.recent = newRecent(2 * opts.BlockLines)
		s.w, err = newWriter(ctx, s)
		if err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close stops the writer after it committed what it accepted, and closes
// the database.
func (s *Store) Close() error {
	var err error
	s.close.Do(func() {
		if s.w != nil {
			s.w.stop()
		}
		if s.wdb != nil {
			// Fold the WAL back so the file copies cleanly; errors here lose nothing.
			_, _ = s.wdb.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
			err = s.wdb.Close()
		}
		if s.rdb != nil {
			if e := s.rdb.Close(); err == nil {
				err = e
			}
		}
	})
	return err
}

// DB returns the writable database for components that keep their own
// tables in the store (alerting, checks). Their writes must use
// transactions (BEGIN IMMEDIATE is the default for this connection).
func (s *Store) DB() *sql.DB { return s.wdb }

// ReadDB returns a read-only handle for queries.
func (s *Store) ReadDB() *sql.DB { return s.rdb }

// LastSeq is the seq of the newest committed record.
func (s *Store) LastSeq() int64 {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	return s.lastSeq
}

func (s *Store) committed(last int64) {
	s.notifyMu.Lock()
	if last > s.lastSeq {
		s.lastSeq = last
	}
	close(s.notifyCh)
	s.notifyCh = make(chan struct{})
	s.notifyMu.Unlock()
}

// Wait returns when a record with a seq greater than after is committed by
// this process, or when ctx ends. A read-only store polls the file instead.
func (s *Store) Wait(ctx context.Context, after int64) error {
	for {
		s.notifyMu.Lock()
		last, ch := s.lastSeq, s.notifyCh
		s.notifyMu.Unlock()
		if last > after {
			return nil
		}
		if s.w == nil {
			t := time.NewTimer(250 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			var seq int64
			if err := s.rdb.QueryRowContext(ctx, "SELECT COALESCE(MAX(max_seq),0) FROM blocks").Scan(&seq); err != nil {
				return fmt.Errorf("poll last seq: %w", err)
			}
			s.notifyMu.Lock()
			if seq > s.lastSeq {
				s.lastSeq = seq
			}
			s.notifyMu.Unlock()
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
