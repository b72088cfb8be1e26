package dashboard

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/watchpost/watchpost/webstats"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// LogRow is one log line as admin pages show it (the console's incident
// page lists the lines around an incident).
type LogRow struct {
	Time    time.Time
	Host    string
	Program string
	Line    string
}

// UIDeps are what the admin pages need from the rest of the loghost.
type UIDeps struct {
	// Logs serves /admin/logs (the logs explorer, its own package); nil
	// shows a placeholder. It runs behind the sign-in.
	Logs http.Handler
	// Metrics backs the host and graph pages; nil shows a placeholder.
	Metrics MetricsSource
	// WebStats backs the web statistics pages; nil shows a placeholder.
	WebStats WebStatsSource
	// Enrolled lists the host names claimed with the shared collector
	// token, for a line on the hosts page; nil shows none.
	Enrolled func() []EnrolledHost
}

// EnrolledHost is a name claimed with the shared collector token.
type EnrolledHost struct {
	Name, State, Address string
	Since                time.Time
}

// UI is the admin web interface under /admin/.
type UI struct {
	auth  *Auth
	deps  UIDeps
	log   *slog.Logger
	pages map[string]*template.Template
}

// NewUI builds the admin pages; the templates are embedded, so a broken
// one is a programming error caught by the tests.
func NewUI(auth *Auth, deps UIDeps, logger *slog.Logger) *UI {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	u := &UI{auth: auth, deps: deps, log: logger, pages: map[string]*template.Template{}}
	for _, p := range []string{"login", "home", "search", "hosts", "host", "graph", "webstats", "webstats-month"} {
		u.pages[p] = template.Must(template.New(p).Funcs(templateFuncs).
			ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html"))
	}
	return u
}

var templateFuncs = template.FuncMap{
	"ranges":   func() []string { return []string{"day", "week", "month", "year"} },
	"bytes":    webstats.HumanBytes,
	"rowsOf":   webstats.RowsOf,
	"countsOf": webstats.CountsOf,
	"visible":  visible,
	"fmtTime": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format("2006-01-02 15:04:05 Z07:00")
	},
}

// ParsePage parses an admin page kept outside this package (the
// console's) with the admin layout (templates "top" and "bottom", which
// read .Title, .User and .CSRF) and the admin templates' functions
// (visible, fmtTime, ...); funcs adds the page's own. A broken template
// is a programming error: it panics, as the embedded pages do.
func ParsePage(fsys fs.FS, funcs template.FuncMap, files ...string) *template.Template {
	t := template.New(files[0]).Funcs(templateFuncs).Funcs(funcs)
	t = template.Must(t.ParseFS(templateFS, "templates/layout.html"))
	return template.Must(t.ParseFS(fsys, files...))
}

// Register adds the admin routes to mux.
func (u *UI) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /admin/static/", http.StripPrefix("/admin/static/", staticHandler(static)))
	mux.HandleFunc("GET /admin/login", u.loginForm)
	mux.HandleFunc("POST /admin/login", u.login)
	mux.Handle("POST /admin/logout", u.auth.UI(http.HandlerFunc(u.logout)))
	mux.Handle("GET /admin/{$}", u.auth.UI(http.HandlerFunc(u.home)))
	mux.Handle("GET /admin/logs", u.auth.UI(http.HandlerFunc(u.logs)))
	mux.Handle("GET /admin/hosts", u.auth.UI(http.HandlerFunc(u.hosts)))
	mux.Handle("GET /admin/hosts/{host}", u.auth.UI(http.HandlerFunc(u.host)))
	mux.Handle("GET /admin/hosts/{host}/{graph}", u.auth.UI(http.HandlerFunc(u.graph)))
	mux.Handle("GET /admin/webstats", u.auth.UI(http.HandlerFunc(u.webstatsIndex)))
	mux.Handle("GET /admin/webstats/{site}/{month}", u.auth.UI(http.HandlerFunc(u.webstatsMonth)))
	mux.Handle("GET /favicon.ico", Favicon())
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
	})
}

// Favicon serves the icon browsers ask every page for (a 404 in every
// log otherwise), public like the status page.
func Favicon() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := staticFS.ReadFile("static/favicon.ico")
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/x-icon")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.Write(b)
	})
}

func staticHandler(fsys fs.FS) http.Handler {
	fileServer := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	})
}

// pageData feeds every template; fields a page does not use stay zero.
type pageData struct {
	Title     string
	User      string
	CSRF      string
	Query     string
	Name      string
	Next      string
	Err       string
	Available bool

	Hosts      []MetricHost
	Enrolled   []EnrolledHost
	Host       string
	Graph      string
	Range      string
	Category   string
	Categories []string
	Groups     []categoryGraphs
	Sites      []siteMonths
	Report     *webstats.Report
	// Older and Newer are the site's stored months either side of the
	// one shown ("" at the ends).
	Older, Newer string
	// History is the totals of the shown month's year.
	History []StatsTotals
}

func (u *UI) signedIn(r *http.Request, title string) pageData {
	name, _ := PrincipalFrom(r.Context())
	return pageData{Title: title, User: name, CSRF: CSRFToken(r)}
}

// render executes into a buffer first so a template error becomes a 500
// instead of half a page.
func (u *UI) render(w http.ResponseWriter, status int, page string, d pageData) {
	var buf bytes.Buffer
	if err := u.pages[page].ExecuteTemplate(&buf, page+".html", d); err != nil {
		u.log.Error("render page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	u.render(w, http.StatusOK, "home", u.signedIn(r, "Watchpost admin"))
}

func (u *UI) logs(w http.ResponseWriter, r *http.Request) {
	if u.deps.Logs != nil {
		u.deps.Logs.ServeHTTP(w, r)
		return
	}
	d := u.signedIn(r, "Logs · Watchpost admin")
	d.Query = r.URL.Query().Get("q")
	u.render(w, http.StatusOK, "search", d)
}

// Shell is what the admin layout (templates/layout.html) shows of a
// page: its title, who is signed in and the CSRF token of the sign-out
// form. Pages of other packages embed it in their template data.
type Shell struct {
	Title string
	User  string
	CSRF  string
}

// NewShell returns the shell of a signed-in request.
func NewShell(r *http.Request, title string) Shell {
	name, _ := PrincipalFrom(r.Context())
	return Shell{Title: title, User: name, CSRF: CSRFToken(r)}
}

// visible makes control characters and invalid UTF-8 in a log line
// visible as \xNN; html/template then escapes markup, so a hostile line
// can neither run script nor confuse the page.
func visible(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) ||
			r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			if r == '\t' {
				b.WriteByte('\t')
				i += size
				continue
			}
			for j := 0; j < size; j++ {
				c := s[i+j]
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			}
			i += size
			continue
		}
		b.WriteString(s[i : i+size])
		i += size
	}
	return b.String()
}

// StaticFile returns one of the embedded assets (the status page's
// stylesheet, for `watchpost status export`).
func StaticFile(name string) ([]byte, error) {
	return staticFS.ReadFile("static/" + name)
}
