package rrd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// VictoriaMetric is the one metric name every sample is written under,
// with labels host, graph and field; values are rates per second as the
// RRD tiers hold them (unknown samples are not sent).
const VictoriaMetric = "munin_value"

// VictoriaOptions configures the VictoriaMetrics writer
// (storage.victoriametrics.url).
type VictoriaOptions struct {
	URL       string        // base URL, e.g. http://127.0.0.1:8428
	BatchSize int           // samples per import request (default 20000)
	Interval  time.Duration // longest a sample waits (default 5 s)
	// MaxQueued bounds the batches waiting to be sent (default 64): when
	// VictoriaMetrics is down longer than that, the oldest are dropped
	// (the RRD tiers still have them) rather than blocking the consumer.
	MaxQueued int
	Timeout   time.Duration // per request (default 10 s)
	Client    *http.Client
	Metrics   *metrics.Set
	Logger    *slog.Logger
}

// Victoria writes samples to VictoriaMetrics through
// /api/v1/import/prometheus and reads them back with /api/v1/export.
type Victoria struct {
	opts   VictoriaOptions
	sendMu sync.Mutex // one sender
	mu     sync.Mutex // guards buf, n, queue
	buf    []byte
	n      int
	queue  [][]byte
	wake   chan struct{}
	sent   *metrics.Counter
	failed *metrics.Counter
	drop   *metrics.Counter
}

// NewVictoria checks the options; Run sends.
func NewVictoria(opts VictoriaOptions) (*Victoria, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("victoriametrics url %q: want http(s)://host:port", opts.URL)
	}
	opts.URL = strings.TrimRight(opts.URL, "/")
	if opts.BatchSize <= 0 {
		opts.BatchSize = 20000
	}
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = 64
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Victoria{opts: opts, wake: make(chan struct{}, 1),
		sent:   opts.Metrics.GetOrCreateCounter(`watchpost_victoria_samples_sent_total`),
		failed: opts.Metrics.GetOrCreateCounter(`watchpost_victoria_requests_failed_total`),
		drop:   opts.Metrics.GetOrCreateCounter(`watchpost_victoria_samples_dropped_total`),
	}, nil
}

// Add queues one sample; it never blocks on the network.
func (v *Victoria) Add(host, graph, field string, t int64, rate float64) {
	if math.IsNaN(rate) || math.IsInf(rate, 0) {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	b := append(v.buf, VictoriaMetric+`{host=`...)
	b = strconv.AppendQuote(b, host)
	b = append(b, ",graph="...)
	b = strconv.AppendQuote(b, graph)
	b = append(b, ",field="...)
	b = strconv.AppendQuote(b, field)
	b = append(b, "} "...)
	b = strconv.AppendFloat(b, rate, 'g', -1, 64)
	b = append(b, ' ')
	b = strconv.AppendInt(b, t*1000, 10)
	v.buf = append(b, '\n')
	v.n++
	if v.n >= v.opts.BatchSize {
		v.cut()
	}
}

// cut moves the buffer to the send queue; v.mu is held.
func (v *Victoria) cut() {
	if v.n == 0 {
		return
	}
	if len(v.queue) >= v.opts.MaxQueued {
		v.drop.Add(bytes.Count(v.queue[0], []byte{'\n'}))
		v.queue = v.queue[1:]
	}
	v.queue = append(v.queue, v.buf)
	v.buf, v.n = nil, 0
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// Run sends queued batches until ctx ends, retrying a failed batch with
// backoff while newer ones wait behind it.
func (v *Victoria) Run(ctx context.Context) error {
	tick := time.NewTicker(v.opts.Interval)
	defer tick.Stop()
	backoff := time.Duration(0)
	for {
		var retry <-chan time.Time
		if backoff > 0 {
			retry = time.After(backoff)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			v.mu.Lock()
			v.cut()
			v.mu.Unlock()
		case <-v.wake:
		case <-retry:
		}
		if err := v.drain(ctx); err != nil {
			v.failed.Inc()
			backoff = min(max(2*backoff, time.Second), time.Minute)
			v.opts.Logger.Warn("victoriametrics import failed, will retry", "err", err, "in", backoff)
			continue
		}
		backoff = 0
	}
}

// drain sends the queue in order; one sender at a time, so Flush and Run
// never send a batch twice.
func (v *Victoria) drain(ctx context.Context) error {
	v.sendMu.Lock()
	defer v.sendMu.Unlock()
	for {
		v.mu.Lock()
		if len(v.queue) == 0 {
			v.mu.Unlock()
			return nil
		}
		batch := v.queue[0]
		v.queue = v.queue[1:]
		v.mu.Unlock()
		if err := v.send(ctx, batch); err != nil {
			v.mu.Lock()
			v.queue = append([][]byte{batch}, v.queue...)
			for len(v.queue) > v.opts.MaxQueued {
				v.drop.Add(bytes.Count(v.queue[0], []byte{'\n'}))
				v.queue = v.queue[1:]
			}
			v.mu.Unlock()
			return err
		}
		v.sent.Add(bytes.Count(batch, []byte{'\n'}))
	}
}

// Flush sends everything queued now (tests, shutdown).
func (v *Victoria) Flush(ctx context.Context) error {
	v.mu.Lock()
	v.cut()
	v.mu.Unlock()
	return v.drain(ctx)
}

func (v *Victoria) send(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.opts.URL+"/api/v1/import/prometheus", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("victoriametrics import: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := v.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("victoriametrics import: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("victoriametrics import: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Query reads a graph's samples back from VictoriaMetrics in the shape
// DB.Query returns (Tier "victoria"). With step > 0 the samples are
// consolidated into step buckets with average, minimum and maximum.
func (v *Victoria) Query(ctx context.Context, host, graph string, from, to time.Time, step time.Duration) ([]Series, error) {
	match := fmt.Sprintf(`%s{host=%s,graph=%s}`, VictoriaMetric, strconv.Quote(host), strconv.Quote(graph))
	q := url.Values{"match[]": {match}, "start": {strconv.FormatInt(from.Unix(), 10)}, "end": {strconv.FormatInt(to.Unix(), 10)}}
	ctx, cancel := context.WithTimeout(ctx, v.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.opts.URL+"/api/v1/export?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("victoriametrics export: %w", err)
	}
	resp, err := v.opts.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("victoriametrics export: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("victoriametrics export: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return decodeExport(resp.Body, int64(step/time.Second))
}

// decodeExport parses /api/v1/export's JSON lines.
func decodeExport(r io.Reader, step int64) ([]Series, error) {
	byField := map[string][]Point{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var line struct {
			Metric     map[string]string `json:"metric"`
			Values     []float64         `json:"values"`
			Timestamps []int64           `json:"timestamps"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf("victoriametrics export: %w", err)
		}
		f := line.Metric["field"]
		for i := range line.Values {
			if i < len(line.Timestamps) {
				x := line.Values[i]
				byField[f] = append(byField[f], Point{T: line.Timestamps[i] / 1000, Avg: x, Min: x, Max: x})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("victoriametrics export: %w", err)
	}
	out := make([]Series, 0, len(byField))
	for f, ps := range byField {
		sort.Slice(ps, func(i, j int) bool { return ps[i].T < ps[j].T })
		s := Series{Field: f, Tier: "victoria", Points: ps}
		if step > 0 {
			s.Step, s.Points = step, bucket(ps, step)
		} else if len(ps) > 1 {
			s.Step = ps[len(ps)-1].T - ps[len(ps)-2].T
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out, nil
}

// bucket consolidates points into step-wide buckets ending at multiples
// of step, as the RRD tiers' rows do.
func bucket(ps []Point, step int64) []Point {
	var out []Point
	n := 0
	for _, p := range ps {
		end := (p.T + step - 1) / step * step
		if len(out) == 0 || out[len(out)-1].T != end {
			if n > 0 {
				out[len(out)-1].Avg /= float64(n)
			}
			out = append(out, Point{T: end, Avg: 0, Min: p.Min, Max: p.Max})
			n = 0
		}
		b := &out[len(out)-1]
		b.Avg += p.Avg
		b.Min = math.Min(b.Min, p.Min)
		b.Max = math.Max(b.Max, p.Max)
		n++
	}
	if n > 0 {
		out[len(out)-1].Avg /= float64(n)
	}
	return out
}

// PushMetrics pushes what write writes (the loghost's own /metrics, all
// its sets) to VictoriaMetrics every interval until ctx ends; it returns
// at once. extraLabels is `instance="loghost"` style. POST, since the
// library's default GET is not an import.
func PushMetrics(ctx context.Context, baseURL string, write func(io.Writer), interval time.Duration, extraLabels string) error {
	return metrics.InitPushExtWithOptions(ctx, strings.TrimRight(baseURL, "/")+"/api/v1/import/prometheus", interval,
		write, &metrics.PushOptions{ExtraLabels: extraLabels, Method: http.MethodPost})
}
