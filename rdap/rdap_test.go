package rdap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// registries is a local RDAP world: IANA's bootstrap file, a .org
// registry answering as Public Interest Registry does, a .de registry
// answering as DENIC does (no expiry), a thin registry linking to its
// registrar, one behind a redirect, one that rate limits, one that hangs
// and one that says a domain is not registered.
type registries struct {
	srv   *httptest.Server
	mu    sync.Mutex
	hits  map[string]int
	hang  chan struct{}
	whois string // host:port of the WHOIS server
}

func newRegistries(t *testing.T) *registries {
	r := &registries{hits: map[string]int{}, hang: make(chan struct{})}
	r.srv = httptest.NewServer(r)
	t.Cleanup(func() { close(r.hang); r.srv.Close() })
	r.whois = startWhois(t)
	return r
}

func (r *registries) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[path]
}

func (r *registries) bootstrap() string {
	u := r.srv.URL
	return fmt.Sprintf(`{"version": "1.0", "publication": "2026-11-30T00:00:00Z", "description": "test", "services": [
		[["org"], ["%[1]s/org/"]],
		[["de"], ["%[1]s/de/"]],
		[["test"], ["http://insecure.invalid/", "%[1]s/thin/"]],
		[["moved"], ["%[1]s/old/"]],
		[["busy"], ["%[1]s/busy/"]],
		[["slow"], ["%[1]s/slow/"]],
		[["gone"], ["%[1]s/gone/"]]
	]}`, u)
}

func (r *registries) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.hits[req.URL.Path]++
	r.mu.Unlock()
	file := func(name string) {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		s := strings.ReplaceAll(string(b), "REGISTRY", r.srv.URL+"/"+strings.Split(req.URL.Path, "/")[1])
		s = strings.ReplaceAll(s, "REGISTRAR", r.srv.URL+"/registrar")
		w.Header().Set("Content-Type", "application/rdap+json")
		w.Write([]byte(s))
	}
	switch p := req.URL.Path; {
	case p == "/bootstrap/dns.json":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(r.bootstrap()))
	case p == "/org/domain/example-charity.org":
		file("org-registry.json")
	case p == "/org/domain/not-registered.org":
		w.Header().Set("Content-Type", "application/rdap+json")
		w.WriteHeader(http.StatusNotFound)
		file("notfound.json")
	case p == "/de/domain/beispiel-verein.de":
		file("de-registry.json")
	case p == "/thin/domain/example-shop.test":
		file("thin-registry.json")
	case p == "/registrar/domain/example-shop.test":
		file("registrar.json")
	case strings.HasPrefix(p, "/old/"):
		// As rdap.org does: a redirect to where the answer is.
		http.Redirect(w, req, "/thin/domain/example-shop.test", http.StatusFound)
	case strings.HasPrefix(p, "/busy/"):
		w.Header().Set("Retry-After", "7200")
		w.Header().Set("Content-Type", "application/rdap+json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"errorCode": 429, "title": "Too Many Requests"}`))
	case strings.HasPrefix(p, "/slow/"):
		select {
		case <-r.hang:
		case <-req.Context().Done():
		}
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errorCode": 404, "title": "Not Found"}`))
	}
}

// startWhois is IANA's WHOIS and a TLD's in one: "wtld" names the TLD's
// server (itself), and "example-old.wtld" has an expiry date.
func startWhois(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				q, _ := bufio.NewReader(c).ReadString('\n')
				q = strings.TrimSpace(q)
				var ans []byte
				switch q {
				case "wtld":
					ans, _ = os.ReadFile("testdata/whois-iana.txt")
					ans = []byte(strings.ReplaceAll(string(ans), "WHOIS", addr))
				case "nordap":
					ans = []byte("% IANA WHOIS server\n\ndomain:       NORDAP\nstatus:       ACTIVE\n")
				case "example-old.wtld":
					ans, _ = os.ReadFile("testdata/whois-registry.txt")
				default:
					ans = []byte("No match for \"" + strings.ToUpper(q) + "\".\n")
				}
				c.Write(ans)
			}()
		}
	}()
	return addr
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClient(t *testing.T, r *registries, dir string, clock *testClock) *Client {
	return New(Options{BootstrapURL: r.srv.URL + "/bootstrap/dns.json", WhoisIANA: r.whois, CacheDir: dir, Now: clock.now})
}

var day0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestRecordedRegistries(t *testing.T) {
	r := newRegistries(t)
	clock := &testClock{t: day0}
	c := newClient(t, r, t.TempDir(), clock)
	ctx := context.Background()

	exp, err := c.Lookup(ctx, "www.example-charity.org")
	if err != nil || !exp.Expires.Equal(time.Date(2027, 8, 30, 14, 12, 7, 0, time.UTC)) || exp.Registrar != "Gandi SAS" || exp.Source != "rdap" {
		t.Errorf(".org: %+v %v", exp, err)
	}
	// DENIC publishes no expiry date: that is said, not guessed.
	_, err = c.Lookup(ctx, "beispiel-verein.de")
	if !errors.Is(err, ErrNoExpiry) {
		t.Errorf(".de: %v", err)
	}
	// A thin registry's answer leads to the registrar's (the first
	// service, plain http, is passed over for the https one... here both
	// are http: the bad one fails and the next is asked).
	exp, err = c.Lookup(ctx, "example-shop.test")
	if err != nil || !exp.Expires.Equal(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)) || exp.Registrar != "Example Registrar, Inc." ||
		!strings.HasSuffix(exp.Server, "/registrar/domain/example-shop.test") {
		t.Errorf("registrar: %+v %v", exp, err)
	}
	// A redirect is followed.
	if exp, err := c.Lookup(ctx, "example-shop.moved"); err != nil || exp.Expires.Year() != 2027 {
		t.Errorf("redirect: %+v %v", exp, err)
	}
	if _, err := c.Lookup(ctx, "not-registered.org"); !errors.Is(err, ErrNotFound) {
		t.Errorf("not registered: %v", err)
	}
	// WHOIS where the TLD has no RDAP.
	exp, err = c.Lookup(ctx, "example-old.wtld")
	if err != nil || !exp.Expires.Equal(time.Date(2027, 5, 6, 7, 8, 9, 0, time.UTC)) || exp.Source != "whois" || exp.Registrar != "Example Registrar, LLC" {
		t.Errorf("whois: %+v %v", exp, err)
	}
	if _, err := c.Lookup(ctx, "nothing.wtld"); !errors.Is(err, ErrNotFound) {
		t.Errorf("whois no match: %v", err)
	}
	if _, err := c.Lookup(ctx, "x.nordap"); !errors.Is(err, ErrNoService) {
		t.Errorf("no service: %v", err)
	}
	if _, err := Registered("192.0.2.1"); err == nil {
		t.Error("an address has a domain")
	}
}

// TestOncePerDay: a domain is asked about at most daily, across
// restarts (the answers are on disk), and IANA's file at most weekly.
func TestOncePerDay(t *testing.T) {
	r := newRegistries(t)
	clock := &testClock{t: day0}
	dir := t.TempDir()
	ctx := context.Background()
	const q = "/org/domain/example-charity.org"
	c := newClient(t, r, dir, clock)
	for range 3 {
		if _, err := c.Lookup(ctx, "example-charity.org"); err != nil {
			t.Fatal(err)
		}
	}
	clock.add(23 * time.Hour)
	c = newClient(t, r, dir, clock) // a restart
	c.Lookup(ctx, "www.example-charity.org")
	if n := r.count(q); n != 1 {
		t.Errorf("asked %d times in a day", n)
	}
	clock.add(2 * time.Hour)
	c.Lookup(ctx, "example-charity.org")
	if n := r.count(q); n != 2 {
		t.Errorf("asked %d times after a day", n)
	}
	if n := r.count("/bootstrap/dns.json"); n != 1 {
		t.Errorf("bootstrap fetched %d times in a day", n)
	}
	clock.add(8 * 24 * time.Hour)
	c = newClient(t, r, dir, clock)
	c.Lookup(ctx, "example-charity.org")
	if n := r.count("/bootstrap/dns.json"); n != 2 {
		t.Errorf("bootstrap fetched %d times after a week", n)
	}
}

// TestRegistryTrouble: a registry that rate limits or hangs leaves the
// expiry unknown (ErrUnavailable), and is not asked again before its
// Retry-After.
func TestRegistryTrouble(t *testing.T) {
	r := newRegistries(t)
	clock := &testClock{t: day0}
	c := newClient(t, r, "", clock)
	_, err := c.Lookup(context.Background(), "example.busy")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "429") {
		t.Fatalf("429: %v", err)
	}
	clock.add(90 * time.Minute)
	c.Lookup(context.Background(), "example.busy")
	if n := r.count("/busy/domain/example.busy"); n != 1 {
		t.Errorf("asked %d times within its Retry-After (2h)", n)
	}
	clock.add(time.Hour)
	c.Lookup(context.Background(), "example.busy")
	if n := r.count("/busy/domain/example.busy"); n != 2 {
		t.Errorf("asked %d times after its Retry-After", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = c.Lookup(ctx, "example.slow")
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("hang: %v", err)
	}
}

// TestBootstrapFallback: without IANA's file and without a cache the
// pinned copy serves; a stale cached file is preferred to it.
func TestBootstrapFallback(t *testing.T) {
	clock := &testClock{t: day0}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	c := New(Options{BootstrapURL: dead.URL, Now: clock.now})
	if u := c.bootstrap(context.Background()).Lookup("example.com"); len(u) != 1 || u[0] != "https://rdap.verisign.com/com/v1/" {
		t.Errorf("pinned: %v", u)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rdap-dns.json"), []byte(`{"services": [[["com"], ["https://cached.example/"]]]}`), 0o644)
	old := day0.Add(-30 * 24 * time.Hour)
	os.Chtimes(filepath.Join(dir, "rdap-dns.json"), old, old)
	c = New(Options{BootstrapURL: dead.URL, CacheDir: dir, Now: clock.now})
	if u := c.bootstrap(context.Background()).Lookup("example.com"); len(u) != 1 || u[0] != "https://cached.example/" {
		t.Errorf("stale cache: %v", u)
	}
	b := Pinned()
	for _, tld := range []string{"com", "net", "org"} {
		if b.Lookup("x."+tld) == nil {
			t.Errorf("pinned copy lacks .%s", tld)
		}
	}
}

func TestParseWhoisFormats(t *testing.T) {
	for ans, want := range map[string]string{
		"Registry Expiry Date: 2027-05-06T07:08:09Z\n":                       "2027-05-06",
		"expires:        2027-01-31\n":                                       "2027-01-31",
		"paid-till:     2027-03-01T21:00:00Z\n":                              "2027-03-01",
		"Expiration Date: 02-Jan-2028\nRegistrar: X\n":                       "2028-01-02",
		"Expiry date:  05.06.2027\n":                                         "2027-06-05",
		"% comment\nrenewal date: 2027.12.24\n":                              "2027-12-24",
		"Expiration Time: 2027-04-01 12:00:00 (UTC)\n":                       "2027-04-01",
		"Registrar Registration Expiration Date: 2027-09-09T00:00:00.000Z\n": "2027-09-09",
	} {
		w := ParseWhois(ans)
		if got := w.Expires.Format("2006-01-02"); got != want {
			t.Errorf("%q: %s, want %s", ans, got, want)
		}
	}
	if w := ParseWhois("%% No entries found for the selected source(s).\n"); !w.NotFound {
		t.Error("no entries: not not found")
	}
}

func FuzzParseDomain(f *testing.F) {
	for _, n := range []string{"org-registry.json", "de-registry.json", "registrar.json", "notfound.json"} {
		b, _ := os.ReadFile(filepath.Join("testdata", n))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		exp, _, _, err := ParseDomain(b)
		if err == nil && !exp.IsZero() && exp.Location() != time.UTC {
			t.Fatal("expiry not in UTC")
		}
	})
}

func FuzzParseWhois(f *testing.F) {
	b, _ := os.ReadFile("testdata/whois-registry.txt")
	f.Add(string(b))
	f.Add("expires: 2027-01-31\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseWhois(s)
		whoisReferral(s)
	})
}

func FuzzParseBootstrap(f *testing.F) {
	f.Add(pinned)
	f.Fuzz(func(t *testing.T, b []byte) {
		bs, err := ParseBootstrap(b)
		if err == nil {
			bs.Lookup("a.b.c")
		}
	})
}
