package dashboard

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestNewAuthRejectsBadConfig(t *testing.T) {
	good := mustHash(t, "pw")
	key := []byte(strings.Repeat("k", 32))
	tests := []struct {
		name string
		cfg  AuthConfig
	}{
		{"short key", AuthConfig{SessionKey: key[:31]}},
		{"empty token", AuthConfig{SessionKey: key, AdminTokens: []string{"a", ""}}},
		{"bad hash", AuthConfig{SessionKey: key, Users: []User{{Name: "a", PasswordHash: "plaintext"}}}},
		{"duplicate user", AuthConfig{SessionKey: key, Users: []User{{"a", good}, {"a", good}}}},
		{"empty user", AuthConfig{SessionKey: key, Users: []User{{"", good}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewAuth(tt.cfg, nil, nil, nil); err == nil {
				t.Fatal("NewAuth accepted a bad configuration")
			}
		})
	}
}

func TestAPIToken(t *testing.T) {
	f := newFixture(t, UIDeps{})
	tests := []struct {
		name      string
		authz     string
		want      int
		challenge string
	}{
		{"ok", "Bearer " + testToken, 200, ""},
		{"rotated token", "Bearer " + testToken2, 200, ""},
		{"scheme case", "bearer " + testToken, 200, ""},
		{"wrong", "Bearer nope", 401, `Bearer realm="watchpost", error="invalid_token"`},
		{"prefix of token", "Bearer " + testToken[:5], 401, `Bearer realm="watchpost", error="invalid_token"`},
		{"empty bearer", "Bearer ", 401, `Bearer realm="watchpost", error="invalid_token"`},
		{"basic", "Basic " + testToken, 401, `Bearer realm="watchpost", error="invalid_token"`},
		{"missing", "", 401, `Bearer realm="watchpost"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{}
			if tt.authz != "" {
				hdr.Set("Authorization", tt.authz)
			}
			// POST: a bearer token needs no CSRF token.
			w := f.do("POST", "/api/v1/thing", "", nil, hdr)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if tt.want == 200 {
				if f.lastPrincipal != tokenPrincipal {
					t.Errorf("principal %q", f.lastPrincipal)
				}
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error == "" {
				t.Errorf("body %q is not {\"error\": ...}", w.Body)
			}
		})
	}
	if n := counter(f.set, `watchpost_admin_auth_failures_total{reason="bad_token"}`); n != 4 {
		t.Errorf("bad_token failures counted %d, want 4", n)
	}
	if n := counter(f.set, `watchpost_admin_auth_failures_total{reason="missing"}`); n != 1 {
		t.Errorf("missing failures counted %d, want 1", n)
	}
}

// Every configured token is compared, in constant time, whichever matches:
// the time taken must not tell an attacker how close they are.
func TestTokenCompareIsConstantTime(t *testing.T) {
	f := newFixture(t, UIDeps{})
	calls := 0
	f.auth.equal = func(a, b []byte) int {
		calls++
		if len(a) != len(b) {
			t.Errorf("compared digests of different lengths %d and %d", len(a), len(b))
		}
		return subtle.ConstantTimeCompare(a, b)
	}
	for _, tok := range []string{testToken, testToken2, "wrong", strings.Repeat("x", 4096)} {
		calls = 0
		f.do("GET", "/api/v1/thing", "", nil, http.Header{"Authorization": {"Bearer " + tok}})
		if calls != len(f.cfg.AdminTokens) {
			t.Errorf("token %.10q: %d comparisons, want %d", tok, calls, len(f.cfg.AdminTokens))
		}
	}
}

func TestSessionLoginUseLogout(t *testing.T) {
	f := newFixture(t, UIDeps{})
	w := f.tryLogin("192.0.2.1:1", "alice", alicePW, "/admin/logs?q=sshd")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/logs?q=sshd" {
		t.Fatalf("login: %d to %q", w.Code, w.Header().Get("Location"))
	}
	c := cookieNamed(w, "wp_session")
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Fatalf("session cookie %+v", c)
	}
	if lc := cookieNamed(w, "wp_login"); lc == nil || lc.MaxAge >= 0 {
		t.Errorf("login nonce cookie not cleared: %+v", lc)
	}
	cookie, csrf := f.login("alice", alicePW)

	page := f.do("GET", "/admin/", "", nil, nil, cookie)
	if !strings.Contains(page.Body.String(), "<strong>alice</strong>") {
		t.Errorf("home page does not name the user:\n%s", page.Body)
	}
	if cc := page.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("admin page Cache-Control %q", cc)
	}

	steps := []struct {
		name   string
		method string
		hdr    http.Header
		form   url.Values
		want   int
	}{
		{"GET with cookie", "GET", nil, nil, 200},
		{"POST without CSRF", "POST", nil, nil, 403},
		{"POST with wrong CSRF", "POST", http.Header{"X-Csrf-Token": {"x" + csrf}}, nil, 403},
		{"POST with CSRF header", "POST", http.Header{"X-Csrf-Token": {csrf}}, nil, 200},
		{"POST with CSRF form field", "POST", nil, url.Values{"csrf": {csrf}}, 200},
		{"DELETE without CSRF", "DELETE", nil, nil, 403},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			w := f.do(s.method, "/api/v1/thing", "", s.form, s.hdr, cookie)
			if w.Code != s.want {
				t.Fatalf("status %d, want %d: %s", w.Code, s.want, w.Body)
			}
			if s.want == 200 && f.lastPrincipal != "alice" {
				t.Errorf("principal %q", f.lastPrincipal)
			}
		})
	}

	// Logout needs the CSRF token too: a foreign page cannot sign us out.
	if w := f.do("POST", "/admin/logout", "", url.Values{}, nil, cookie); w.Code != http.StatusForbidden {
		t.Fatalf("logout without CSRF: %d", w.Code)
	}
	w = f.do("POST", "/admin/logout", "", url.Values{"csrf": {csrf}}, nil, cookie)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/login" {
		t.Fatalf("logout: %d to %q", w.Code, w.Header().Get("Location"))
	}
	if c := cookieNamed(w, "wp_session"); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout did not clear the cookie: %+v", c)
	}
	// A copy of the cookie kept from before the logout is dead.
	if w := f.do("GET", "/admin/", "", nil, nil, cookie); w.Code != http.StatusSeeOther {
		t.Errorf("revoked session on UI: %d", w.Code)
	}
	if w := f.do("GET", "/api/v1/thing", "", nil, nil, cookie); w.Code != http.StatusUnauthorized {
		t.Errorf("revoked session on API: %d", w.Code)
	}
	// The revocation is forgotten once the session would have expired.
	f.clock.Advance(2 * time.Hour)
	f.auth.revoked.add([idLen]byte{1}, f.clock.Now().Add(time.Minute), f.clock.Now())
	if n := f.auth.revoked.len(); n != 1 {
		t.Errorf("revocation set holds %d ids after expiry, want 1", n)
	}
	if n := counter(f.set, `watchpost_admin_logins_total{result="success"}`); n != 2 {
		t.Errorf("successful logins counted %d, want 2", n)
	}
}

func TestSessionInvalidation(t *testing.T) {
	tests := []struct {
		name  string
		apply func(f *fixture)
	}{
		{"expiry", func(f *fixture) { f.clock.Advance(time.Hour) }},
		{"password changed", func(f *fixture) {
			cfg := f.cfg
			cfg.Users = []User{{Name: "alice", PasswordHash: mustHash(t, "new password")}}
			if err := f.auth.Update(cfg); err != nil {
				t.Fatal(err)
			}
		}},
		{"user removed", func(f *fixture) {
			cfg := f.cfg
			cfg.Users = cfg.Users[1:]
			if err := f.auth.Update(cfg); err != nil {
				t.Fatal(err)
			}
		}},
		{"TTL shortened", func(f *fixture) {
			f.clock.Advance(20 * time.Minute)
			cfg := f.cfg
			cfg.SessionTTL = 10 * time.Minute
			if err := f.auth.Update(cfg); err != nil {
				t.Fatal(err)
			}
		}},
		{"session key rotated", func(f *fixture) {
			cfg := f.cfg
			cfg.SessionKey = []byte(strings.Repeat("n", 32))
			if err := f.auth.Update(cfg); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, UIDeps{})
			cookie, _ := f.login("alice", alicePW)
			f.clock.Advance(59 * time.Second)
			if w := f.do("GET", "/admin/", "", nil, nil, cookie); w.Code != http.StatusOK {
				t.Fatalf("fresh session: %d", w.Code)
			}
			tt.apply(f)
			w := f.do("GET", "/admin/logs?q=x", "", nil, nil, cookie)
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/login?next=%2Fadmin%2Flogs%3Fq%3Dx" {
				t.Fatalf("UI: %d to %q", w.Code, w.Header().Get("Location"))
			}
			if c := cookieNamed(w, "wp_session"); c == nil || c.MaxAge >= 0 {
				t.Errorf("dead cookie not cleared")
			}
			if w := f.do("GET", "/api/v1/thing", "", nil, nil, cookie); w.Code != http.StatusUnauthorized {
				t.Errorf("API: %d", w.Code)
			}
		})
	}
}

func TestUpdateKeepsOldConfigOnError(t *testing.T) {
	f := newFixture(t, UIDeps{})
	cfg := f.cfg
	cfg.AdminTokens = []string{""}
	if err := f.auth.Update(cfg); err == nil {
		t.Fatal("Update accepted an empty token")
	}
	w := f.do("GET", "/api/v1/thing", "", nil, http.Header{"Authorization": {"Bearer " + testToken}})
	if w.Code != http.StatusOK {
		t.Fatalf("old token refused after a failed update: %d", w.Code)
	}
	cfg.AdminTokens = []string{"fresh"}
	if err := f.auth.Update(cfg); err != nil {
		t.Fatal(err)
	}
	if w := f.do("GET", "/api/v1/thing", "", nil, http.Header{"Authorization": {"Bearer " + testToken}}); w.Code != 401 {
		t.Errorf("removed token still accepted: %d", w.Code)
	}
}

func TestTamperedCookies(t *testing.T) {
	f := newFixture(t, UIDeps{})
	cookie, _ := f.login("alice", alicePW)
	st := f.auth.state.Load()
	s, ok := decodeSession(st.macKey, cookie.Value)
	if !ok {
		t.Fatal("own cookie does not decode")
	}
	forged := *s
	forged.user = "bob"
	otherKey := derive([]byte(strings.Repeat("x", 32)), "watchpost session mac v1")
	future := *s
	future.issued = f.clock.Now().Add(time.Hour)
	future.expires = future.issued.Add(time.Hour)
	values := map[string]string{
		"flipped byte":     cookie.Value[:10] + string(cookie.Value[10]^1) + cookie.Value[11:],
		"truncated":        cookie.Value[:len(cookie.Value)-2],
		"renamed user":     encodeSession(otherKey, &forged),
		"bob with alice's": encodeSession(st.macKey, &forged), // bind is alice's password
		"issued in future": encodeSession(st.macKey, &future),
		"garbage":          "!!!",
		"huge":             strings.Repeat("A", 5000),
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			c := &http.Cookie{Name: "wp_session", Value: v}
			if w := f.do("GET", "/api/v1/thing", "", nil, nil, c); w.Code != http.StatusUnauthorized {
				t.Errorf("accepted: %d", w.Code)
			}
		})
	}
}

func TestSecureCookies(t *testing.T) {
	f := newFixture(t, UIDeps{})
	cfg := f.cfg
	cfg.SecureCookies = true
	if err := f.auth.Update(cfg); err != nil {
		t.Fatal(err)
	}
	w := f.do("GET", "/admin/login", "", nil, nil)
	nonce := cookieNamed(w, "__Host-wp_login")
	if nonce == nil || !nonce.Secure || nonce.Path != "/" {
		t.Fatalf("login cookie %+v", nonce)
	}
	w = f.do("POST", "/admin/login", "", url.Values{"user": {"alice"}, "password": {alicePW},
		"csrf": {formCSRF(t, w.Body.String())}}, nil, nonce)
	c := cookieNamed(w, "__Host-wp_session")
	if w.Code != http.StatusSeeOther || c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: %d, cookie %+v", w.Code, c)
	}
}
