package dashboard

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
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

// TestLoginLockout is the lockout an attacker could cause: five wrong
// passwords for alice from one address, and then the right one from
// another address that never failed signs in at once, however the
// attacker keeps going.
func TestLoginLockout(t *testing.T) {
	f := newFixture(t, UIDeps{})
	for range 5 {
		f.tryLogin("203.0.113.66:4000", "alice", "wrong", "")
		f.clock.Advance(time.Second)
	}
	for i := range 5 {
		if w := f.tryLogin(fmt.Sprintf("198.51.100.%d:4000", i+1), "alice", alicePW, ""); w.Code != http.StatusSeeOther {
			t.Fatalf("alice's right password %d minutes into the attack: %d, want 303", i, w.Code)
		}
		f.tryLogin("203.0.113.66:4000", "alice", "wrong", "")
		f.clock.Advance(time.Minute)
	}
}

func TestLoginBackoff(t *testing.T) {
	tests := []struct {
		name string
		// attempt i comes from remote(i) for user(i)
		remote func(i int) string
		user   func(i int) string
		free   int
	}{
		{"per address and name", func(int) string { return "198.51.100.9:4000" }, func(int) string { return "alice" }, pairFree},
		{"per address, any names", func(int) string { return "198.51.100.9:4000" }, func(i int) string { return fmt.Sprintf("guess%d", i) }, addrFree},
		{"per IPv6 /64", func(i int) string { return fmt.Sprintf("[2001:db8::%x]:4000", i+1) }, func(i int) string { return fmt.Sprintf("guess%d", i) }, addrFree},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, UIDeps{})
			for i := range tt.free {
				if w := f.tryLogin(tt.remote(i), tt.user(i), "wrong", ""); w.Code != http.StatusUnauthorized {
					t.Fatalf("failure %d: status %d", i+1, w.Code)
				}
			}
			// Then each failure makes the next attempt wait twice as
			// long: refused before the password is looked at, even the
			// right one.
			wait := loginBase
			for i := tt.free; i < tt.free+4; i++ {
				w := f.tryLogin(tt.remote(i), "alice", alicePW, "")
				if w.Code != http.StatusTooManyRequests {
					t.Fatalf("attempt %d at once: %d, want 429", i+1, w.Code)
				}
				if ra := w.Header().Get("Retry-After"); ra != fmt.Sprint(int(wait/time.Second)) {
					t.Errorf("attempt %d: Retry-After %q, want %d", i+1, ra, int(wait/time.Second))
				}
				if !strings.Contains(w.Body.String(), "try again in") {
					t.Errorf("429 page does not say when:\n%s", w.Body)
				}
				f.clock.Advance(wait)
				if w := f.tryLogin(tt.remote(i), tt.user(i), "wrong", ""); w.Code != http.StatusUnauthorized {
					t.Fatalf("attempt %d after waiting %v: %d, want 401", i+1, wait, w.Code)
				}
				wait *= 2
			}
			// The waits stop growing at the maximum, and an hour of quiet
			// forgets them.
			f.clock.Advance(loginForget)
			if w := f.tryLogin(tt.remote(0), "alice", alicePW, ""); w.Code != http.StatusSeeOther {
				t.Fatalf("after an hour: %d, want 303", w.Code)
			}
			if n := counter(f.set, `watchpost_admin_logins_total{result="rate_limited"}`); n != 4 {
				t.Errorf("rate-limited logins counted %d, want 4", n)
			}
		})
	}
}

func TestBackoffDelays(t *testing.T) {
	b := newBackoff(3, 2*time.Second, 15*time.Minute, time.Hour, 10)
	var got []time.Duration
	for n := range 15 {
		got = append(got, b.delay(n))
	}
	want := "[0s 0s 0s 2s 4s 8s 16s 32s 1m4s 2m8s 4m16s 8m32s 15m0s 15m0s 15m0s]"
	if fmt.Sprint(got) != want {
		t.Errorf("delays %v, want %s", got, want)
	}
}

// TestLoginFailureLogLine: each failure is one log line naming the
// client address as it is, for a fail2ban filter (README).
func TestLoginFailureLogLine(t *testing.T) {
	f := newFixture(t, UIDeps{})
	var buf bytes.Buffer
	// As the loghost logs: text, with the component.
	f.auth.log = slog.New(slog.NewTextHandler(&buf, nil)).With("component", "auth")
	f.tryLogin("[2001:db8::7]:4000", "alice", "wrong", "")
	f.tryLogin("192.0.2.44:4000", "bob", "wrong", "")
	f.tryLogin("192.0.2.45:4000", "x client=203.0.113.9 ", "wrong", "")
	// README's fail2ban filter, as a regular expression.
	re := regexp.MustCompile(`(?m)msg="admin login failed" component=auth client=(\S+) user=`)
	m := re.FindAllStringSubmatch(buf.String(), -1)
	if len(m) != 3 || m[0][1] != "2001:db8::7" || m[1][1] != "192.0.2.44" || m[2][1] != "192.0.2.45" {
		t.Errorf("log lines:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), `user="x client=203.0.113.9 "`) {
		t.Errorf("a user name with an address in it is not quoted:\n%s", buf.String())
	}
}

// A success does not use up the address's allowance, and resets the
// pair's.
func TestLoginSuccessRefunds(t *testing.T) {
	f := newFixture(t, UIDeps{})
	for range pairFree - 1 {
		f.tryLogin("192.0.2.5:1", "alice", "wrong", "")
	}
	for range 20 {
		if w := f.tryLogin("192.0.2.5:1", "alice", alicePW, ""); w.Code != http.StatusSeeOther {
			t.Fatalf("login: %d", w.Code)
		}
	}
	for i := range pairFree {
		if w := f.tryLogin("192.0.2.5:1", "alice", "wrong", ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d after a success: %d, want 401", i+1, w.Code)
		}
	}
}

func TestLimiterIsBounded(t *testing.T) {
	now := newClock().Now()
	l := newBackoff(5, time.Second, time.Minute, time.Minute, 100)
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
	// Forgotten keys go first, all at once.
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
