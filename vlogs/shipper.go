package vlogs

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/store"
)

// CursorName is the shipper's cursor in the store: every log line with a
// seq up to it is known to be stored in VictoriaLogs (checked there, after
// VictoriaLogs had time to write it to disk).
const CursorName = "victorialogs"

// ShipperOptions configure a Shipper.
type ShipperOptions struct {
	Store  *store.Store
	Client *Client
	// MaxLineBytes cuts longer lines (and messages) before sending; the
	// line keeps wp_truncated with its original length. Default
	// DefaultMaxLineBytes.
	MaxLineBytes int
	BatchLines   int           // lines per request (default 5000)
	BatchBytes   int           // uncompressed bytes per request (default 4 MiB)
	Linger       time.Duration // after a short batch, wait this long for more (default 1 s)
	Parallel     int           // requests in flight (default 2)
	// Settle is how long after VictoriaLogs acknowledged lines they are
	// looked up there before the cursor moves past them. VictoriaLogs
	// answers before its in-memory buffer reaches the disk (within its
	// -inmemoryDataFlushInterval, 5 s by default): lines it acknowledged
	// and then lost to a crash are sent again. Default 15 s.
	Settle time.Duration
	// RecoverDelay is how long a starting shipper waits before it looks
	// up what its predecessor sent after the cursor (VictoriaLogs shows
	// new rows within a second). Default 3 s.
	RecoverDelay time.Duration
	// MaxResends: a line still missing after this many sends is counted
	// as lost (VictoriaLogs drops lines outside its retention silently).
	// Default 3.
	MaxResends int
	// OnLoss is told of lines that will never reach VictoriaLogs.
	OnLoss func(ctx context.Context, n int64, why string)
	// OnStall is told once when VictoriaLogs has refused or not answered
	// for StallAfter (default 10 minutes: lines pile up in the store), and
	// again with ok=true when it takes lines again.
	OnStall    func(ctx context.Context, ok bool, err error)
	StallAfter time.Duration
	Now        func() time.Time
	Metrics    *metrics.Set
	Logger     *slog.Logger
}

// Shipper copies the store's log lines to VictoriaLogs in seq order, in
// gzip batches, retrying with backoff. It reads the store, never the
// ingest path, so VictoriaLogs being slow or down never holds up ingest.
//
// Exactly once: a line is sent again only when VictoriaLogs is shown not to
// hold it. A batch whose request failed is first looked up by seq (a
// request that timed out may have been stored); a starting shipper looks
// up what was sent after the durable cursor; a batch acknowledged is
// counted there again after Settle and what is missing is sent again.
type Shipper struct {
	o       ShipperOptions
	started bool

	cursor  int64 // durable: everything up to it is in VictoriaLogs
	sent    int64 // acknowledged (or found present) up to here
	pending []span
	// present holds seqs after the cursor found in VictoriaLogs at start,
	// which are not sent again.
	present map[int64]bool
	resends map[int64]int
	// confirmed mirrors cursor for other goroutines (metrics, the store's
	// retention in primary mode).
	confirmed atomic.Int64

	stallMu      sync.Mutex
	failingSince time.Time
	stalled      bool

	mSent, mResent, mLost, mDup, mFailed *metrics.Counter
	mBytes                               *metrics.Counter
}

// span is a run of seqs (from, to] acknowledged at one time.
type span struct {
	from, to   int64
	n          int64 // log lines in it
	minT, maxT time.Time
	at         time.Time
}

// NewShipper checks the options.
func NewShipper(o ShipperOptions) (*Shipper, error) {
	if o.Store == nil || o.Client == nil {
		return nil, errors.New("shipper: store and client are required")
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultMaxLineBytes
	}
	if o.BatchLines <= 0 {
		o.BatchLines = 5000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 4 << 20
	}
	if o.Parallel <= 0 {
		o.Parallel = 2
	}
	if o.Linger <= 0 {
		o.Linger = time.Second
	}
	if o.Settle <= 0 {
		o.Settle = 15 * time.Second
	}
	if o.RecoverDelay <= 0 {
		o.RecoverDelay = 3 * time.Second
	}
	if o.StallAfter <= 0 {
		o.StallAfter = 10 * time.Minute
	}
	if o.MaxResends <= 0 {
		o.MaxResends = 3
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
	s := &Shipper{o: o, resends: map[int64]int{},
		mSent:   o.Metrics.GetOrCreateCounter(`watchpost_victorialogs_lines_sent_total`),
		mResent: o.Metrics.GetOrCreateCounter(`watchpost_victorialogs_lines_resent_total`),
		mLost:   o.Metrics.GetOrCreateCounter(`watchpost_victorialogs_lines_lost_total`),
		mDup:    o.Metrics.GetOrCreateCounter(`watchpost_victorialogs_lines_duplicated_total`),
		mFailed: o.Metrics.GetOrCreateCounter(`watchpost_victorialogs_requests_failed_total`),
		mBytes:  o.Metrics.GetOrCreateCounter(`watchpost_victorialogs_bytes_sent_total`),
	}
	o.Metrics.GetOrCreateGauge(`watchpost_victorialogs_unconfirmed_lines`, func() float64 {
		return float64(o.Store.LastSeq() - s.confirmed.Load())
	})
	return s, nil
}

// Confirmed is the seq up to which every log line is known to be in
// VictoriaLogs (safe from any goroutine).
func (s *Shipper) Confirmed() int64 { return s.confirmed.Load() }

// start reads the cursor and finds what a predecessor sent after it.
func (s *Shipper) start(ctx context.Context) error {
	if s.started {
		return nil
	}
	cur, err := s.o.Store.Cursor(ctx, CursorName)
	if err != nil {
		return err
	}
	s.cursor, s.sent = cur, cur
	s.confirmed.Store(cur)
	if err := s.recover(ctx); err != nil {
		return err
	}
	s.started = true
	return nil
}

// Run ships until ctx ends (it then returns ctx's error). One Shipper
// runs once.
func (s *Shipper) Run(ctx context.Context) error {
	err := s.run(ctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (s *Shipper) run(ctx context.Context) error {
	if err := s.start(ctx); err != nil {
		return err
	}
	for {
		if err := s.reconcile(ctx, false); err != nil {
			return err
		}
		n, err := s.shipNext(ctx)
		if err != nil {
			return err
		}
		if n >= readWindow {
			continue // behind: no pause
		}
		// Wait for new lines (a short batch lingers so that a quiet
		// loghost sends one request a second, not one a line) or for the
		// next check of acknowledged lines.
		wait := s.o.Linger
		if len(s.pending) > 0 {
			wait = min(wait, max(s.pending[0].at.Add(s.o.Settle).Sub(s.o.Now()), 10*time.Millisecond))
		}
		if n == 0 {
			wctx, cancel := context.WithTimeout(ctx, max(wait, 10*time.Millisecond))
			err := s.o.Store.Wait(wctx, s.sent)
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			_ = err // a timeout: time to reconcile
			if s.o.Store.LastSeq() > s.sent {
				// New lines: let a few more arrive.
				if err := sleep(ctx, min(wait, s.o.Linger)); err != nil {
					return err
				}
			}
			continue
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// Flush ships everything stored now and waits until VictoriaLogs is shown
// to hold it (tests, benchmarks, shutdown of a bench run).
func (s *Shipper) Flush(ctx context.Context) error {
	if err := s.start(ctx); err != nil {
		return err
	}
	for s.sent < s.o.Store.LastSeq() {
		if _, err := s.shipNext(ctx); err != nil {
			return err
		}
	}
	for len(s.pending) > 0 {
		if err := s.reconcile(ctx, true); err != nil {
			return err
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// recover finds the lines a predecessor sent after the durable cursor, so
// they are not sent twice.
func (s *Shipper) recover(ctx context.Context) error {
	if s.o.Store.LastSeq() <= s.cursor {
		return nil // nothing after the cursor can have been sent
	}
	if err := sleep(ctx, s.o.RecoverDelay); err != nil {
		return err
	}
	for backoff := time.Duration(0); ; {
		present, err := s.presentSeqs(ctx, s.cursor, s.o.Store.LastSeq(), time.Time{}, time.Time{})
		if err == nil {
			if len(present) > 0 {
				s.present = present
				s.o.Logger.Info("victorialogs: lines sent before the restart are not sent again", "lines", len(present))
			}
			return nil
		}
		backoff = nextBackoff(backoff)
		s.o.Logger.Warn("victorialogs: cannot look up what was sent before the restart; will retry", "err", err, "in", backoff)
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
	}
}

func nextBackoff(d time.Duration) time.Duration {
	return min(max(2*d, time.Second), 30*time.Second)
}

// readWindow is how many seqs one read of the store covers. Blocks are
// a host's lines, so a window of seqs overlaps a block of every busy
// host, each decompressed whole: a window much shorter than the blocks
// would decompress each many times.
const readWindow = 1 << 16

// shipNext sends the lines of the next window of the stream after s.sent
// in batches and returns how many seqs it covered.
func (s *Shipper) shipNext(ctx context.Context) (int, error) {
	if err := s.skipDeleted(ctx); err != nil {
		return 0, err
	}
	if s.o.Store.LastSeq() <= s.sent {
		return 0, nil
	}
	start := s.sent
	recs, through, err := s.o.Store.ReadAfterKind(ctx, s.sent, readWindow, store.KindLog)
	if err != nil {
		return 0, err
	}
	// Cut the window into batches; up to Parallel of them are encoded
	// and sent at once (VictoriaLogs orders rows by time itself), and
	// the spans are recorded in seq order once all are acknowledged.
	type batch struct {
		sp   span
		send []store.Record
	}
	var batches []batch
	from := s.sent
	for i := 0; i < len(recs) || from < through; {
		j, size := i, 0
		for j < len(recs) && j-i < s.o.BatchLines && size < s.o.BatchBytes {
			size += len(recs[j].Raw) + len(recs[j].Message) + 200
			j++
		}
		b := batch{sp: span{from: from, to: through, n: int64(j - i)}}
		if j < len(recs) {
			b.sp.to = recs[j-1].Seq
		}
		b.sp.minT, b.sp.maxT = timeRange(recs[i:j])
		for k := i; k < j; k++ {
			if s.present[recs[k].Seq] {
				delete(s.present, recs[k].Seq)
				continue
			}
			b.send = append(b.send, recs[k])
		}
		batches = append(batches, b)
		from = b.sp.to
		i = j
	}
	errs := make([]error, len(batches))
	sem := make(chan struct{}, s.o.Parallel)
	var wg sync.WaitGroup
	for i := range batches {
		if len(batches[i].send) == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = s.send(ctx, batches[i].send, false)
		}()
	}
	wg.Wait()
	for i := range batches {
		if errs[i] != nil {
			return 0, errs[i]
		}
		sp := batches[i].sp
		sp.at = s.o.Now()
		s.sent = sp.to
		if sp.n > 0 || len(s.pending) > 0 {
			s.pending = append(s.pending, sp)
		} else if err := s.commit(ctx, sp.to); err != nil {
			// Nothing to check: the cursor moves on at once.
			return 0, err
		}
	}
	return int(through - start), nil
}

// skipDeleted notices lines the store's retention deleted before they
// were shipped: they are lost to VictoriaLogs, counted and reported.
func (s *Shipper) skipDeleted(ctx context.Context) error {
	var oldest sql.NullInt64
	if err := s.o.Store.ReadDB().QueryRowContext(ctx, "SELECT MIN(min_seq) FROM blocks WHERE max_seq > ?", s.sent).Scan(&oldest); err != nil {
		return fmt.Errorf("victorialogs shipper: %w", err)
	}
	if !oldest.Valid || oldest.Int64 <= s.sent+1 {
		return nil
	}
	n := oldest.Int64 - 1 - s.sent
	s.o.Logger.Error("victorialogs: records were deleted by the store's retention before they were shipped", "from", s.sent+1, "to", oldest.Int64-1)
	s.lost(ctx, n, fmt.Sprintf("records %d to %d were deleted by the loghost's retention before they reached VictoriaLogs", s.sent+1, oldest.Int64-1))
	s.pending = append(s.pending, span{from: s.sent, to: oldest.Int64 - 1, at: s.o.Now()})
	s.sent = oldest.Int64 - 1
	return nil
}

func (s *Shipper) lost(ctx context.Context, n int64, why string) {
	s.mLost.Add(int(n))
	if s.o.OnLoss != nil {
		s.o.OnLoss(ctx, n, why)
	}
}

// send delivers recs, retrying with backoff until VictoriaLogs takes them
// or ctx ends. After a failed request it first asks VictoriaLogs which of
// them it holds: a request that failed late may have been stored.
func (s *Shipper) send(ctx context.Context, recs []store.Record, resend bool) error {
	backoff := time.Duration(0)
	uncertain := false
	for {
		if uncertain {
			minT, maxT := timeRange(recs)
			present, err := s.presentSeqs(ctx, recs[0].Seq-1, recs[len(recs)-1].Seq, minT, maxT)
			if err != nil {
				backoff = nextBackoff(backoff)
				s.o.Logger.Warn("victorialogs unreachable; lines wait in the store", "err", err, "retry_in", backoff)
				if err := sleep(ctx, backoff); err != nil {
					return err
				}
				continue
			}
			kept := recs[:0:0]
			for i := range recs {
				if !present[recs[i].Seq] {
					kept = append(kept, recs[i])
				}
			}
			recs = kept
			if len(recs) == 0 {
				return nil
			}
		}
		body, n, err := s.encode(recs)
		if err != nil {
			return err
		}
		err = s.o.Client.Insert(ctx, body)
		s.health(ctx, err)
		if err == nil {
			s.mBytes.Add(len(body))
			if resend {
				s.mResent.Add(n)
			} else {
				s.mSent.Add(n)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.mFailed.Inc()
		uncertain = true
		// At least two seconds before looking: VictoriaLogs shows rows
		// about a second after it takes them.
		backoff = max(nextBackoff(backoff), 2*time.Second)
		s.o.Logger.Warn("victorialogs insert failed; lines wait in the store", "err", err, "lines", len(recs), "retry_in", backoff)
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
	}
}

// health follows whether inserts succeed, to tell OnStall.
func (s *Shipper) health(ctx context.Context, err error) {
	if s.o.OnStall == nil || ctx.Err() != nil {
		return
	}
	s.stallMu.Lock()
	now := s.o.Now()
	var call func()
	switch {
	case err == nil && s.stalled:
		s.stalled, s.failingSince = false, time.Time{}
		call = func() { s.o.OnStall(ctx, true, nil) }
	case err == nil:
		s.failingSince = time.Time{}
	case s.failingSince.IsZero():
		s.failingSince = now
	case !s.stalled && now.Sub(s.failingSince) >= s.o.StallAfter:
		s.stalled = true
		call = func() { s.o.OnStall(ctx, false, err) }
	}
	s.stallMu.Unlock()
	if call != nil {
		call()
	}
}

func timeRange(recs []store.Record) (minT, maxT time.Time) {
	for i := range recs {
		t := recs[i].Time
		if minT.IsZero() || t.Before(minT) {
			minT = t
		}
		if t.After(maxT) {
			maxT = t
		}
	}
	return minT, maxT
}

func (s *Shipper) encode(recs []store.Record) ([]byte, int, error) {
	var raw []byte
	for i := range recs {
		raw, _ = appendRecord(raw, &recs[i], s.o.MaxLineBytes)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := zw.Write(raw); err != nil {
		return nil, 0, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, 0, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), len(recs), nil
}
