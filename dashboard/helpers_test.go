package dashboard

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/crypto/bcrypt"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	testToken  = "tok-0123456789abcdef"
	testToken2 = "tok-rotated-fedcba9876543210"
	alicePW    = "correct horse battery"
)

// Tests use the cheapest bcrypt cost so logins stay fast.
func mustHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

type fixture struct {
	t     testing.TB
	clock *fakeClock
	auth  *Auth
	cfg   AuthConfig
	set   *metrics.Set
	mux   *http.ServeMux
	h     http.Handler
	// api records the principal the API endpoint saw.
	lastPrincipal string
}

func newFixture(t testing.TB, deps UIDeps) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: newClock(), set: metrics.NewSet()}
	f.cfg = AuthConfig{
		AdminTokens: []string{testToken, testToken2},
		Users:       []User{{Name: "alice", PasswordHash: mustHash(t, alicePW)}, {Name: "bob", PasswordHash: mustHash(t, "bob's password")}},
		SessionKey:  []byte(strings.Repeat("k", 32)),
		SessionTTL:  time.Hour,
	}
	a, err := NewAuth(f.cfg, f.clock.Now, f.set, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f.auth = a
	f.mux = http.NewServeMux()
	NewUI(a, deps, nil).Register(f.mux)
	f.mux.Handle("/api/v1/thing", a.API(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.lastPrincipal, _ = PrincipalFrom(r.Context())
		WriteJSON(w, http.StatusOK, map[string]string{"csrf": CSRFToken(r)})
	})))
	f.h = SecurityHeaders(f.mux)
	return f
}

// do serves one request from remote with the given cookies.
func (f *fixture) do(method, target, remote string, body url.Values, hdr http.Header, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	r := httptest.NewRequest(method, target, rd)
	if remote != "" {
		r.RemoteAddr = remote
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func formCSRF(t testing.TB, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%s", body)
	}
	return m[1]
}

func cookieNamed(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// loginForm fetches the login page from remote: its nonce cookie and token.
func (f *fixture) loginForm(remote string) (*http.Cookie, string) {
	f.t.Helper()
	w := f.do("GET", "/admin/login", remote, nil, nil)
	if w.Code != http.StatusOK {
		f.t.Fatalf("GET /admin/login: %d", w.Code)
	}
	c := cookieNamed(w, "wp_login")
	if c == nil {
		f.t.Fatal("login page set no nonce cookie")
	}
	return c, formCSRF(f.t, w.Body.String())
}

func (f *fixture) tryLogin(remote, user, pw, next string) *httptest.ResponseRecorder {
	f.t.Helper()
	nonce, tok := f.loginForm(remote)
	return f.do("POST", "/admin/login", remote,
		url.Values{"user": {user}, "password": {pw}, "csrf": {tok}, "next": {next}}, nil, nonce)
}

// login signs in and returns the session cookie and its CSRF token.
func (f *fixture) login(user, pw string) (*http.Cookie, string) {
	f.t.Helper()
	w := f.tryLogin("192.0.2.1:1234", user, pw, "")
	if w.Code != http.StatusSeeOther {
		f.t.Fatalf("login %s: status %d, body %s", user, w.Code, w.Body)
	}
	c := cookieNamed(w, "wp_session")
	if c == nil {
		f.t.Fatal("login set no session cookie")
	}
	page := f.do("GET", "/admin/", "", nil, nil, c)
	if page.Code != http.StatusOK {
		f.t.Fatalf("GET /admin/ after login: %d", page.Code)
	}
	return c, formCSRF(f.t, page.Body.String())
}

func counter(set *metrics.Set, name string) uint64 {
	var b strings.Builder
	set.WritePrometheus(&b)
	for _, l := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			var n uint64
			for _, c := range v {
				n = n*10 + uint64(c-'0')
			}
			return n
		}
	}
	return 0
}
