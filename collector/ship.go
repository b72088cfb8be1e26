package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/internal/jsonstr"
)

// ShipperConfig configures the HTTPS sink of `watchpost collect`.
type ShipperConfig struct {
	Server     string // the loghost's base URL
	Token      string
	Host       string // sent with enrollment tokens; a host token fixes the host
	CAFile     string // PEM roots instead of the system's
	SpoolDir   string
	SpoolMax   int64
	Timeout    time.Duration // one request (30 s)
	MaxBackoff time.Duration // between retries of the spool's head (30 s)
	// Timezone names this host's zone for the loghost (LocalZone when
	// empty), which reads zone-less log times in it.
	Timezone string
}

// Shipper sends batches to the loghost's ingest API. A batch is taken
// (Ship returns nil) once the loghost acknowledged it or it is durable in
// the spool; the spool drains in order, so lines of one source reach the
// loghost in offset order and nothing it holds is mistaken for a replay.
type Shipper struct {
	filedAs atomic.Pointer[string] // the host name the loghost answered
	cfg     ShipperConfig
	client  *http.Client
	url     string
	spool   *spool
	now     func() time.Time
	logger  *slog.Logger

	// send serialises requests: a direct send never overtakes the spool.
	send sync.Mutex
	// encMu guards enc, which the runner also uses to encode the next
	// batch while one is in flight (without send). Order: send, encMu.
	encMu  sync.Mutex
	enc    batchEncoder // reused: the agent's memory stays flat
	wake   chan struct{}
	report func() any // the self-report sent with the batches

	sent, sentBytes, spooled, rejected, dropped, failures *metrics.Counter
}

// NewShipper checks the configuration and opens the spool.
func NewShipper(cfg ShipperConfig, now func() time.Time, set *metrics.Set, logger *slog.Logger) (*Shipper, error) {
	if cfg.Server == "" || cfg.Token == "" {
		return nil, errors.New("collector: the loghost's URL and a token are required")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.SpoolMax == 0 {
		cfg.SpoolMax = 512 << 20
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	sp, err := openSpool(cfg.SpoolDir, cfg.SpoolMax)
	if err != nil {
		return nil, err
	}
	if set == nil {
		set = metrics.NewSet()
	}
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.Timezone == "" {
		cfg.Timezone = LocalZone()
	}
	s := &Shipper{cfg: cfg, client: &http.Client{Transport: tr, Timeout: cfg.Timeout},
		url: strings.TrimRight(cfg.Server, "/") + "/api/v1/ingest", spool: sp, now: now, logger: logger,
		wake:      make(chan struct{}, 1),
		sent:      set.NewCounter("watchpost_collector_batches_sent_total"),
		sentBytes: set.NewCounter("watchpost_collector_request_bytes_total"),
		spooled:   set.NewCounter("watchpost_collector_batches_spooled_total"),
		rejected:  set.NewCounter("watchpost_collector_lines_rejected_total"),
		dropped:   set.NewCounter("watchpost_collector_batches_dropped_total"),
		failures:  set.NewCounter("watchpost_collector_send_failures_total"),
	}
	set.NewGauge("watchpost_collector_spool_bytes", func() float64 { _, n := sp.stats(); return float64(n) })
	set.NewGauge("watchpost_collector_spool_batches", func() float64 { n, _ := sp.stats(); return float64(n) })
	return s, nil
}

// SetReport sets what the shipper sends as the collector's self-report.
func (s *Shipper) SetReport(f func() any) { s.report = f }

// SpoolStats is the spool's batch count and size.
func (s *Shipper) SpoolStats() (int, int64) { return s.spool.stats() }

// Ship implements Sink.
func (s *Shipper) Ship(ctx context.Context, lines []Line) error {
	s.send.Lock()
	defer s.send.Unlock()
	body, err := s.encode(lines)
	if err != nil {
		return err
	}
	return s.deliver(ctx, body, len(lines))
}

// encode renders into the shipper's own buffer; called with send held.
func (s *Shipper) encode(lines []Line, items ...any) ([]byte, error) {
	s.encMu.Lock()
	defer s.encMu.Unlock()
	return s.enc.encode(lines, items...)
}

// ShipItems sends other ingest items — metric samples — with the same
// guarantee as lines: nil once the loghost acknowledged them or they are
// durable in the spool, behind whatever the spool already holds.
func (s *Shipper) ShipItems(ctx context.Context, items ...any) error {
	if len(items) == 0 {
		return nil
	}
	s.send.Lock()
	defer s.send.Unlock()
	body, err := s.encode(nil, items...)
	if err != nil {
		return err
	}
	return s.deliver(ctx, body, len(items))
}

// deliver posts body, or spools it when the loghost cannot take it now.
// Called with s.send held.
func (s *Shipper) deliver(ctx context.Context, body []byte, n int) error {
	if n, _ := s.spool.stats(); n == 0 {
		err := s.post(ctx, body)
		if err == nil {
			return nil
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			s.dropped.Inc()
			s.logger.Error("the loghost refused a batch for good; its lines are lost", "items", n, "err", err)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.logger.Warn("loghost unreachable; spooling", "err", err)
	}
	if err := s.spool.put(body); err != nil {
		return err // ErrSpoolFull: the runner stops reading and retries
	}
	s.spooled.Inc()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run drains the spool, oldest first, and sends a self-report every
// reportEvery, until ctx ends.
func (s *Shipper) Run(ctx context.Context, reportEvery time.Duration) {
	backoff := time.Second
	nextReport := time.Time{}
	for ctx.Err() == nil {
		if s.report != nil && reportEvery > 0 && !time.Now().Before(nextReport) {
			if err := s.SendReport(ctx); err == nil {
				nextReport = time.Now().Add(reportEvery)
			}
		}
		wait, err := s.drainOne(ctx)
		if err != nil {
			s.failures.Inc()
			if wait == 0 {
				wait = backoff/2 + rand.N(backoff/2+1)
				backoff = min(2*backoff, s.cfg.MaxBackoff)
			}
			s.logger.Warn("loghost unreachable; keeping the spool", "err", err, "retry_in", wait.Round(time.Millisecond))
		} else {
			backoff = time.Second
			if n, _ := s.spool.stats(); n > 0 {
				continue
			}
			wait = time.Until(nextReport)
			if s.report == nil || reportEvery <= 0 {
				wait = time.Hour
			}
		}
		t := time.NewTimer(max(wait, 10*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// drainOne sends the spool's oldest batch; wait is the server's
// Retry-After when it gave one.
func (s *Shipper) drainOne(ctx context.Context) (time.Duration, error) {
	s.send.Lock()
	defer s.send.Unlock()
	seq, body, ok, err := s.spool.oldest()
	if !ok {
		return 0, nil
	}
	if err != nil {
		s.logger.Error("unreadable spool file dropped", "err", err)
		s.dropped.Inc()
		s.spool.remove(seq)
		return 0, nil
	}
	err = s.post(ctx, body)
	var perm *permanentError
	if errors.As(err, &perm) {
		s.dropped.Inc()
		s.logger.Error("the loghost refused a spooled batch for good; its lines are lost", "err", err)
		s.spool.remove(seq)
		return 0, nil
	}
	if err != nil {
		var ra *retryAfterError
		if errors.As(err, &ra) {
			return ra.wait, err
		}
		return 0, err
	}
	s.spool.remove(seq)
	return 0, nil
}

// SendReport sends the self-report alone (also when no line moves, so
// the loghost can tell a quiet host from a silent one).
func (s *Shipper) SendReport(ctx context.Context) error {
	if s.report == nil {
		return nil
	}
	s.send.Lock()
	defer s.send.Unlock()
	body, err := s.encode(nil, s.report())
	if err != nil {
		return err
	}
	return s.post(ctx, body)
}

type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

type retryAfterError struct {
	wait time.Duration
	msg  string
}

func (e *retryAfterError) Error() string { return e.msg }

type ingestReply struct {
	Host     string `json:"host"`
	Stored   int    `json:"stored"`
	Replays  int    `json:"replays"`
	Rejected []struct {
		Line  int    `json:"line"`
		Error string `json:"error"`
	} `json:"rejected"`
	Error string `json:"error"`
}

func (s *Shipper) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return &permanentError{fmt.Sprintf("ingest request: %v", err)}
	}
	req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	if s.cfg.Host != "" {
		req.Header.Set("X-Watchpost-Host", s.cfg.Host)
	}
	if s.cfg.Timezone != "" {
		req.Header.Set("X-Watchpost-Timezone", s.cfg.Timezone)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	defer resp.Body.Close()
	var reply ingestReply
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&reply)
	switch {
	case resp.StatusCode == http.StatusOK:
		if reply.Host != "" && s.filedAs.Swap(&reply.Host) == nil {
			// With a host token the loghost decides the name, whatever
			// this host calls itself: say which, once.
			s.logger.Info("the loghost files this host's data", "host", reply.Host)
		}
		s.sent.Inc()
		s.sentBytes.Add(len(body))
		if len(reply.Rejected) > 0 {
			s.rejected.Add(len(reply.Rejected))
			s.logger.Warn("the loghost rejected malformed lines", "count", len(reply.Rejected), "first", reply.Rejected[0].Error)
		}
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		wait := 5 * time.Second
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
			wait = time.Duration(secs) * time.Second
		}
		return &retryAfterError{wait: wait, msg: fmt.Sprintf("ingest: %s: %s", resp.Status, reply.Error)}
	case resp.StatusCode == http.StatusBadRequest:
		// The whole body was unreadable: resending it cannot help.
		return &permanentError{fmt.Sprintf("ingest: %s: %s", resp.Status, reply.Error)}
	default:
		// 401 (token not yet configured on the loghost), 413, 5xx:
		// keep the batch and retry; an admin can fix the other side.
		return fmt.Errorf("ingest: %s: %s", resp.Status, reply.Error)
	}
}

// batchEncoder renders batches as gzipped NDJSON, reusing its buffer and
// compressor. The body it returns is valid until the next encode.
type batchEncoder struct {
	buf  bytes.Buffer
	zw   *gzip.Writer
	line []byte
}

// appendWireLine appends one log line of the ingest NDJSON (DESIGN.md §4)
// and its newline.
func appendWireLine(dst []byte, l *Line) []byte {
	dst = append(dst, `{"source":`...)
	dst = jsonstr.Append(dst, l.Source)
	dst = append(dst, `,"gen":`...)
	dst = jsonstr.Append(dst, l.Gen)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, l.Offset, 10)
	if utf8.Valid(l.Text) {
		dst = append(dst, `,"line":`...)
		dst = jsonstr.Append(dst, l.Text)
	} else {
		dst = append(dst, `,"line_b64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, l.Text)
		dst = append(dst, '"')
	}
	for _, kv := range [...]struct{ k, v string }{{"file", l.File}, {"format", l.Format}, {"site", l.Site}, {"program", l.Program}, {"pid", l.PID}} {
		if kv.v != "" {
			dst = append(dst, `,"`...)
			dst = append(dst, kv.k...)
			dst = append(dst, `":`...)
			dst = jsonstr.Append(dst, kv.v)
		}
	}
	if !l.Time.IsZero() {
		dst = append(dst, `,"time":"`...)
		dst = l.Time.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if l.Priority >= 0 {
		dst = append(dst, `,"severity":`...)
		dst = strconv.AppendInt(dst, int64(l.Priority), 10)
	}
	if l.Facility >= 0 {
		dst = append(dst, `,"facility":`...)
		dst = strconv.AppendInt(dst, int64(l.Facility), 10)
	}
	return append(dst, "}\n"...)
}

// encode renders lines and then items (self-reports, metric samples).
func (b *batchEncoder) encode(lines []Line, items ...any) ([]byte, error) {
	b.buf.Reset()
	if err := b.encodeTo(&b.buf, lines, items...); err != nil {
		return nil, err
	}
	return b.buf.Bytes(), nil
}

// encodeTo renders into dst; the one compressor (a megabyte of state) is
// shared by every buffer.
func (b *batchEncoder) encodeTo(dst *bytes.Buffer, lines []Line, items ...any) error {
	if b.zw == nil {
		b.zw, _ = gzip.NewWriterLevel(dst, gzip.BestSpeed)
	} else {
		b.zw.Reset(dst)
	}
	// Lines are written by hand: encoding/json's reflection was a third
	// of the agent's CPU. Items are few and go through it.
	for i := range lines {
		l := &lines[i]
		b.line = appendWireLine(b.line[:0], l)
		if _, err := b.zw.Write(b.line); err != nil {
			return fmt.Errorf("encode batch: %w", err)
		}
	}
	enc := json.NewEncoder(b.zw)
	enc.SetEscapeHTML(false)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return fmt.Errorf("encode item: %w", err)
		}
	}
	if err := b.zw.Close(); err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	return nil
}
