package dashboard

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// StatusCache builds the public status page at most once per maxAge and
// serves every visitor, the JSON API and the live websocket from that one
// build, gzipped once, with an ETag: a crowd arriving at an outage costs
// one set of queries and one render every few seconds, not one each.
type StatusCache struct {
	src    StatusSource
	maxAge time.Duration
	log    *slog.Logger

	mu       sync.Mutex
	snap     *statusSnap
	building chan struct{} // closed when the build under way ends
}

type statusSnap struct {
	built            time.Time
	html, htmlGz     []byte
	json, jsonGz     []byte
	live             []byte // the websocket message
	htmlTag, jsonTag string
}

// NewStatusCache serves src's page, rebuilt when older than maxAge.
func NewStatusCache(src StatusSource, maxAge time.Duration, logger *slog.Logger) *StatusCache {
	if logger == nil {
		logger = slog.Default()
	}
	return &StatusCache{src: src, maxAge: maxAge, log: logger}
}

// get returns a fresh enough build. One caller builds; the others meanwhile
// get the previous build, or wait for the first one.
func (c *StatusCache) get(ctx context.Context) (*statusSnap, error) {
	c.mu.Lock()
	s := c.snap
	if s != nil && time.Since(s.built) < c.maxAge {
		c.mu.Unlock()
		return s, nil
	}
	if ch := c.building; ch != nil {
		c.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		c.mu.Lock()
		s = c.snap
		c.mu.Unlock()
		if s == nil {
			return nil, fmt.Errorf("status page: build failed")
		}
		return s, nil
	}
	ch := make(chan struct{})
	c.building = ch
	c.mu.Unlock()
	// The build serves everyone: it does not end with this visitor.
	fresh, err := c.build(context.WithoutCancel(ctx))
	c.mu.Lock()
	if err == nil {
		c.snap = fresh
	}
	c.building = nil
	close(ch)
	c.mu.Unlock()
	if err != nil {
		if s != nil {
			c.log.Warn("status page: rebuild failed; serving the previous one", "err", err)
			return s, nil
		}
		return nil, err
	}
	return fresh, nil
}

// Invalidate makes the next request build afresh: a state change or an
// admin's incident update shows at once, not after maxAge.
func (c *StatusCache) Invalidate() {
	c.mu.Lock()
	if c.snap != nil {
		c.snap.built = time.Time{}
	}
	c.mu.Unlock()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func etag(b []byte) string {
	h := sha256.Sum256(b)
	return `"` + hex.EncodeToString(h[:8]) + `"`
}

func (c *StatusCache) build(ctx context.Context) (*statusSnap, error) {
	p, err := c.src(ctx)
	if err != nil {
		return nil, err
	}
	var page, main bytes.Buffer
	if err := statusTemplate.Execute(&page, p); err != nil {
		return nil, fmt.Errorf("status page template: %w", err)
	}
	if err := statusTemplate.ExecuteTemplate(&main, "main", p); err != nil {
		return nil, fmt.Errorf("status page template: %w", err)
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("status json: %w", err)
	}
	live, err := json.Marshal(liveMessage{Generated: p.Generated.UnixMilli(), Title: p.Title + " · " + overallText[p.Overall], Overall: p.Overall, HTML: main.String()})
	if err != nil {
		return nil, fmt.Errorf("status live: %w", err)
	}
	return &statusSnap{built: time.Now(), html: page.Bytes(), htmlGz: gz(page.Bytes()), json: js.Bytes(), jsonGz: gz(js.Bytes()),
		live: live, htmlTag: etag(page.Bytes()), jsonTag: etag(js.Bytes())}, nil
}

// serve writes one representation: 304 for a matching ETag, the gzipped
// bytes to clients that take them.
func serveCached(w http.ResponseWriter, r *http.Request, ctype, tag string, plain, gzipped []byte, maxAge time.Duration) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(maxAge.Seconds())))
	h.Set("ETag", tag)
	h.Set("Vary", "Accept-Encoding")
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := plain
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = gzipped
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}
