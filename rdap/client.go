package rdap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Errors a lookup ends with besides an answer.
var (
	// ErrUnavailable: the registry (or registrar) did not answer in time,
	// failed, or asked to be left alone. Nothing is known.
	ErrUnavailable = errors.New("registry unavailable")
	// ErrNotFound: the registry answered that the domain is not
	// registered.
	ErrNotFound = errors.New("domain not registered")
	// ErrNoExpiry: the registry answered but publishes no expiry date
	// (DENIC for .de, among others).
	ErrNoExpiry = errors.New("the registry publishes no expiry date")
	// ErrNoService: neither RDAP nor WHOIS serves the TLD.
	ErrNoService = errors.New("no RDAP or WHOIS service for this TLD")
)

// Expiry is what a lookup found.
type Expiry struct {
	Domain    string    `json:"domain"`
	Expires   time.Time `json:"expires"`
	Registrar string    `json:"registrar,omitempty"`
	Source    string    `json:"source"` // "rdap" or "whois"
	Server    string    `json:"server"` // the URL or host that answered
	Checked   time.Time `json:"checked"`
}

// Client looks up registration expiry dates. The zero value is not
// usable: see New.
type Client struct {
	http         *http.Client
	bootstrapURL string
	whoisIANA    string // host:port of IANA's WHOIS (whois.iana.org:43)
	cacheDir     string
	now          func() time.Time
	dial         func(ctx context.Context, network, addr string) (net.Conn, error)

	mu      sync.Mutex
	boot    *Bootstrap
	bootAt  time.Time // when boot was fetched (zero: pinned)
	results map[string]entry
	locks   map[string]*sync.Mutex
	whoisBy map[string]string // tld → server
}

// entry is a cached lookup.
type entry struct {
	Expiry Expiry    `json:"expiry"`
	Err    string    `json:"err,omitempty"` // "notfound", "noexpiry", "noservice", "unavailable"
	Detail string    `json:"detail,omitempty"`
	Until  time.Time `json:"until"`
}

// Options configure a Client.
type Options struct {
	HTTP         *http.Client // default: no redirects to other schemes, 1 MiB answers
	BootstrapURL string       // DefaultBootstrapURL
	WhoisIANA    string       // whois.iana.org:43
	// CacheDir keeps the bootstrap file and the answers across restarts
	// ("": in memory only).
	CacheDir string
	Now      func() time.Time
	Dial     func(ctx context.Context, network, addr string) (net.Conn, error)
}

// How long answers are kept.
const (
	BootstrapMaxAge = 7 * 24 * time.Hour // IANA's file is fetched again after a week
	AnswerMaxAge    = 24 * time.Hour     // a domain is asked about at most once a day
	RetryAfterFail  = time.Hour          // a registry that failed is asked again after this
)

// New returns a client.
func New(o Options) *Client {
	c := &Client{http: o.HTTP, bootstrapURL: o.BootstrapURL, whoisIANA: o.WhoisIANA, cacheDir: o.CacheDir, now: o.Now, dial: o.Dial,
		results: map[string]entry{}, locks: map[string]*sync.Mutex{}, whoisBy: map[string]string{}}
	if c.http == nil {
		c.http = &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// RFC 7480 lets servers redirect (rdap.org does, to the
			// registry); never to plain http from https, and not forever.
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return errors.New("redirect from https to " + req.URL.Scheme)
			}
			return nil
		}}
	}
	if c.bootstrapURL == "" {
		c.bootstrapURL = DefaultBootstrapURL
	}
	if c.whoisIANA == "" {
		c.whoisIANA = "whois.iana.org:43"
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.dial == nil {
		c.dial = (&net.Dialer{}).DialContext
	}
	c.loadAnswers()
	return c
}

// Registered is the registrable domain of a host name (www.example.co.uk
// → example.co.uk), in its ASCII form.
func Registered(host string) (string, error) {
	h := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
	if h == "" || net.ParseIP(strings.Trim(h, "[]")) != nil {
		return "", fmt.Errorf("%q is not a domain name", host)
	}
	a, err := idna.Lookup.ToASCII(h)
	if err != nil {
		return "", fmt.Errorf("%q is not a domain name: %w", host, err)
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(a)
	if err != nil {
		return "", fmt.Errorf("%q has no registrable domain: %w", host, err)
	}
	return d, nil
}

// Lookup returns when domain's registration expires. A recent answer
// (AnswerMaxAge) is returned without asking again; so is a recent
// failure (RetryAfterFail).
func (c *Client) Lookup(ctx context.Context, domain string) (Expiry, error) {
	d, err := Registered(domain)
	if err != nil {
		return Expiry{}, err
	}
	c.mu.Lock()
	l := c.locks[d]
	if l == nil {
		l = &sync.Mutex{}
		c.locks[d] = l
	}
	c.mu.Unlock()
	// One question per domain at a time: checks sharing a domain (every
	// http check of a site) wait for the first's answer.
	l.Lock()
	defer l.Unlock()
	now := c.now()
	c.mu.Lock()
	e, ok := c.results[d]
	c.mu.Unlock()
	if ok && now.Before(e.Until) {
		return e.Expiry, e.err()
	}
	exp, err := c.lookup(ctx, d)
	e = entry{Expiry: exp, Until: now.Add(AnswerMaxAge)}
	var ra *retryAfter
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		e.Err = "notfound"
	case errors.Is(err, ErrNoExpiry):
		e.Err = "noexpiry"
	case errors.Is(err, ErrNoService):
		e.Err = "noservice"
	default:
		e.Err, e.Until = "unavailable", now.Add(RetryAfterFail)
		if errors.As(err, &ra) && ra.wait > RetryAfterFail {
			e.Until = now.Add(min(ra.wait, AnswerMaxAge))
		}
	}
	if err != nil {
		e.Detail = err.Error()
	}
	if ctx.Err() != nil && e.Err == "unavailable" {
		// Our own deadline, not the registry's fault: ask again next time.
		e.Until = now
	}
	c.mu.Lock()
	c.results[d] = e
	c.mu.Unlock()
	c.saveAnswers()
	return exp, err
}

func (e entry) err() error {
	var base error
	switch e.Err {
	case "":
		return nil
	case "notfound":
		base = ErrNotFound
	case "noexpiry":
		base = ErrNoExpiry
	case "noservice":
		base = ErrNoService
	default:
		base = ErrUnavailable
	}
	if e.Detail != "" && e.Detail != base.Error() {
		return &detailed{base: base, msg: e.Detail}
	}
	return base
}

type detailed struct {
	base error
	msg  string
}

func (d *detailed) Error() string { return d.msg }
func (d *detailed) Unwrap() error { return d.base }

// retryAfter carries a server's wait inside ErrUnavailable.
type retryAfter struct {
	wait time.Duration
	msg  string
}

func (r *retryAfter) Error() string { return r.msg }
func (r *retryAfter) Unwrap() error { return ErrUnavailable }

// lookup asks RDAP, or WHOIS where the TLD has no RDAP service.
func (c *Client) lookup(ctx context.Context, d string) (Expiry, error) {
	bases := c.bootstrap(ctx).Lookup(d)
	if len(bases) == 0 {
		return c.whois(ctx, d)
	}
	var last error
	for _, base := range bases {
		exp, err := c.rdap(ctx, d, base+"domain/"+d)
		if err == nil || !errors.Is(err, ErrUnavailable) {
			return exp, err
		}
		last = err
	}
	return Expiry{}, last
}

// rdapDomain is the part of an RDAP domain object Watchpost reads.
type rdapDomain struct {
	ObjectClassName string `json:"objectClassName"`
	LDHName         string `json:"ldhName"`
	Events          []struct {
		Action string `json:"eventAction"`
		Date   string `json:"eventDate"`
	} `json:"events"`
	Entities []rdapEntity `json:"entities"`
	Links    []struct {
		Rel  string `json:"rel"`
		Href string `json:"href"`
		Type string `json:"type"`
	} `json:"links"`
	ErrorCode   int      `json:"errorCode"`
	Title       string   `json:"title"`
	Description []string `json:"description"`
}

type rdapEntity struct {
	Roles      []string          `json:"roles"`
	VCardArray []json.RawMessage `json:"vcardArray"`
	Entities   []rdapEntity      `json:"entities"`
}

// ParseDomain reads an RDAP domain answer: its expiration date (zero when
// it has none), its registrar's name, and the registrar's RDAP URL for
// the domain ("related" link), if any.
func ParseDomain(body []byte) (expires time.Time, registrar, related string, err error) {
	var dom rdapDomain
	if err := json.Unmarshal(body, &dom); err != nil {
		return time.Time{}, "", "", fmt.Errorf("not an RDAP answer: %w", err)
	}
	if dom.ObjectClassName != "domain" {
		return time.Time{}, "", "", fmt.Errorf("not an RDAP domain object (objectClassName %q)", dom.ObjectClassName)
	}
	for _, e := range dom.Events {
		if strings.EqualFold(e.Action, "expiration") {
			t, err := time.Parse(time.RFC3339, e.Date)
			if err != nil {
				return time.Time{}, "", "", fmt.Errorf("expiration date %q: %w", e.Date, err)
			}
			expires = t.UTC()
		}
	}
	for _, en := range dom.Entities {
		for _, r := range en.Roles {
			if r == "registrar" {
				registrar = vcardName(en.VCardArray)
			}
		}
	}
	for _, l := range dom.Links {
		if l.Rel == "related" && (l.Type == "" || strings.HasPrefix(l.Type, "application/rdap+json")) && strings.Contains(l.Href, "/domain/") {
			related = l.Href
		}
	}
	return expires, registrar, related, nil
}

// vcardName is a jCard's fn (RFC 7095): ["vcard", [["fn", {}, "text", "Name"], ...]].
func vcardName(v []json.RawMessage) string {
	if len(v) != 2 {
		return ""
	}
	var props [][]json.RawMessage
	if json.Unmarshal(v[1], &props) != nil {
		return ""
	}
	for _, p := range props {
		var name, value string
		if len(p) >= 4 && json.Unmarshal(p[0], &name) == nil && name == "fn" && json.Unmarshal(p[3], &value) == nil {
			return value
		}
	}
	return ""
}

// rdap asks one server; the registry's answer without an expiration is
// completed from the registrar's RDAP service it links to.
func (c *Client) rdap(ctx context.Context, d, u string) (Expiry, error) {
	body, err := c.get(ctx, u, "application/rdap+json")
	if err != nil {
		return Expiry{}, err
	}
	exp, registrar, related, err := ParseDomain(body)
	if err != nil {
		return Expiry{}, &retryAfter{msg: fmt.Sprintf("%s: %v", hostOf(u), err)}
	}
	out := Expiry{Domain: d, Expires: exp, Registrar: registrar, Source: "rdap", Server: u, Checked: c.now().UTC()}
	if !exp.IsZero() {
		return out, nil
	}
	if related == "" || related == u {
		return out, fmt.Errorf("%s: %w", hostOf(u), ErrNoExpiry)
	}
	body, err = c.get(ctx, related, "application/rdap+json")
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return out, fmt.Errorf("%s, nor the registrar: %w", hostOf(u), ErrNoExpiry)
		}
		return out, err
	}
	rexp, rname, _, err := ParseDomain(body)
	if err != nil {
		return Expiry{}, &retryAfter{msg: fmt.Sprintf("%s: %v", hostOf(related), err)}
	}
	if rexp.IsZero() {
		return out, fmt.Errorf("%s and %s: %w", hostOf(u), hostOf(related), ErrNoExpiry)
	}
	out.Expires, out.Server = rexp, related
	if rname != "" {
		out.Registrar = rname
	}
	return out, nil
}

// get fetches a URL: 404 is ErrNotFound, 429, 5xx, other refusals and
// network errors are ErrUnavailable (with the server's Retry-After).
func (c *Client) get(ctx context.Context, u, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("bad URL %q: %w", u, ErrNoService)
	}
	req.Header.Set("Accept", accept+", application/json")
	req.Header.Set("User-Agent", "watchpost")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &retryAfter{msg: fmt.Sprintf("%s: %v", hostOf(u), unwrapURL(err))}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &retryAfter{msg: fmt.Sprintf("%s: %v", hostOf(u), err)}
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return body, nil
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%s: %w", hostOf(u), ErrNotFound)
	}
	wait := time.Duration(0)
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		wait = time.Duration(s) * time.Second
	}
	return nil, &retryAfter{wait: wait, msg: fmt.Sprintf("%s: %s", hostOf(u), resp.Status)}
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return u
	}
	return p.Host
}

// bootstrap returns IANA's file: from memory, from the cache folder when
// younger than a week, fetched anew, or (when all fail) the cached file
// however old, and last the pinned copy.
func (c *Client) bootstrap(ctx context.Context) *Bootstrap {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.boot != nil && !c.bootAt.IsZero() && now.Sub(c.bootAt) < BootstrapMaxAge {
		return c.boot
	}
	file := ""
	if c.cacheDir != "" {
		file = filepath.Join(c.cacheDir, "rdap-dns.json")
		if st, err := os.Stat(file); err == nil && now.Sub(st.ModTime()) < BootstrapMaxAge {
			if data, err := os.ReadFile(file); err == nil {
				if b, err := ParseBootstrap(data); err == nil {
					c.boot, c.bootAt = b, st.ModTime()
					return b
				}
			}
		}
	}
	if c.boot == nil || c.bootAt.IsZero() || now.Sub(c.bootAt) >= BootstrapMaxAge {
		fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		data, err := c.get(fctx, c.bootstrapURL, "application/json")
		cancel()
		if err == nil {
			if b, err := ParseBootstrap(data); err == nil {
				c.boot, c.bootAt = b, now
				if file != "" {
					writeFile(file, data)
					// Its age is read from the file: on the clock
					// the client is given.
					os.Chtimes(file, now, now)
				}
				return b
			}
		}
	}
	if c.boot != nil {
		return c.boot // an older fetch: better than the pinned copy
	}
	if file != "" {
		if data, err := os.ReadFile(file); err == nil {
			if b, err := ParseBootstrap(data); err == nil {
				// Stale, and tried again after RetryAfterFail.
				c.boot, c.bootAt = b, now.Add(-BootstrapMaxAge+RetryAfterFail)
				return b
			}
		}
	}
	c.boot, c.bootAt = Pinned(), now.Add(-BootstrapMaxAge+RetryAfterFail)
	return c.boot
}

func writeFile(name string, data []byte) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return
	}
	tmp := name + ".tmp"
	if os.WriteFile(tmp, data, 0o644) == nil {
		os.Rename(tmp, name)
	}
}

func (c *Client) loadAnswers() {
	if c.cacheDir == "" {
		return
	}
	data, err := os.ReadFile(filepath.Join(c.cacheDir, "rdap-answers.json"))
	if err != nil {
		return
	}
	var m map[string]entry
	if json.Unmarshal(data, &m) == nil {
		c.results = m
	}
}

func (c *Client) saveAnswers() {
	if c.cacheDir == "" {
		return
	}
	c.mu.Lock()
	now := c.now()
	keep := map[string]entry{}
	for d, e := range c.results {
		if now.Sub(e.Until) < 30*24*time.Hour {
			keep[d] = e
		}
	}
	data, _ := json.Marshal(keep)
	c.mu.Unlock()
	writeFile(filepath.Join(c.cacheDir, "rdap-answers.json"), data)
}
