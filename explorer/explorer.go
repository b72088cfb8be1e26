// Package explorer is the admin Logs page (/admin/logs): the query and
// time range in the URL, a histogram of the matches stacked by severity,
// the fields panel, the lines newest first with "load older", a line's
// context, and a live tail that pauses when the reader scrolls up. The
// page is static HTML and one script; everything it shows comes from the
// log API (package logapi), which `watchpost grep` and scripts use too,
// and is written into the page as text, never as markup.
package explorer

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/watchpost/watchpost/dashboard"
)

//go:embed templates/logs.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// PagePolicy lets the page run its own script and talk to the loghost
// (fetch and the live websocket) and nothing else: no inline script or
// style, no other origin. The script positions rows through the CSSOM,
// which style-src does not restrict.
const PagePolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Presets are the range buttons.
var Presets = []string{"15m", "1h", "6h", "24h", "7d", "30d"}

// Explorer serves the page.
type Explorer struct {
	tmpl *template.Template
	loc  *time.Location
	tz   string
	log  *slog.Logger
}

// New builds the page; loc is the zone the loghost shows times in.
func New(loc *time.Location, logger *slog.Logger) (*Explorer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if loc == nil {
		loc = time.UTC
	}
	t := dashboard.ParsePage(templateFS, nil, "templates/logs.html")
	return &Explorer{tmpl: t, loc: loc, tz: zoneName(loc), log: logger}, nil
}

// RegisterStatic serves the page's script and stylesheet under
// /admin/static/logs/ (public, as the dashboard's other assets: code,
// not data).
func (e *Explorer) RegisterStatic(mux *http.ServeMux) {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(sub)
	mux.Handle("GET /admin/static/logs/", http.StripPrefix("/admin/static/logs/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})))
}

type pageData struct {
	dashboard.Shell
	Query, Since, Until string
	TZ                  string
	Presets             []string
}

// ServeHTTP renders the page for a signed-in admin (the dashboard's
// sign-in wraps it). The page fills itself from the API.
func (e *Explorer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	d := pageData{Shell: dashboard.NewShell(r, "Logs · Watchpost admin"), Query: v.Get("q"), Since: v.Get("since"), Until: v.Get("until"),
		TZ: e.tz, Presets: Presets}
	if d.Since == "" && d.Until == "" {
		d.Since = "1h"
	}
	var buf bytes.Buffer
	if err := e.tmpl.ExecuteTemplate(&buf, "logs.html", d); err != nil {
		e.log.Error("render logs page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Security-Policy", PagePolicy)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// zoneName is the IANA name the browser formats times with: the
// loghost's zone, or UTC when it has no name a browser knows.
func zoneName(loc *time.Location) string {
	n := loc.String()
	if n == "Local" {
		// time.Local is named "Local"; its IANA name is in TZ or in the
		// /etc/localtime link.
		if tz := strings.TrimPrefix(os.Getenv("TZ"), ":"); strings.Contains(tz, "/") && !strings.HasPrefix(tz, "/") {
			n = tz
		} else if p, err := os.Readlink("/etc/localtime"); err == nil {
			if _, z, ok := strings.Cut(p, "zoneinfo/"); ok {
				n = z
			}
		}
	}
	if n == "UTC" || strings.Contains(n, "/") && !strings.ContainsAny(n, "\"<>& ") {
		return n
	}
	return "UTC"
}
