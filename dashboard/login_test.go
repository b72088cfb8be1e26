package dashboard

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestLoginFailures(t *testing.T) {
	f := newFixture(t, UIDeps{})
	nonce, tok := f.loginForm("192.0.2.7:1")
	otherNonce, _ := f.loginForm("192.0.2.7:1")
	tests := []struct {
		name    string
		form    url.Values
		cookies []*http.Cookie
		want    int
		msg     string
	}{
		{"wrong password", url.Values{"user": {"alice"}, "password": {"nope"}, "csrf": {tok}}, []*http.Cookie{nonce}, 401, "Wrong user name or password."},
		{"unknown user", url.Values{"user": {"mallory"}, "password": {alicePW}, "csrf": {tok}}, []*http.Cookie{nonce}, 401, "Wrong user name or password."},
		{"no CSRF token", url.Values{"user": {"alice"}, "password": {alicePW}}, []*http.Cookie{nonce}, 403, "expired"},
		{"no nonce cookie", url.Values{"user": {"alice"}, "password": {alicePW}, "csrf": {tok}}, nil, 403, "expired"},
		{"token of another nonce", url.Values{"user": {"alice"}, "password": {alicePW}, "csrf": {tok}}, []*http.Cookie{otherNonce}, 403, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do("POST", "/admin/login", "192.0.2.7:1", tt.form, nil, tt.cookies...)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
			if cookieNamed(w, "wp_session") != nil {
				t.Error("a failed login set a session cookie")
			}
			if !strings.Contains(w.Body.String(), tt.msg) {
				t.Errorf("page lacks %q", tt.msg)
			}
		})
	}
	if n := counter(f.set, `watchpost_admin_logins_total{result="failure"}`); n != 2 {
		t.Errorf("failures counted %d, want 2", n)
	}
	if n := counter(f.set, `watchpost_admin_logins_total{result="csrf"}`); n != 3 {
		t.Errorf("CSRF refusals counted %d, want 3", n)
	}
}

// An unknown user costs a bcrypt comparison at the configured users'
// cost, so timing does not reveal which names exist.
func TestDummyHashMatchesUserCost(t *testing.T) {
	f := newFixture(t, UIDeps{})
	st := f.auth.state.Load()
	cost, err := bcrypt.Cost(st.dummy)
	if err != nil || cost != bcrypt.MinCost {
		t.Fatalf("dummy hash cost %d (%v), want %d", cost, err, bcrypt.MinCost)
	}
}

func TestLoginRateLimit(t *testing.T) {
	tests := []struct {
		name string
		// attempt i comes from remote(i) for user(i)
		remote func(i int) string
		user   func(i int) string
	}{
		{"per client address", func(int) string { return "198.51.100.9:4000" }, func(i int) string { return fmt.Sprintf("guess%d", i) }},
		{"per IPv6 /64", func(i int) string { return fmt.Sprintf("[2001:db8::%x]:4000", i+1) }, func(i int) string { return fmt.Sprintf("guess%d", i) }},
		{"per user name", func(i int) string { return fmt.Sprintf("198.51.100.%d:4000", i+1) }, func(int) string { return "alice" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, UIDeps{})
			for i := range 5 {
				if w := f.tryLogin(tt.remote(i), tt.user(i), "wrong", ""); w.Code != http.StatusUnauthorized {
					t.Fatalf("failure %d: status %d", i+1, w.Code)
				}
				f.clock.Advance(10 * time.Second)
			}
			// The sixth attempt is refused before the password is looked
			// at: even the right one.
			w := f.tryLogin(tt.remote(5), tt.user(5), "wrong", "")
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("6th attempt: %d, want 429", w.Code)
			}
			if ra := w.Header().Get("Retry-After"); ra != "250" {
				t.Errorf("Retry-After %q, want 250", ra)
			}
			if !strings.Contains(w.Body.String(), "try again in 5 minutes") {
				t.Errorf("429 page does not say when:\n%s", w.Body)
			}
			if w := f.tryLogin(tt.remote(5), "alice", alicePW, ""); w.Code != http.StatusTooManyRequests {
				t.Fatalf("right password while limited: %d, want 429", w.Code)
			}
			f.clock.Advance(250 * time.Second)
			if w := f.tryLogin(tt.remote(5), "alice", alicePW, ""); w.Code != http.StatusSeeOther {
				t.Fatalf("after the window: %d, want 303", w.Code)
			}
			if n := counter(f.set, `watchpost_admin_logins_total{result="rate_limited"}`); n != 2 {
				t.Errorf("rate-limited logins counted %d, want 2", n)
			}
		})
	}
}

// A success does not use up the address's allowance, and resets the
// name's.
func TestLoginSuccessRefunds(t *testing.T) {
	f := newFixture(t, UIDeps{})
	for range 4 {
		f.tryLogin("192.0.2.5:1", "alice", "wrong", "")
	}
	for range 10 {
		if w := f.tryLogin("192.0.2.5:1", "alice", alicePW, ""); w.Code != http.StatusSeeOther {
			t.Fatalf("login: %d", w.Code)
		}
	}
	if w := f.tryLogin("192.0.2.5:1", "alice", "wrong", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("fifth failure: %d, want 401", w.Code)
	}
}

func TestLimiterIsBounded(t *testing.T) {
	now := newClock().Now()
	l := newLimiter(5, time.Minute, 100)
	for i := range 1000 {
		l.take(fmt.Sprint(i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := l.len(); n > 100 {
		t.Fatalf("limiter holds %d keys, cap 100", n)
	}
	// The newest key survived; the oldest were evicted.
	l.mu.Lock()
	_, newest := l.m["999"]
	_, oldest := l.m["0"]
	l.mu.Unlock()
	if !newest || oldest {
		t.Errorf("eviction kept the wrong keys: newest %v oldest %v", newest, oldest)
	}
	// Expired keys go first, all at once.
	l.take("late", now.Add(time.Hour))
	if n := l.len(); n != 1 {
		t.Errorf("after the window: %d keys, want 1", n)
	}
}

func TestClientKey(t *testing.T) {
	tests := map[string]string{
		"192.0.2.1:5":           "192.0.2.1",
		"[::ffff:192.0.2.1]:5":  "192.0.2.1",
		"[2001:db8::1]:5":       "2001:db8::/64",
		"[2001:db8::2%eth0]:5":  "2001:db8::/64",
		"[2001:db8:0:1::1]:443": "2001:db8:0:1::/64",
		"@":                     "?@",
		"":                      "?",
	}
	for remote, want := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", "203.0.113.1")
		if got := clientKey(r); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", remote, got, want)
		}
	}
}

func TestOpenRedirect(t *testing.T) {
	tests := []struct {
		next string
		ok   bool
	}{
		{"/admin/logs?q=a%20b", true},
		{"/admin/", true},
		{"/", true},
		{"", false},
		{"//evil.example/", false},
		{"/\\evil.example/", false},
		{"\\\\evil.example", false},
		{"https://evil.example/", false},
		{"http:/evil.example", false},
		{"javascript:alert(1)", false},
		{"/admin/\r\nSet-Cookie: x=y", false},
		{"/\t/evil.example", false},
		{" /admin/", false},
		{"admin/", false},
	}
	for _, tt := range tests {
		if got := localPath(tt.next); got != tt.ok {
			t.Errorf("localPath(%q) = %v, want %v", tt.next, got, tt.ok)
		}
	}
	f := newFixture(t, UIDeps{})
	for _, tt := range tests {
		t.Run(tt.next, func(t *testing.T) {
			w := f.tryLogin("192.0.2.1:1", "alice", alicePW, tt.next)
			want := "/admin/"
			if tt.ok {
				want = tt.next
			}
			if got := w.Header().Get("Location"); got != want {
				t.Errorf("redirected to %q, want %q", got, want)
			}
			// The form carries next on; when signed in, GET goes there too.
			c := cookieNamed(w, "wp_session")
			g := f.do("GET", "/admin/login?next="+url.QueryEscape(tt.next), "", nil, nil, c)
			if got := g.Header().Get("Location"); g.Code != http.StatusSeeOther || got != want {
				t.Errorf("signed-in login page: %d to %q, want %q", g.Code, got, want)
			}
		})
	}
}

func TestUIRedirectsToLogin(t *testing.T) {
	f := newFixture(t, UIDeps{})
	tests := []struct {
		method, target, want string
	}{
		{"GET", "/admin/", "/admin/login?next=%2Fadmin%2F"},
		{"GET", "/admin/logs?q=%3Cx%3E", "/admin/login?next=%2Fadmin%2Flogs%3Fq%3D%253Cx%253E"},
		{"POST", "/admin/logout", "/admin/login"},
	}
	for _, tt := range tests {
		w := f.do(tt.method, tt.target, "", nil, nil)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != tt.want {
			t.Errorf("%s %s: %d to %q, want %q", tt.method, tt.target, w.Code, w.Header().Get("Location"), tt.want)
		}
	}
	if w := f.do("GET", "/admin", "", nil, nil); w.Header().Get("Location") != "/admin/" {
		t.Errorf("/admin goes to %q", w.Header().Get("Location"))
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("s3cret-enough")
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost([]byte(h)); cost != passwordCost {
		t.Errorf("cost %d, want %d", cost, passwordCost)
	}
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("s3cret-enough")) != nil {
		t.Error("hash does not verify")
	}
	for _, bad := range []string{"", strings.Repeat("x", 73)} {
		if _, err := HashPassword(bad); err == nil {
			t.Errorf("HashPassword accepted %d bytes", len(bad))
		}
	}
}
