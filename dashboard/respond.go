// Package dashboard is the loghost's web side: admin authentication (API
// tokens, password logins, sessions, CSRF), the admin UI shell, the public
// placeholder page, health checks and the JSON error shape every API
// handler shares.
package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// WriteJSON answers v as JSON. Encoding errors are not reported: the
// header is already out, and the values we send are plain structs.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// Messages may quote hostile input; keep them inert if a browser ever
	// renders the body as HTML despite nosniff.
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

type errorBody struct {
	Error string `json:"error"`
}

// WriteError answers {"error": msg}, the shape every API error uses.
func WriteError(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = strings.ToLower(http.StatusText(status))
	}
	WriteJSON(w, status, errorBody{Error: msg})
}

// contentSecurityPolicy allows only our own embedded stylesheet and
// same-origin forms: the pages carry no scripts at all.
const contentSecurityPolicy = "default-src 'self'; script-src 'none'; object-src 'none'; " +
	"style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders are built once: every response carries them, and a
// Header.Set per header per request was a measurable share of the status
// page's allocations under load. Handlers may replace (never append to)
// a value.
var securityHeaders = [...]struct {
	key string
	val []string
}{
	{"Content-Security-Policy", []string{contentSecurityPolicy}},
	{"X-Frame-Options", []string{"DENY"}},
	{"Referrer-Policy", []string{"no-referrer"}},
	{"X-Content-Type-Options", []string{"nosniff"}},
	{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
}

// SecurityHeaders sets the headers every response carries. Handlers that
// need a looser policy overwrite them before writing.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, sh := range securityHeaders {
			h[sh.key] = sh.val
		}
		next.ServeHTTP(w, r)
	})
}

// Degraded is a ready error that /healthz shows: the loghost runs but
// cannot do all of its work ("disk full"). Its text is ours, never an
// error's, so it names no path.
type Degraded string

func (d Degraded) Error() string { return "degraded: " + string(d) }

// Healthz answers 200 "ok", 503 "degraded: REASON" when ready reports
// Degraded, or 503 "not ready" for any other error. Other reasons are
// not shown: /healthz is public and database errors name file paths. A
// nil ready means liveness only.
func Healthz(ready func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if ready != nil {
			if err := ready(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				var d Degraded
				if errors.As(err, &d) {
					_, _ = w.Write([]byte(d.Error() + "\n"))
					return
				}
				_, _ = w.Write([]byte("not ready\n"))
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}
