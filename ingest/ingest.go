// Package ingest is the loghost's POST /api/v1/ingest: NDJSON batches of
// log lines, metric samples and collector reports from collectors, stored
// durably before the answer.
package ingest

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fastjson"
	"github.com/watchpost/watchpost/internal/logevery"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
)

// Version is the newest ingest format this loghost reads; older
// collectors send older versions, which stay readable.
const Version = 1

// Appender is what ingest needs of the store.
type Appender interface {
	Append(ctx context.Context, host string, recs []store.Record) (store.AppendResult, error)
}

// Enroller decides whether a batch sent with the shared collector token
// may be filed under the host it names (enroll.Registry).
type Enroller interface {
	Claim(ctx context.Context, host, addr string) error
}

// Options configures the handler.
type Options struct {
	Store  Appender
	Tokens *Tokens
	// Enroll, when set, is asked about every batch sent with an
	// enrollment token; nil lets any name in.
	Enroll Enroller
	// MaxBodyBytes bounds the request body as sent (compressed), and
	// MaxBatchBytes the batch after decompression (16 MiB each), checked
	// while the body streams in: a gzip bomb stops at MaxBatchBytes.
	MaxBodyBytes  int64
	MaxBatchBytes int64
	// MaxDecoding bounds the batches read and decoded at once (default
	// the number of CPUs less one, at least 1); beyond it a batch waits up to
	// DecodeWait (1 s) for a turn, then gets 503 with Retry-After. Memory
	// then stays near MaxDecoding × MaxBatchBytes however many collectors
	// send at once.
	MaxDecoding int
	DecodeWait  time.Duration
	// MaxLineBytes bounds one log line; longer lines are truncated and marked.
	MaxLineBytes int
	// Location is where a day ends for the daily quota (the configured
	// timezone).
	Location *time.Location
	// HostZone is the zone an admin configured for a host's zone-less
	// times (hosts.NAME.timezone), or nil. Without one, zone-less times
	// (RFC 3164 syslog lines, most file lines) are read in the zone the
	// collector names in its requests (ZoneHeader), else in the
	// loghost's own zone: a time belongs to the zone of the host that
	// wrote it, not to the zone the loghost displays.
	HostZone func(host string) *time.Location
	// Redactor masks secrets in each line before it is parsed or stored
	// (nil: none).
	Redactor *logparse.Redactor
	// PartLines is how many decoded records of a batch the handler hands
	// the store at a time, when the store takes parts (AsyncAppender):
	// 0 is 1,024; below 0, the whole batch in one Append.
	PartLines int
	Now       func() time.Time
	Metrics   *metrics.Set
	Logger    *slog.Logger
}

// Handler serves POST /api/v1/ingest.
type Handler struct {
	parsers fastjson.ParserPool
	o       Options
	zones   sync.Map // zone name → *time.Location, the collectors' zones
	nzones  atomic.Int32
	// decoding holds a token per batch being read and decoded.
	decoding chan struct{}
	bufs     sync.Pool // *[]byte for batches
	// claimLog keeps refused host claims to a log line a minute per
	// client and name.
	claimLog *logevery.Limiter
	m        struct {
		batches, lines, bytes, rejected, replays, authFailures *metrics.Counter
		tooLarge, busy, quota, badBatch, truncated, clamped    *metrics.Counter
		diskFull, decodeBusy, enrollRefused                    *metrics.Counter
		latency                                                *metrics.Histogram
	}
}

// New returns the ingest handler.
func New(o Options) *Handler {
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 16 << 20
	}
	if o.MaxBatchBytes == 0 {
		// A collector's batch is 2 MiB of lines; JSON and base64 add a
		// third. Room to spare, but not a gigabyte from a 16 MB gzip.
		o.MaxBatchBytes = 16 << 20
	}
	if o.MaxDecoding == 0 {
		// One core stays for everything else (the writer, /healthz, the
		// status page) however many batches arrive at once.
		o.MaxDecoding = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if o.DecodeWait == 0 {
		o.DecodeWait = time.Second
	}
	if o.MaxLineBytes == 0 {
		o.MaxLineBytes = 256 << 10
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
	h := &Handler{o: o, decoding: make(chan struct{}, o.MaxDecoding), claimLog: logevery.New(time.Minute, 10000)}
	s := o.Metrics
	h.m.batches = s.NewCounter("watchpost_ingest_batches_total")
	h.m.lines = s.NewCounter("watchpost_ingest_lines_total")
	h.m.bytes = s.NewCounter("watchpost_ingest_bytes_total")
	h.m.rejected = s.NewCounter("watchpost_ingest_rejected_lines_total")
	h.m.replays = s.NewCounter("watchpost_ingest_replays_dropped_total")
	h.m.authFailures = s.NewCounter("watchpost_ingest_auth_failures_total")
	h.m.tooLarge = s.NewCounter(`watchpost_ingest_refused_total{reason="too_large"}`)
	h.m.busy = s.NewCounter(`watchpost_ingest_refused_total{reason="busy"}`)
	h.m.quota = s.NewCounter(`watchpost_ingest_refused_total{reason="quota"}`)
	h.m.badBatch = s.NewCounter(`watchpost_ingest_refused_total{reason="bad_batch"}`)
	h.m.diskFull = s.NewCounter(`watchpost_ingest_refused_total{reason="disk_full"}`)
	h.m.decodeBusy = s.NewCounter(`watchpost_ingest_refused_total{reason="decoding_busy"}`)
	h.m.enrollRefused = s.NewCounter(`watchpost_ingest_refused_total{reason="host_claim"}`)
	h.m.truncated = s.NewCounter("watchpost_ingest_truncated_lines_total")
	h.m.clamped = s.NewCounter("watchpost_ingest_clamped_times_total")
	h.m.latency = s.NewHistogram("watchpost_ingest_duration_seconds")
	return h
}

// Item is one NDJSON line of a batch (format version 1). Unknown keys are
// ignored so that newer collectors can add fields.
type Item struct {
	Type    string          `json:"type"` // log (default), metric, report
	Source  string          `json:"source"`
	Gen     string          `json:"gen"`
	Offset  *int64          `json:"offset"`
	Line    []byte          `json:"line"`     // set when HasLine; points into the parser's memory
	LineB64 []byte          `json:"line_b64"` // set when HasB64
	HasLine bool            `json:"-"`
	HasB64  bool            `json:"-"`
	File    string          `json:"file"`
	Format  string          `json:"format"`
	Site    string          `json:"site"`
	Time    string          `json:"time"` // RFC 3339; for sources that know it (the journal)
	Program string          `json:"program"`
	PID     string          `json:"pid"`
	Sev     *int            `json:"severity"`
	Fac     *int            `json:"facility"`
	Host    string          `json:"host"` // honoured only for enrollment tokens
	Data    json.RawMessage `json:"-"`
}

// Rejected names a line of the batch that was not stored, and why.
type Rejected struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// Response is the 200 answer.
type Response struct {
	Stored   int        `json:"stored"`
	Replays  int        `json:"replays"`
	Rejected []Rejected `json:"rejected,omitempty"`
	Version  int        `json:"version"`
	// Host is the name the batch was filed under (the token's host, or
	// the name an enrolling collector gave), so a collector can say so.
	Host string `json:"host"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer h.m.latency.UpdateDuration(start)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	host, enroll, found := h.o.Tokens.Lookup(strings.TrimSpace(tok))
	if !ok || !found {
		h.m.authFailures.Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="watchpost ingest"`)
		writeError(w, http.StatusUnauthorized, "missing or unknown ingest token")
		return
	}
	if enroll {
		host = r.Header.Get("X-Watchpost-Host")
		if err := validHost(host); err != nil {
			writeError(w, http.StatusBadRequest, "enrollment token: "+err.Error())
			return
		}
		if h.o.Enroll != nil {
			addr, _, _ := net.SplitHostPort(r.RemoteAddr)
			if err := h.o.Enroll.Claim(r.Context(), host, addr); err != nil {
				h.m.enrollRefused.Inc()
				if ok, skipped := h.claimLog.Allow(addr+" "+host, time.Now()); ok {
					h.o.Logger.Warn("ingest: shared collector token refused for a host", "host", host, "client", addr, "err", err,
						"refused_since_last_line", skipped)
				}
				writeError(w, http.StatusForbidden, "shared collector token: "+err.Error())
				return
			}
		}
	}
	if r.ContentLength > h.o.MaxBodyBytes {
		h.m.tooLarge.Inc()
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes: send smaller batches", h.o.MaxBodyBytes))
		return
	}
	// A turn to read and decode: what bounds the memory of many batches
	// (or gzip bombs) at once.
	if !h.acquire(r.Context()) {
		if r.Context().Err() != nil {
			return
		}
		h.m.decodeBusy.Inc()
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the loghost is decoding other batches; retry")
		return
	}
	buf := h.getBuf()
	// Once decoded, the records own their bytes: the turn and the buffer
	// go to the next batch while these are committed.
	release := sync.OnceFunc(func() {
		<-h.decoding
		h.putBuf(buf)
	})
	defer release()
	var body io.Reader = http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(body)
		if err != nil {
			h.refuse(w, err, "invalid gzip stream")
			return
		}
		defer zr.Close()
		body = zr
	}
	// Decompressed as it streams in, and stopped one byte past the bound.
	batch, err := readAtMost((*buf)[:0], body, int(h.o.MaxBatchBytes)+1)
	*buf = batch
	if err != nil {
		h.refuse(w, err, "unreadable batch")
		return
	}
	if int64(len(batch)) > h.o.MaxBatchBytes {
		h.m.tooLarge.Inc()
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("batch over %d bytes after decompression", h.o.MaxBatchBytes))
		return
	}
	h.m.batches.Inc()
	h.m.bytes.Add(len(batch))
	res, rejected, err := h.store(r.Context(), batch, host, enroll, h.lineZone(host, r.Header.Get(ZoneHeader)), release)
	h.m.rejected.Add(len(rejected))
	switch {
	case errors.Is(err, store.ErrBusy):
		h.m.busy.Inc()
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the store writer is behind; retry")
		return
	case errors.Is(err, store.ErrQuota):
		h.m.quota.Inc()
		w.Header().Set("Retry-After", strconv.Itoa(secondsToMidnight(h.o.Now().In(h.o.Location))))
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("host %s is over its daily ingest quota", host))
		return
	case errors.Is(err, store.ErrPredecessor):
		// A part of the batch failed in the writer and the rest was
		// held back; the log has the cause.
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "could not store the whole batch; retry")
		return
	case errors.Is(err, store.ErrDiskFull):
		// Nothing of the batch was stored; the collector keeps it and
		// retries. 503, not 507: collectors back off on 503's
		// Retry-After, and the disk incident tells the admin why.
		h.m.diskFull.Inc()
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, "the loghost's disk is full; nothing of the batch was stored; retry later")
		return
	case errors.Is(err, store.ErrClosed):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the loghost is shutting down; retry")
		return
	case err != nil:
		if r.Context().Err() != nil {
			return // the client went away; it will resend and replays are dropped
		}
		h.o.Logger.Error("ingest: store", "host", host, "err", err)
		writeError(w, http.StatusInternalServerError, "could not store the batch; retry")
		return
	}
	h.m.lines.Add(res.Stored)
	h.m.replays.Add(res.Replays)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(Response{Stored: res.Stored, Replays: res.Replays, Rejected: rejected, Version: Version, Host: host})
}

// readAtMost appends what r gives to b, up to limit bytes in all. The
// buffer doubles as it fills but never past limit: bytes.Buffer would
// double a full 16 MiB buffer to 32 for the one byte that proves the
// batch too big.
func readAtMost(b []byte, r io.Reader, limit int) ([]byte, error) {
	for len(b) < limit {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(max(2*cap(b), 64<<10), limit))
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// acquire waits up to DecodeWait for a turn to decode.
func (h *Handler) acquire(ctx context.Context) bool {
	select {
	case h.decoding <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(h.o.DecodeWait)
	defer t.Stop()
	select {
	case h.decoding <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// bigBatch is the size from which a batch's buffer is not kept for the
// next one: after a burst of large (or hostile) batches the heap they
// grew goes back, the runtime returning it to the system on its own
// (bench/hostile.sh measured debug.FreeOSMemory after bursts: no
// better, at the price of a full collection).
const bigBatch = 4 << 20

func (h *Handler) getBuf() *[]byte {
	if b, ok := h.bufs.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

// putBuf keeps a buffer of a usual batch for the next one.
func (h *Handler) putBuf(b *[]byte) {
	if cap(*b) <= bigBatch {
		*b = (*b)[:0]
		h.bufs.Put(b)
	}
}

func (h *Handler) refuse(w http.ResponseWriter, err error, msg string) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		h.m.tooLarge.Inc()
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes: send smaller batches", h.o.MaxBodyBytes))
		return
	}
	h.m.badBatch.Inc()
	writeError(w, http.StatusBadRequest, msg+": "+err.Error())
}

func secondsToMidnight(now time.Time) int {
	y, m, d := now.Date()
	next := time.Date(y, m, d+1, 0, 0, 0, 0, now.Location())
	return max(1, int(next.Sub(now).Seconds()))
}

func validHost(h string) error {
	if h == "" {
		return errors.New("X-Watchpost-Host header is missing")
	}
	if len(h) > 253 {
		return errors.New("host name is too long")
	}
	for _, c := range h {
		if !(c == '-' || c == '.' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("host name %q has a character other than letters, digits, '-', '.', '_'", h)
		}
	}
	return nil
}

// AsyncAppender is a store that queues a part of a batch and takes the
// next part while the first is committed (store.Store).
type AsyncAppender interface {
	AppendAsync(host string, recs []store.Record, after *store.Pending) (*store.Pending, error)
}

// store decodes the batch and stores it. With an AsyncAppender it hands
// the store a part every PartLines records, chained so that a part is
// stored only if the parts before it were: the writer commits part k
// while this goroutine parses part k+1, which is how one collector's one
// request in flight keeps both cores busy. The answer waits for all parts.
func (h *Handler) store(ctx context.Context, batch []byte, host string, enroll bool, loc *time.Location, decoded func()) (store.AppendResult, []Rejected, error) {
	as, ok := h.o.Store.(AsyncAppender)
	if !ok || h.o.PartLines < 0 {
		recs, rejected := h.decode(batch, host, enroll, loc, 0, nil)
		decoded()
		res, err := h.o.Store.Append(ctx, host, recs)
		return res, rejected, err
	}
	var parts []*store.Pending
	var qerr error
	emit := func(recs []store.Record) {
		if qerr != nil {
			return
		}
		var after *store.Pending
		if len(parts) > 0 {
			after = parts[len(parts)-1]
		}
		p, err := as.AppendAsync(host, recs, after)
		if err != nil {
			qerr = err
			return
		}
		parts = append(parts, p)
	}
	_, rejected := h.decode(batch, host, enroll, loc, cmp.Or(h.o.PartLines, 1024), emit)
	decoded()
	var res store.AppendResult
	var first error
	for _, p := range parts {
		r, err := p.Wait(ctx)
		if first == nil {
			first = err
		}
		res.Stored += r.Stored
		res.Replays += r.Replays
		if res.FirstSeq == 0 {
			res.FirstSeq = r.FirstSeq
		}
		res.LastSeq = max(res.LastSeq, r.LastSeq)
	}
	return res, rejected, cmp.Or(first, qerr)
}

// decode turns a batch into records; malformed lines are rejected one by
// one so that a single bad line never poisons the batch. With emit, every
// part records go to emit as they are ready (and the rest at the end);
// without, all are returned.
func (h *Handler) decode(batch []byte, host string, enroll bool, loc *time.Location, part int, emit func([]store.Record)) ([]store.Record, []Rejected) {
	now := h.o.Now()
	size := bytes.Count(batch, []byte{'\n'}) + 1
	if emit != nil {
		size = min(size, part)
	}
	recs := make([]store.Record, 0, size)
	var rejected []Rejected
	sc := bufio.NewScanner(bytes.NewReader(batch))
	sc.Buffer(nil, len(batch)+1)
	n := 0
	p := h.parsers.Get()
	defer h.parsers.Put(p)
	var in interner
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		rec, err := h.decodeItem(p, &in, line, now, loc)
		if err != nil {
			rejected = append(rejected, Rejected{Line: n, Error: err.Error()})
			continue
		}
		recs = append(recs, rec)
		if emit != nil && len(recs) == part {
			emit(recs)
			// The store owns the part now.
			recs = make([]store.Record, 0, part)
		}
	}
	if emit != nil && len(recs) > 0 {
		emit(recs)
		recs = nil
	}
	return recs, rejected
}

func (h *Handler) decodeItem(p *fastjson.Parser, in *interner, line []byte, now time.Time, loc *time.Location) (store.Record, error) {
	it, err := parseItem(p, in, line)
	if err != nil {
		return store.Record{}, err
	}
	rec := store.Record{Received: now, Offset: -1}
	switch it.Type {
	case "metric", "report":
		rec.Kind = store.KindMetric
		if it.Type == "report" {
			rec.Kind = store.KindReport
		} else if err := checkMetric(line); err != nil {
			// Refused here, one item at a time, so a bad sample never
			// reaches the metric store's consumer.
			return store.Record{}, err
		}
		rec.Data = append([]byte(nil), line...)
		rec.Event = logparse.NewEvent()
		rec.Time = now
		return rec, nil
	case "", "log":
	default:
		return store.Record{}, fmt.Errorf("unknown type %q", it.Type)
	}
	var raw []byte
	switch {
	case it.HasLine && it.HasB64:
		return store.Record{}, errors.New("both line and line_b64 given")
	case it.HasLine:
		// The parser's own memory, valid until its next line: the
		// parsers and rec.Raw copy what they keep.
		raw = it.Line
	case it.HasB64:
		b, err := base64.StdEncoding.AppendDecode(nil, it.LineB64)
		if err != nil {
			return store.Record{}, fmt.Errorf("line_b64: %w", err)
		}
		raw = b
	default:
		return store.Record{}, errors.New("no line or line_b64")
	}
	if it.Offset != nil {
		if it.Source == "" {
			return store.Record{}, errors.New("offset without source")
		}
		if *it.Offset < 0 {
			return store.Record{}, errors.New("negative offset")
		}
		rec.Offset = *it.Offset
	} else if it.Source != "" {
		return store.Record{}, errors.New("source without offset")
	}
	if len(raw) > h.o.MaxLineBytes {
		raw = raw[:h.o.MaxLineBytes]
		for len(raw) > 0 && !utf8.Valid(raw[len(raw)-min(len(raw), 3):]) && utf8.Valid(raw[:len(raw)-1]) {
			raw = raw[:len(raw)-1]
		}
		h.m.truncated.Inc()
	}
	raw = h.o.Redactor.Redact(raw)
	rec.Event = logparse.Parse(it.Format, raw, now, loc)
	if it.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, it.Time)
		if err != nil {
			return store.Record{}, fmt.Errorf("time: %w", err)
		}
		rec.Event.Time = t
	}
	if it.Program != "" {
		rec.Program = it.Program
	}
	if it.PID != "" {
		rec.PID = it.PID
	}
	if it.Sev != nil && *it.Sev >= 0 && *it.Sev <= 7 {
		rec.Severity = *it.Sev
	}
	if it.Fac != nil && *it.Fac >= 0 && *it.Fac <= 23 {
		rec.Facility = *it.Fac
	}
	rec.Raw = string(raw)
	if rec.ClampTime() {
		h.m.clamped.Inc()
	}
	rec.Source, rec.Gen, rec.File, rec.Format, rec.Site = it.Source, it.Gen, it.File, it.Format, it.Site
	// The host is the token's: a collector cannot file lines under another
	// host, whatever the line itself claims.
	rec.Host = ""
	return rec, nil
}

// parseItem reads one NDJSON line into an Item. It does what
// json.Unmarshal into Item did, unknown keys ignored and wrong types
// refused, at a fraction of the cost: decoding was four tenths of ingest.
func parseItem(p *fastjson.Parser, in *interner, line []byte) (Item, error) {
	var it Item
	v, err := p.ParseBytes(line)
	if err != nil {
		return it, fmt.Errorf("not a JSON object: %w", err)
	}
	o, err := v.Object()
	if err != nil {
		return it, fmt.Errorf("not a JSON object: %w", err)
	}
	// One pass over the keys; null is as good as absent, and a repeated
	// key's last value wins, as with encoding/json.
	var ferr error
	o.Visit(func(k []byte, x *fastjson.Value) {
		if ferr != nil || x.Type() == fastjson.TypeNull {
			return
		}
		var dst *string
		slot := 0
		// string(k) right in the switch costs no allocation.
		switch string(k) {
		case "type":
			dst, slot = &it.Type, 1
		case "source":
			dst, slot = &it.Source, 2
		case "gen":
			dst, slot = &it.Gen, 3
		case "file":
			dst, slot = &it.File, 4
		case "format":
			dst, slot = &it.Format, 5
		case "site":
			dst, slot = &it.Site, 6
		case "time":
			dst = &it.Time
		case "program":
			dst, slot = &it.Program, 7
		case "pid":
			dst = &it.PID
		case "host":
			dst = &it.Host
		case "line", "line_b64":
			b, err := x.StringBytes()
			if err != nil {
				ferr = fmt.Errorf("%s: want a string", k)
				return
			}
			if len(k) == 4 {
				it.Line, it.HasLine = b, true
			} else {
				it.LineB64, it.HasB64 = b, true
			}
			return
		case "offset", "severity", "facility":
			n, err := x.Int64()
			if err != nil {
				ferr = fmt.Errorf("%s: want a whole number", k)
				return
			}
			switch string(k) {
			case "offset":
				it.Offset = &n
			case "severity":
				sev := int(n)
				it.Sev = &sev
			default:
				fac := int(n)
				it.Fac = &fac
			}
			return
		default:
			return
		}
		b, err := x.StringBytes()
		if err != nil {
			ferr = fmt.Errorf("%s: want a string", k)
			return
		}
		*dst = in.str(slot, b)
	})
	return it, ferr
}

// interner hands out the previous line's string for a key when the value
// is the same: source, generation, file and format repeat on every line of
// a batch, and a string each per line was a tenth of the handler's
// allocations. Slot 0 is never interned.
type interner struct{ last [8]string }

func (in *interner) str(slot int, b []byte) string {
	if slot == 0 {
		return string(b)
	}
	if string(b) == in.last[slot] { // compared without allocating
		return in.last[slot]
	}
	s := string(b)
	in.last[slot] = s
	return s
}

// ZoneHeader names the collector's time zone (IANA, "Europe/Berlin") in
// an ingest request.
const ZoneHeader = "X-Watchpost-Timezone"

// lineZone is the zone of zone-less times in host's lines: the one
// configured for the host, else the one its collector names, else the
// loghost's own.
func (h *Handler) lineZone(host, named string) *time.Location {
	if h.o.HostZone != nil {
		if loc := h.o.HostZone(host); loc != nil {
			return loc
		}
	}
	if named == "" || len(named) > 64 {
		return time.Local
	}
	if loc, ok := h.zones.Load(named); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(named)
	if err != nil || named == "Local" {
		return time.Local
	}
	if h.nzones.Add(1) <= 1000 { // a bound on what clients can make it keep
		h.zones.Store(named, loc)
	}
	return loc
}
