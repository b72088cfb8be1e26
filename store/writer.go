package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/zstd"
)

type appendReq struct {
	host string
	recs []Record
	done chan appendResp
	fn   func() // set for work that must run on the writer goroutine
	// after is the sender's previous request: this one is stored only if
	// all of that one was. failed is the writer goroutine's own note.
	after  *appendReq
	failed bool
}

type appendResp struct {
	res AppendResult
	err error
}

type srcKey struct {
	host   int64
	source string
	gen    string
}

// writer is the store's one writing goroutine. It takes whatever Append
// calls are waiting and commits them in one transaction (group commit),
// so a busy loghost pays one fsync for many batches.
type writer struct {
	s     *Store
	queue chan *appendReq
	quit  chan struct{}
	done  chan struct{}
	codec *codec
	sig   *sigBuilder
	stats *statsBuilder

	hosts   map[string]int64
	sources map[srcKey]int64 // the highest offset stored per source generation
	quota   map[int64]quotaDay
	nextSeq int64

	// Scratch reused between commits.
	refs   []recPlace
	encBuf []byte
	zbuf   []byte

	lastFullLog time.Time // when "disk full" was last logged
}

type quotaDay struct {
	day   string
	bytes int64
}

func newWriter(ctx context.Context, s *Store) (*writer, error) {
	c, err := newCodec()
	if err != nil {
		return nil, err
	}
	w := &writer{
		s: s, queue: make(chan *appendReq, s.opts.QueueLen),
		quit: make(chan struct{}), done: make(chan struct{}),
		codec: c, sig: newSigBuilder(), stats: newStatsBuilder(),
		hosts: map[string]int64{}, sources: map[srcKey]int64{}, quota: map[int64]quotaDay{},
		nextSeq: s.lastSeq + 1,
	}
	rows, err := s.wdb.QueryContext(ctx, "SELECT id, name FROM hosts")
	if err != nil {
		return nil, fmt.Errorf("load hosts: %w", err)
	}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load hosts: %w", err)
		}
		w.hosts[name] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load hosts: %w", err)
	}
	go w.run()
	return w, nil
}

// QueueDepth is how many Append calls wait for the writer.
func (s *Store) QueueDepth() int {
	if s.w == nil {
		return 0
	}
	return len(s.w.queue)
}

func (w *writer) stop() {
	close(w.quit)
	<-w.done
}

func (w *writer) run() {
	defer close(w.done)
	for {
		var first *appendReq
		select {
		case first = <-w.queue:
		case <-w.quit:
			// Commit what was accepted before the stop.
			for {
				select {
				case r := <-w.queue:
					if r.fn != nil {
						r.fn()
						continue
					}
					w.commit([]*appendReq{r})
				default:
					return
				}
			}
		}
		if first.fn != nil {
			first.fn()
			continue
		}
		batch := []*appendReq{first}
		n := len(first.recs)
	more:
		for n < w.s.opts.MaxBatchRecords {
			select {
			case r := <-w.queue:
				if r.fn != nil {
					w.commit(batch)
					r.fn()
					batch, n = nil, 0
					continue
				}
				batch = append(batch, r)
				n += len(r.recs)
			default:
				break more
			}
		}
		if len(batch) > 0 {
			w.commit(batch)
		}
	}
}

type pendingBlock struct {
	hostName string
	kind     Kind
	n        int // records counted in the first pass
	recs     []Record
}

// recPlace places a kept record in its block.
type recPlace struct {
	req, rec int32
	block    int32
}

func (w *writer) commit(batch []*appendReq) {
	start := time.Now()
	now := w.s.opts.Now()
	day := now.In(w.s.opts.Location).Format("2006-01-02")
	results := make([]appendResp, len(batch))
	// Tentative state, applied to the caches only after the commit.
	newSources := map[srcKey]int64{}
	newQuota := map[int64]quotaDay{}
	var blocks []pendingBlock
	byHost := map[string]map[Kind]int{} // index into blocks
	seq := w.nextSeq
	// Records are placed in blocks in a second pass, each block sized
	// exactly: growing them by append copied every record two or three
	// times (a record is 300 bytes; a batch, megabytes).
	refs := w.refs[:0]

	ctx := context.Background()
	tx, err := w.s.wdb.BeginTx(ctx, nil)
	if err != nil {
		w.fail(batch, fmt.Errorf("begin: %w", err))
		return
	}
	var newHosts []string
	abort := func(err error) {
		tx.Rollback()
		for _, h := range newHosts {
			delete(w.hosts, h)
		}
		w.fail(batch, err)
	}
	hostID := func(name string) (int64, error) {
		if id, ok := w.hosts[name]; ok {
			return id, nil
		}
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO hosts(name, first_seen, last_seen) VALUES(?, ?, ?)
			ON CONFLICT(name) DO UPDATE SET last_seen=excluded.last_seen RETURNING id`, name, now.UnixNano(), now.UnixNano()).Scan(&id)
		if err != nil {
			return 0, fmt.Errorf("add host: %w", err)
		}
		w.hosts[name] = id
		newHosts = append(newHosts, name)
		return id, nil
	}
	for i, req := range batch {
		if req.after != nil && req.after.failed {
			req.failed = true
			results[i].err = ErrPredecessor
			continue
		}
		hid, err := hostID(req.host)
		if err != nil {
			abort(err)
			return
		}
		var raw int64
		for j := range req.recs {
			raw += int64(len(req.recs[j].Raw) + len(req.recs[j].Data))
		}
		if q := w.s.opts.HostQuotaPerDay; q > 0 {
			used := w.quotaUsed(tx, hid, day, newQuota)
			if used >= q {
				w.s.m.quotaRejected.Inc()
				results[i].err = ErrQuota
				req.failed = true
				continue
			}
			newQuota[hid] = quotaDay{day: day, bytes: used + raw}
		}
		res := &results[i].res
		for j := range req.recs {
			r := &req.recs[j]
			if r.Host == "" {
				r.Host = req.host
			}
			if r.Source != "" && r.Offset >= 0 {
				sid := hid
				if r.Host != req.host {
					if sid, err = hostID(r.Host); err != nil {
						abort(err)
						return
					}
				}
				k := srcKey{sid, r.Source, r.Gen}
				last, ok := newSources[k]
				if !ok {
					last, err = w.lastOffset(ctx, tx, k)
					if err != nil {
						abort(err)
						return
					}
				}
				if r.Offset <= last {
					res.Replays++
					continue
				}
				newSources[k] = r.Offset
			}
			if r.Kind == 0 {
				r.Kind = KindLog
			}
			if r.Received.IsZero() {
				r.Received = now
			}
			if r.Time.IsZero() {
				r.Time = r.Received
			}
			r.Seq = seq
			seq++
			if res.FirstSeq == 0 {
				res.FirstSeq = r.Seq
			}
			res.LastSeq = r.Seq
			res.Stored++
			kinds := byHost[r.Host]
			if kinds == nil {
				kinds = map[Kind]int{}
				byHost[r.Host] = kinds
			}
			bi, ok := kinds[r.Kind]
			if !ok {
				bi = len(blocks)
				kinds[r.Kind] = bi
				blocks = append(blocks, pendingBlock{hostName: r.Host, kind: r.Kind})
			}
			blocks[bi].n++
			refs = append(refs, recPlace{req: int32(i), rec: int32(j), block: int32(bi)})
		}
	}
	w.refs = refs[:0]
	if len(blocks) == 1 && len(batch) == 1 && blocks[0].n == len(batch[0].recs) {
		// The common case, one collector's batch: its records are the
		// block as they are.
		blocks[0].recs = batch[0].recs
	} else {
		for i := range blocks {
			blocks[i].recs = make([]Record, 0, blocks[i].n)
		}
		for _, ref := range refs {
			b := &blocks[ref.block]
			b.recs = append(b.recs, batch[ref.req].recs[ref.rec])
		}
	}
	if err := w.writeBlocks(ctx, tx, blocks, hostID, now); err != nil {
		abort(err)
		return
	}
	if err := saveState(ctx, tx, newSources, newQuota, now); err != nil {
		abort(err)
		return
	}
	if err := tx.Commit(); err != nil {
		abort(fmt.Errorf("commit: %w", err))
		return
	}
	w.committed(batch, results, blocks, newSources, newQuota, seq, start)
}

// writeBlocks compresses each pending block into the transaction and
// keeps its host's last report and last-seen time.
func (w *writer) writeBlocks(ctx context.Context, tx *sql.Tx, blocks []pendingBlock, hostID func(string) (int64, error), now time.Time) error {
	for _, b := range blocks {
		hid, err := hostID(b.hostName)
		if err != nil {
			return err
		}
		w.encBuf, err = w.insertBlock(ctx, tx, hid, b.kind, b.recs, w.encBuf[:0], w.codec.enc)
		if err != nil {
			return err
		}
		if b.kind == KindReport {
			last := b.recs[len(b.recs)-1]
			if _, err := tx.ExecContext(ctx, "UPDATE hosts SET report=? WHERE id=?", string(last.Data), hid); err != nil {
				return fmt.Errorf("save report: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE hosts SET last_seen=? WHERE id=?", now.UnixNano(), hid); err != nil {
			return fmt.Errorf("update host: %w", err)
		}
	}
	return nil
}

// saveState records the sources' next offsets (what makes a resent line
// a replay) and the hosts' quota use in the same transaction as the
// blocks.
func saveState(ctx context.Context, tx *sql.Tx, newSources map[srcKey]int64, newQuota map[int64]quotaDay, now time.Time) error {
	for k, off := range newSources {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sources(host_id, source, gen, next_offset, updated) VALUES(?,?,?,?,?)
			ON CONFLICT(host_id, source, gen) DO UPDATE SET next_offset=excluded.next_offset, updated=excluded.updated`,
			k.host, k.source, k.gen, off+1, now.UnixNano()); err != nil {
			return fmt.Errorf("save source offset: %w", err)
		}
	}
	for hid, q := range newQuota {
		if _, err := tx.ExecContext(ctx, `INSERT INTO quota_usage(host_id, day, bytes) VALUES(?,?,?)
			ON CONFLICT(host_id, day) DO UPDATE SET bytes=excluded.bytes`, hid, q.day, q.bytes); err != nil {
			return fmt.Errorf("save quota usage: %w", err)
		}
	}
	return nil
}

// committed applies a committed batch to the caches, hands its records to
// the consumers and followers, and only then answers the senders.
func (w *writer) committed(batch []*appendReq, results []appendResp, blocks []pendingBlock, newSources map[srcKey]int64, newQuota map[int64]quotaDay, seq int64, start time.Time) {
	if w.s.fullSince.Swap(0) != 0 {
		w.s.opts.Logger.Info("store writes again: the disk has room")
	}
	for k, v := range newSources {
		w.sources[k] = v
	}
	for k, v := range newQuota {
		w.quota[k] = v
	}
	var replays int
	for i := range batch {
		replays += results[i].res.Replays
	}
	stored := int(seq - w.nextSeq)
	w.nextSeq = seq
	w.s.m.commitDuration.UpdateDuration(start)
	w.s.m.records.Add(stored)
	w.s.m.replays.Add(replays)
	w.s.m.commits.Inc()
	if stored > 0 {
		chunks := make([][]Record, len(blocks))
		for i := range blocks {
			normalize(blocks[i].recs)
			chunks[i] = blocks[i].recs
		}
		// Before committed(): a consumer woken by it finds the records here.
		w.s.recent.add(seq-int64(stored), seq-1, chunks)
		w.s.committed(seq - 1)
		w.s.live.publish(chunks)
	}
	// Answered last: a sender that reads back what it stored finds it.
	for i := range batch {
		batch[i].done <- results[i]
	}
}

// normalize makes recs what reading them back from their block gives, so
// that consumers served from memory see the same records as from disk.
func normalize(recs []Record) {
	for i := range recs {
		r := &recs[i]
		r.Received = time.Unix(0, r.Received.UnixNano())
		r.Time = time.Unix(0, r.Time.UnixNano())
		r.Severity, r.Facility = int(byte(r.Severity+1))-1, int(byte(r.Facility+1))-1
		if len(r.Fields) == 0 {
			r.Fields = nil
		} else {
			r.Fields = r.Fields[:len(r.Fields):len(r.Fields)]
		}
		if len(r.Data) == 0 {
			r.Data = nil
		}
	}
}

func (w *writer) quotaUsed(tx *sql.Tx, hid int64, day string, pending map[int64]quotaDay) int64 {
	if q, ok := pending[hid]; ok && q.day == day {
		return q.bytes
	}
	if q, ok := w.quota[hid]; ok && q.day == day {
		return q.bytes
	}
	var used int64
	err := tx.QueryRow("SELECT bytes FROM quota_usage WHERE host_id=? AND day=?", hid, day).Scan(&used)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		w.s.opts.Logger.Warn("read quota usage", "err", err)
	}
	w.quota[hid] = quotaDay{day: day, bytes: used}
	return used
}

func (w *writer) lastOffset(ctx context.Context, tx *sql.Tx, k srcKey) (int64, error) {
	if v, ok := w.sources[k]; ok {
		return v, nil
	}
	var next int64
	err := tx.QueryRowContext(ctx, "SELECT next_offset FROM sources WHERE host_id=? AND source=? AND gen=?", k.host, k.source, k.gen).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read source offset: %w", err)
	}
	return next - 1, nil
}

// insertBlock encodes, compresses and inserts recs as one block with its
// signature; buf is scratch space returned for reuse.
func (w *writer) insertBlock(ctx context.Context, tx *sql.Tx, hid int64, kind Kind, recs []Record, buf []byte, enc *zstd.Encoder) ([]byte, error) {
	buf = encodeRecords(buf, recs)
	// The driver copies the blob, so the compressed buffer is reused.
	data := enc.EncodeAll(buf, w.zbuf[:0])
	w.zbuf = data[:0]
	var raw int64
	minT, maxT := recs[0].Time.UnixNano(), recs[0].Time.UnixNano()
	for i := range recs {
		raw += int64(len(recs[i].Raw) + len(recs[i].Data))
		t := recs[i].Time.UnixNano()
		minT, maxT = min(minT, t), max(maxT, t)
	}
	var bands [allBands][]byte
	size := int64(len(data))
	if kind == KindLog {
		for i := range recs {
			w.sig.add(&recs[i])
		}
		bands = w.sig.build()
		for _, b := range bands {
			size += int64(len(b))
		}
	}
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO blocks(host_id, kind, n, min_seq, max_seq, min_time, max_time, raw_bytes, size, data)
		VALUES(?,?,?,?,?,?,?,?,?,?) RETURNING id`, hid, int(kind), len(recs), recs[0].Seq, recs[len(recs)-1].Seq, minT, maxT, raw, size, data).Scan(&id)
	if err != nil {
		return buf, fmt.Errorf("insert block: %w", err)
	}
	if kind == KindLog {
		for band, bits := range bands {
			if _, err := tx.ExecContext(ctx, "INSERT INTO block_sig(band, block_id, bits) VALUES(?,?,?)", band, id, bits); err != nil {
				return buf, fmt.Errorf("insert signature: %w", err)
			}
		}
		for i := range recs {
			w.stats.add(&recs[i])
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO block_stats(block_id, data) VALUES(?,?)", id, w.stats.build(nil)); err != nil {
			return buf, fmt.Errorf("insert block stats: %w", err)
		}
	}
	return buf, nil
}

// add puts what a query can require of r into the signature.
func (b *sigBuilder) add(r *Record) {
	b.addLine(r.Raw)
	if r.Program != "" {
		b.addField("program", lowerString(r.Program))
	}
	if v, ok := r.Get("severity"); ok {
		b.addField("severity", v)
	}
	if v, ok := r.Get("facility"); ok {
		b.addField("facility", v)
	}
	if r.File != "" {
		b.addField("file", r.File)
	}
	if r.Site != "" {
		b.addField("site", r.Site)
	}
}

func lowerString(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

func (w *writer) fail(batch []*appendReq, err error) {
	w.s.m.writeErrors.Inc()
	err = w.s.fullError(err)
	// A full disk fails every batch until space is freed: say it once a
	// minute, not once a batch.
	if now := time.Now(); !errors.Is(err, ErrDiskFull) || now.Sub(w.lastFullLog) >= time.Minute {
		if errors.Is(err, ErrDiskFull) {
			w.lastFullLog = now
		}
		w.s.opts.Logger.Error("store write failed", "err", err)
	}
	for _, r := range batch {
		r.failed = true
		r.done <- appendResp{err: err}
	}
}

// exclusive runs fn on the writer goroutine's state between two commits,
// so compaction shares its codec and signature builder safely.
func (w *writer) exclusive(ctx context.Context, fn func(*writer) error) error {
	done := make(chan error, 1)
	req := &appendReq{done: make(chan appendResp, 1), fn: func() { done <- fn(w) }}
	select {
	case w.queue <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.quit:
		return ErrClosed
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
