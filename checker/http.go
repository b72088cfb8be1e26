package checker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/watchpost/watchpost/config"
)

// maxRedirects is what a browser gives up after, give or take.
const maxRedirects = 10

func compileHTTP(p *Probe, c config.Check) error {
	u, err := url.Parse(c.Target)
	if err != nil {
		return fmt.Errorf("bad URL %q: %w", c.Target, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("bad URL %q: want http:// or https:// and a host", c.Target)
	}
	p.url = u
	p.method = strings.ToUpper(c.Method)
	if p.method == "" {
		p.method = http.MethodGet
	}
	p.headers = c.Headers
	p.body = c.Body
	p.http = newHTTPClient(p)
	return nil
}

// httpClient is a check's client, built once: a transport per probe cost
// more than the request (HTTP/2 setup, TLS config, maps). Keep-alives stay
// off, so every probe still dials, and times, a connection of its own.
type httpClient struct {
	client *http.Client
	tr     *http.Transport

	// The response headers some condition reads, as "header.NAME" keys;
	// known only once Compile has gathered the conditions.
	headersOnce sync.Once
	headerKeys  []string
}

func newHTTPClient(p *Probe) *httpClient {
	dialer := &net.Dialer{}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, p.opts.network(), addr)
		},
		TLSClientConfig:     p.tlsConfig(p.url.Hostname()),
		DisableKeepAlives:   true,
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: p.Timeout,
		// A probe writes one small request per connection: the default
		// 4 KiB write buffer was a sixth of what a probe allocated.
		WriteBufferSize: 1024,
	}
	return &httpClient{tr: tr, client: &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if p.opts.NoFollowRedirects {
				return http.ErrUseLastResponse
			}
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}}
}

func (h *httpClient) wantedHeaders(p *Probe) []string {
	h.headersOnce.Do(func() {
		for k := range p.reads {
			if strings.HasPrefix(k, "header.") {
				h.headerKeys = append(h.headerKeys, k)
			}
		}
	})
	return h.headerKeys
}

// httpTrace collects the phases of the last connection of a request.
// Callbacks come from the dialer's goroutines too, hence the lock.
type httpTrace struct {
	mu                  sync.Mutex
	start               time.Time
	dnsStart, dnsDone   time.Time
	connStart, connDone time.Time
	tlsStart, tlsDone   time.Time
	firstByte           time.Time
	remote              string
}

func (t *httpTrace) clientTrace() *httptrace.ClientTrace {
	at := func(f *time.Time) {
		t.mu.Lock()
		*f = time.Now()
		t.mu.Unlock()
	}
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { at(&t.dnsStart) },
		DNSDone:  func(httptrace.DNSDoneInfo) { at(&t.dnsDone) },
		ConnectStart: func(string, string) {
			t.mu.Lock()
			if t.connStart.IsZero() || !t.connDone.IsZero() {
				t.connStart, t.connDone = time.Now(), time.Time{}
			}
			t.mu.Unlock()
		},
		ConnectDone: func(_, addr string, err error) {
			if err == nil {
				at(&t.connDone)
			}
		},
		TLSHandshakeStart:    func() { at(&t.tlsStart) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { at(&t.tlsDone) },
		GotFirstResponseByte: func() { at(&t.firstByte) },
		GotConn: func(info httptrace.GotConnInfo) {
			t.mu.Lock()
			if a := info.Conn.RemoteAddr(); a != nil {
				t.remote = a.String()
			}
			t.mu.Unlock()
		},
	}
}

func (t *httpTrace) connected() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.connDone.IsZero()
}

func span(a, b time.Time) (time.Duration, bool) {
	if a.IsZero() || b.IsZero() || b.Before(a) {
		return 0, false
	}
	return b.Sub(a), true
}

func (t *httpTrace) put(v map[string]any, reqStart time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d, ok := span(t.dnsStart, t.dnsDone); ok {
		v["dns_time"] = d
	}
	if d, ok := span(t.connStart, t.connDone); ok {
		v["connect_time"] = d
	}
	if d, ok := span(t.tlsStart, t.tlsDone); ok {
		v["tls_time"] = d
	}
	if d, ok := span(reqStart, t.firstByte); ok {
		v["first_byte_time"] = d
	}
	if t.remote != "" {
		if h, _, err := net.SplitHostPort(t.remote); err == nil {
			v["ip"] = h
		}
	}
}

func runHTTP(ctx context.Context, p *Probe, v map[string]any) error {
	h := p.http
	if h == nil { // a Probe built without Compile
		h = newHTTPClient(p)
	}
	// Nothing should be idle with keep-alives off; this makes sure no
	// connection outlives its probe.
	defer h.tr.CloseIdleConnections()
	trace := &httpTrace{}
	var body io.Reader
	if p.body != "" {
		body = strings.NewReader(p.body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace.clientTrace()), p.method, p.url.String(), body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", "watchpost-checker")
	for k, val := range p.headers {
		if strings.EqualFold(k, "Host") {
			req.Host = val
			continue
		}
		req.Header.Set(k, val)
	}
	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		v["connected"] = trace.connected()
		trace.put(v, start)
		p.putUnverified(v, err)
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s %s: %w", p.method, p.url.Redacted(), err)
	}
	defer resp.Body.Close()
	var rerr error
	if p.reads["body"] || p.reads["body.json"] {
		var b []byte
		b, rerr = io.ReadAll(io.LimitReader(resp.Body, p.opts.maxBody()))
		v["body"] = string(b)
	} else {
		// Read all the same (the response time includes the body), but
		// into io.Discard's pooled buffer rather than a fresh one.
		_, rerr = io.Copy(io.Discard, io.LimitReader(resp.Body, p.opts.maxBody()))
	}
	v["response_time"] = time.Since(start)
	v["connected"] = true
	v["status"] = resp.StatusCode
	v["redirects"] = redirectsOf(resp)
	v["final_url"] = resp.Request.URL.Redacted()
	for _, k := range h.wantedHeaders(p) {
		if vals := resp.Header.Values(k[len("header."):]); len(vals) > 0 {
			v[k] = strings.Join(vals, ", ")
		}
	}
	trace.put(v, start)
	if resp.TLS != nil {
		p.putTLS(v, *resp.TLS)
	}
	if rerr != nil {
		return fmt.Errorf("read body: %w", rerr)
	}
	return nil
}

// redirectsOf counts the redirects followed to resp: each request made
// for a redirect carries the response that caused it.
func redirectsOf(resp *http.Response) int {
	n := 0
	for r := resp.Request; r != nil && r.Response != nil && n <= maxRedirects; r = r.Response.Request {
		n++
	}
	return n
}
