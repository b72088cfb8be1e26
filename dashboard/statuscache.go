package dashboard

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// StatusCache builds the public status page at most once per maxAge and
// serves every visitor, the JSON API and the live websocket from that one
// build, gzipped once, with an ETag: a crowd arriving at an outage costs
// one set of queries and one render every few seconds, not one each.
//
// Serving takes no lock: the current build is an atomic pointer, swapped
// when the next one is done. A visitor who finds the build stale gets it
// anyway and starts the next one in the background (only the very first
// visitor, with nothing to show yet, waits), so no request waits for the
// queries and the render.
type StatusCache struct {
	src          StatusSource
	maxAge       time.Duration
	log          *slog.Logger
	now          func() time.Time
	cacheControl []string

	snap atomic.Pointer[statusSnap]
	gen  atomic.Uint64 // bumped by Invalidate; a build made before is stale

	mu          sync.Mutex
	building    chan struct{} // closed when the build under way ends
	buildingGen uint64        // the generation it started from
	failed      time.Time     // the last failed build's end

	// Only the one build under way uses these.
	zw   *gzip.Writer
	hint [3]int // the last build's sizes: main, page, JSON
}

// statusRetry spaces builds after a failed one: a broken database must
// not turn every request into a query.
const statusRetry = time.Second

type statusSnap struct {
	built      time.Time
	gen        uint64
	html, json cachedBody
	live       []byte // the websocket message
}

// cachedBody is one representation with its header values, made once per
// build: net/http copies header values, so requests can share them, and
// a request sets its headers without allocating.
type cachedBody struct {
	plain, gz                []byte
	ctype, cacheControl, tag []string
	plainLen, gzLen          []string
}

var (
	varyValue      = []string{"Accept-Encoding"}
	gzipValue      = []string{"gzip"}
	nosniffValue   = []string{"nosniff"}
	statusCSPValue = []string{statusCSP}
)

// NewStatusCache serves src's page, rebuilt when older than maxAge.
func NewStatusCache(src StatusSource, maxAge time.Duration, logger *slog.Logger) *StatusCache {
	if logger == nil {
		logger = slog.Default()
	}
	return &StatusCache{src: src, maxAge: maxAge, log: logger, now: time.Now,
		cacheControl: []string{"public, max-age=" + strconv.Itoa(int(maxAge.Seconds()))}}
}

func (c *StatusCache) fresh(s *statusSnap) bool {
	return s.gen == c.gen.Load() && c.now().Sub(s.built) < c.maxAge
}

// get returns the current build. When it has only aged, the visitor gets
// it as it is and starts the next in the background. When Invalidate made
// it wrong, the visitor who comes first builds and waits, as do those who
// would otherwise get a build begun before the change (the others get the
// previous page meanwhile): whoever caused the change sees it on their
// next request. With wait (the live hub, which pushes only changes) get
// returns the next build once done rather than the stale one.
func (c *StatusCache) get(ctx context.Context, wait bool) (*statusSnap, error) {
	for {
		s := c.snap.Load()
		if s != nil && c.fresh(s) {
			return s, nil
		}
		gen := c.gen.Load()
		c.mu.Lock()
		if s = c.snap.Load(); s != nil && c.fresh(s) { // built meanwhile
			c.mu.Unlock()
			return s, nil
		}
		ch := c.building
		if ch == nil {
			if s != nil && c.now().Sub(c.failed) < statusRetry {
				c.mu.Unlock()
				return s, nil
			}
			ch = make(chan struct{})
			c.building, c.buildingGen = ch, gen
			c.mu.Unlock()
			// The build serves everyone: it does not end with this visitor.
			bctx := context.WithoutCancel(ctx)
			if s != nil && !wait && s.gen == gen {
				go c.rebuild(bctx, ch, gen)
				return s, nil
			}
			c.rebuild(bctx, ch, gen)
			if s = c.snap.Load(); s == nil {
				return nil, errors.New("status page: build failed")
			}
			return s, nil
		}
		behind := c.buildingGen != gen // begun before the last Invalidate
		c.mu.Unlock()
		if s != nil && !wait && !behind {
			return s, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			if s != nil {
				return s, nil
			}
			return nil, ctx.Err()
		}
		if !behind {
			if s = c.snap.Load(); s == nil {
				return nil, errors.New("status page: build failed")
			}
			return s, nil
		}
		// The build waited for predates the change: make (or join) the next.
	}
}

// rebuild makes the next build (gen is the generation it starts from) and
// swaps it in; on failure the previous one stays.
func (c *StatusCache) rebuild(ctx context.Context, done chan struct{}, gen uint64) {
	fresh, err := c.build(ctx)
	c.mu.Lock()
	if err == nil {
		fresh.gen = gen
		c.snap.Store(fresh)
	} else {
		c.failed = c.now()
	}
	c.building = nil
	close(done)
	c.mu.Unlock()
	if err != nil {
		c.log.Warn("status page: build failed; serving the previous one, if any", "err", err)
	}
}

// Invalidate makes the next request build afresh: a state change or an
// admin's incident update shows at once, not after maxAge.
func (c *StatusCache) Invalidate() {
	c.gen.Add(1)
}

// compress gzips b once per build, for every visitor to come: the best
// compression is worth its milliseconds.
func (c *StatusCache) compress(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b)/8 + 512)
	if c.zw == nil {
		c.zw, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	} else {
		c.zw.Reset(&buf)
	}
	c.zw.Write(b)
	c.zw.Close()
	return buf.Bytes()
}

func etag(b []byte) []string {
	h := sha256.Sum256(b)
	return []string{`"` + hex.EncodeToString(h[:8]) + `"`}
}

func (c *StatusCache) body(ctype string, b []byte) cachedBody {
	z := c.compress(b)
	return cachedBody{plain: b, gz: z, ctype: []string{ctype}, cacheControl: c.cacheControl, tag: etag(b),
		plainLen: []string{strconv.Itoa(len(b))}, gzLen: []string{strconv.Itoa(len(z))}}
}

// statusPageView is the page around its <main>, which is rendered once
// for both the page and the live message.
type statusPageView struct {
	Title, Overall string
	Main           template.HTML
}

func (c *StatusCache) build(ctx context.Context) (*statusSnap, error) {
	p, err := c.src(ctx)
	if err != nil {
		return nil, err
	}
	var main, page, js, live bytes.Buffer
	main.Grow(c.hint[0] + 4096)
	if err := statusTemplate.ExecuteTemplate(&main, "main", p); err != nil {
		return nil, fmt.Errorf("status page template: %w", err)
	}
	page.Grow(main.Len() + 1024)
	if err := statusTemplate.Execute(&page, statusPageView{Title: p.Title, Overall: p.Overall, Main: template.HTML(main.Bytes())}); err != nil {
		return nil, fmt.Errorf("status page template: %w", err)
	}
	js.Grow(c.hint[2] + 4096)
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("status json: %w", err)
	}
	// The message goes to JSON.parse, never into HTML as it is: no need
	// to escape < and > (which triples the size of markup).
	live.Grow(main.Len() + main.Len()/8 + 256)
	lenc := json.NewEncoder(&live)
	lenc.SetEscapeHTML(false)
	if err := lenc.Encode(liveMessage{Generated: p.Generated.UnixMilli(), Title: p.Title + " · " + overallText[p.Overall], Overall: p.Overall, HTML: main.String(), Tail: liveTail(&p)}); err != nil {
		return nil, fmt.Errorf("status live: %w", err)
	}
	c.hint = [3]int{main.Len(), page.Len(), js.Len()}
	return &statusSnap{built: c.now(), html: c.body("text/html; charset=utf-8", page.Bytes()),
		json: c.body("application/json; charset=utf-8", js.Bytes()), live: bytes.TrimSuffix(live.Bytes(), []byte("\n"))}, nil
}

// serve writes the representation: 304 for a matching ETag, the gzipped
// bytes to clients that take them.
func (b *cachedBody) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Cache-Control"] = b.cacheControl
	h["Etag"] = b.tag
	h["Vary"] = varyValue
	if etagMatch(r.Header["If-None-Match"], b.tag[0]) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = b.ctype
	body, n := b.plain, b.plainLen
	if acceptsGzip(r.Header["Accept-Encoding"]) {
		h["Content-Encoding"] = gzipValue
		body, n = b.gz, b.gzLen
	}
	h["Content-Length"] = n
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

// etagMatch reports whether If-None-Match names tag (or is *). Weak and
// strong compare alike, as RFC 9110 has it for If-None-Match.
func etagMatch(inm []string, tag string) bool {
	for _, v := range inm {
		if strings.Contains(v, tag) || strings.TrimSpace(v) == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reads Accept-Encoding: gzip, unless refused with q=0.
func acceptsGzip(ae []string) bool {
	for _, v := range ae {
		for v != "" {
			var part string
			part, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
			if !ok {
				return true
			}
			f, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
			return err == nil && f > 0
		}
	}
	return false
}
