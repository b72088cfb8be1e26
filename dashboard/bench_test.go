package dashboard

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkAPIBearer is the overhead API adds to a request with an admin
// token (two configured tokens).
func BenchmarkAPIBearer(b *testing.B) {
	f := newFixture(b, UIDeps{})
	h := f.auth.API(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/api/v1/logs", nil)
	r.Header.Set("Authorization", "Bearer "+testToken2)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkAPISession is the same with a session cookie: HMAC check and
// CSRF token derivation.
func BenchmarkAPISession(b *testing.B) {
	f := newFixture(b, UIDeps{})
	cookie, _ := f.login("alice", alicePW)
	h := f.auth.API(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/api/v1/logs", nil)
	r.AddCookie(cookie)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkVisible escapes a typical log line with one control character.
func BenchmarkVisible(b *testing.B) {
	line := "Mar  1 12:00:00 web1 sshd[123]: Failed password for root from 203.0.113.9 port 4242 ssh2\x1b[0m"
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		visible(line)
	}
}
