package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
)

// TestIngestClampsEventTime: a line claiming 9999-12-31 (or year 1) is
// filed at the bound around its arrival, the claim kept as a field.
func TestIngestClampsEventTime(t *testing.T) {
	h, s := newTestHandler(t, nil)
	body := ndjson(
		map[string]any{"line": "from the future", "time": "9999-12-31T23:59:59Z"},
		map[string]any{"line": "<13>1 9999-12-31T23:59:59Z web1 app - - - forged", "format": "syslog"},
		map[string]any{"line": "from the past", "time": "0001-01-01T00:00:01Z"},
		map[string]any{"line": "on time", "time": now.Add(-time.Minute).Format(time.RFC3339)},
	)
	if a := post(t, h, "tok-web1", body, nil); a.code != 200 {
		t.Fatalf("%d %v", a.code, a.body)
	}
	recs := allRecords(t, s)
	if len(recs) != 4 {
		t.Fatalf("%d records", len(recs))
	}
	for i, want := range []time.Time{now.Add(store.MaxEventAhead), now.Add(store.MaxEventAhead), now.Add(-store.MaxEventBehind), now.Add(-time.Minute)} {
		if !recs[i].Time.Equal(want) {
			t.Errorf("line %d filed at %v, want %v", i, recs[i].Time, want)
		}
	}
	if v, ok := recs[0].Field(store.ClaimedTimeField); !ok || v != "9999-12-31T23:59:59Z" {
		t.Errorf("claimed time %q %v", v, ok)
	}
	if _, ok := recs[3].Field(store.ClaimedTimeField); ok {
		t.Error("an on-time line got claimed_time")
	}
}

type fullStore struct{}

func (fullStore) Append(context.Context, string, []store.Record) (store.AppendResult, error) {
	return store.AppendResult{}, fmt.Errorf("%w: insert block: database or disk is full", store.ErrDiskFull)
}

// TestIngestDiskFull: a full disk is 503 with Retry-After (collectors
// keep the batch and back off), not a bare 500.
func TestIngestDiskFull(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	h.o.Store = fullStore{}
	a := post(t, h, "tok-web1", ndjson(map[string]any{"line": "x"}), nil)
	if a.code != 503 || a.hdr.Get("Retry-After") == "" || !strings.Contains(a.body["error"].(string), "disk is full") {
		t.Fatalf("%d %v %v", a.code, a.hdr, a.body)
	}
}

// TestIngestDecodingBounded: while MaxDecoding batches are being read,
// the next waits DecodeWait for a turn and then gets 503 with
// Retry-After, instead of every sender's batch in memory at once; the
// held batches then complete.
func TestIngestDecodingBounded(t *testing.T) {
	h, _ := newTestHandler(t, func(o *Options, _ *store.Options) { o.MaxDecoding = 2; o.DecodeWait = 10 * time.Millisecond })
	var writers []*io.PipeWriter
	answers := make(chan int, 2)
	for range 2 {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", pr)
		req.Header.Set("Authorization", "Bearer tok-web1")
		go func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			answers <- rec.Code
		}()
	}
	for len(h.decoding) < 2 {
		time.Sleep(time.Millisecond)
	}
	a := post(t, h, "tok-db1-new", ndjson(map[string]any{"line": "x"}), nil)
	if a.code != 503 || a.hdr.Get("Retry-After") == "" {
		t.Fatalf("third batch while two decode: %d %v", a.code, a.hdr)
	}
	for _, pw := range writers {
		pw.Write(ndjson(map[string]any{"line": "held"}))
		pw.Close()
	}
	for range 2 {
		if code := <-answers; code != 200 {
			t.Errorf("held batch: %d", code)
		}
	}
	if a := post(t, h, "tok-db1-new", ndjson(map[string]any{"line": "x"}), nil); a.code != 200 {
		t.Fatalf("after: %d", a.code)
	}
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestIngestGzipBomb: 64 MiB of zeros in a 64 KB gzip is refused with 413
// after MaxBatchBytes of it, not decompressed whole.
func TestIngestGzipBomb(t *testing.T) {
	h, _ := newTestHandler(t, func(o *Options, _ *store.Options) { o.MaxBatchBytes = 1 << 20 })
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	zeros := make([]byte, 1<<20)
	for range 64 {
		zw.Write(zeros)
	}
	zw.Close()
	cr := &countReader{r: bytes.NewReader(z.Bytes())}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/ingest", cr)
	req.Header.Set("Authorization", "Bearer tok-web1")
	req.Header.Set("Content-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 413 {
		t.Fatalf("bomb: %d %s", rec.Code, rec.Body)
	}
	if cr.n > int64(z.Len())/10 {
		t.Errorf("read %d of the bomb's %d compressed bytes: not stopped at the bound", cr.n, z.Len())
	}
}

// TestReadAtMost: the buffer doubles as it fills, never past the bound.
func TestReadAtMost(t *testing.T) {
	for _, tt := range []struct{ size, limit int }{{0, 10}, {5, 10}, {10, 10}, {64 << 20, 1<<20 + 1}, {100 << 10, 1 << 20}} {
		b, err := readAtMost(nil, io.LimitReader(zeroReader{}, int64(tt.size)), tt.limit)
		if err != nil || len(b) != min(tt.size, tt.limit) || cap(b) > tt.limit {
			t.Errorf("%d bytes, limit %d: read %d, cap %d, %v", tt.size, tt.limit, len(b), cap(b), err)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }
