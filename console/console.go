// Package console is the admin's console: every check and heartbeat
// (private ones too) with its state, last result, graph or ping log,
// uptime and incidents, and the actions an admin takes from a screen —
// run now, pause and resume, silence, post a public update, acknowledge,
// resolve, open an incident by hand — plus the silences, maintenance
// windows and status page subscribers. Pages are server-rendered and
// work without JavaScript; with it, the checks list refreshes itself
// over a websocket. Each page's action is also in the admin API
// (Register lists both), behind the same authentication: sessions and
// CSRF tokens for browsers, the admin token for scripts.
package console

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/heartbeat"
	"github.com/watchpost/watchpost/maintenance"
	"github.com/watchpost/watchpost/subscribe"
	"github.com/watchpost/watchpost/uptime"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Check is one configured check or heartbeat as the console shows it.
type Check struct {
	Name   string            `json:"name"`
	Kind   string            `json:"kind"` // check or heartbeat
	Type   string            `json:"type"` // http, tcp, ... or heartbeat
	Target string            `json:"target,omitempty"`
	Group  string            `json:"group,omitempty"`
	Public bool              `json:"public"`
	Labels map[string]string `json:"labels,omitempty"`
	// Interval between probes; a heartbeat's Period (or Schedule) and
	// Grace.
	Interval       time.Duration `json:"-"`
	Schedule       string        `json:"schedule,omitempty"`
	Grace          time.Duration `json:"-"`
	Conditions     []string      `json:"conditions,omitempty"`
	WarnConditions []string      `json:"warn_conditions,omitempty"`
}

// Catalog is the configured checks and heartbeats, in the file's order
// (it changes on reload).
type Catalog struct {
	Checks []Check
}

func (c Catalog) find(name string) (Check, bool) {
	for _, ch := range c.Checks {
		if ch.Name == name {
			return ch, true
		}
	}
	return Check{}, false
}

// Runner probes a check at once (the checker's scheduler).
type Runner interface {
	RunNow(check string) bool
}

// Deps are what the console reads and acts on.
type Deps struct {
	Auth    *dashboard.Auth
	DB      *sql.DB // the store's write handle
	ReadDB  *sql.DB
	Reader  *uptime.Reader
	Tracker *uptime.Tracker
	// Runner, Beats, Metrics and Logs may be nil (no checks, no
	// heartbeats, no metric store): what needs them says so.
	Runner      Runner
	Beats       *heartbeat.Service
	Maintenance *maintenance.Set
	Subscribers *subscribe.Store
	Metrics     dashboard.MetricsSource
	// Logs searches the stored log lines (the query language of
	// watchpost grep) between since and until, newest limit.
	Logs func(ctx context.Context, q string, since, until time.Time, limit int) ([]dashboard.LogRow, error)
	// Catalog is the configuration in force; PublicURL its
	// server.public_url.
	Catalog   func() Catalog
	PublicURL func() string
	Location  *time.Location
	// Changed tells the status page to rebuild (a pause, an update, a
	// manual incident, a maintenance window).
	Changed func()
	Now     func() time.Time
	Logger  *slog.Logger
	// Vantages, when set, shows each check's per-vantage grid and the
	// vantages page.
	Vantages Vantages
}

// Console serves the pages and their API.
type Console struct {
	d     Deps
	pages map[string]*template.Template
	live  *hub
}

// New builds the console; its templates are embedded, so a broken one is
// a programming error caught by the tests.
func New(d Deps) *Console {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Location == nil {
		d.Location = time.Local
	}
	if d.Changed == nil {
		d.Changed = func() {}
	}
	if d.PublicURL == nil {
		d.PublicURL = func() string { return "" }
	}
	c := &Console{d: d, pages: map[string]*template.Template{}}
	funcs := template.FuncMap{
		"when":     c.when,
		"ago":      c.ago,
		"dur":      fmtDuration,
		"pct":      pct,
		"join":     strings.Join,
		"title":    func(s string) string { return strings.ToUpper(s[:1]) + s[1:] },
		"rtChart":  rtChart,
		"pingDots": pingChart,
		"local":    func(t time.Time) string { return t.In(c.d.Location).Format("2006-01-02T15:04") },
		"labels":   fmtLabels,
		"short":    short,
		"abs":      absDuration,
	}
	for _, p := range []string{"checks", "check", "incident", "newincident", "silences", "maintenance", "subscribers", "vantages"} {
		c.pages[p] = dashboard.ParsePage(templateFS, funcs, "templates/"+p+".html", "templates/parts.html")
	}
	c.live = newHub(c, 2*time.Second, 200)
	return c
}

// Run keeps the live checks list current until ctx ends.
func (c *Console) Run(ctx context.Context) { c.live.run(ctx) }

// pagePolicy lets the console's pages run our own scripts (the live
// list, the vendored dygraphs for metric graphs) and nothing else.
const pagePolicy = "default-src 'self'; script-src 'self'; object-src 'none'; " +
	"style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Register adds the pages, their actions and the API to mux.
func (c *Console) Register(mux *http.ServeMux) {
	ui, api := c.d.Auth.UI, c.d.Auth.API
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	mux.Handle("GET /admin/console/static/", http.StripPrefix("/admin/console/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})))

	mux.Handle("GET /admin/checks", ui(http.HandlerFunc(c.checksPage)))
	mux.Handle("GET /admin/console/live", api(c.live))
	mux.Handle("GET /admin/checks/{name}", ui(http.HandlerFunc(c.checkPage)))
	mux.Handle("POST /admin/checks/{name}/{action}", ui(http.HandlerFunc(c.checkAction)))
	mux.Handle("GET /api/v1/checks", api(http.HandlerFunc(c.checksAPI)))
	mux.Handle("GET /api/v1/checks/{name}", api(http.HandlerFunc(c.checkAPI)))
	mux.Handle("POST /api/v1/checks/{name}/{action}", api(http.HandlerFunc(c.checkActionAPI)))

	mux.Handle("GET /admin/incidents/new", ui(http.HandlerFunc(c.newIncidentPage)))
	mux.Handle("POST /admin/incidents/new", ui(http.HandlerFunc(c.newIncidentForm)))
	mux.Handle("GET /admin/incidents/{id}", ui(http.HandlerFunc(c.incidentPage)))
	mux.Handle("POST /admin/incidents/{id}/update", ui(http.HandlerFunc(c.incidentUpdateForm)))
	mux.Handle("POST /api/v1/incidents", api(http.HandlerFunc(c.createIncidentAPI)))
	mux.Handle("GET /api/v1/incidents/{id}", api(http.HandlerFunc(c.incidentAPI)))

	mux.Handle("GET /admin/vantages", ui(http.HandlerFunc(c.vantagesPage)))
	mux.Handle("GET /admin/silences", ui(http.HandlerFunc(c.silencesPage)))
	mux.Handle("POST /admin/silences", ui(http.HandlerFunc(c.silenceCreate)))
	mux.Handle("POST /admin/silences/{id}/expire", ui(http.HandlerFunc(c.silenceExpire)))

	mux.Handle("GET /admin/maintenance", ui(http.HandlerFunc(c.maintenancePage)))
	mux.Handle("POST /admin/maintenance", ui(http.HandlerFunc(c.maintenanceCreate)))
	mux.Handle("POST /admin/maintenance/{id}/cancel", ui(http.HandlerFunc(c.maintenanceCancel)))
	mux.Handle("GET /api/v1/maintenance", api(http.HandlerFunc(c.maintenanceListAPI)))
	mux.Handle("POST /api/v1/maintenance", api(http.HandlerFunc(c.maintenanceCreateAPI)))
	mux.Handle("DELETE /api/v1/maintenance/{id}", api(http.HandlerFunc(c.maintenanceCancelAPI)))

	mux.Handle("GET /admin/subscribers", ui(http.HandlerFunc(c.subscribersPage)))
	mux.Handle("POST /admin/subscribers/{id}/remove", ui(http.HandlerFunc(c.subscriberRemove)))
	mux.Handle("GET /api/v1/subscribers", api(http.HandlerFunc(c.subscribersAPI)))
	mux.Handle("DELETE /api/v1/subscribers/{id}", api(http.HandlerFunc(c.subscriberRemoveAPI)))
}

// page is what every console template gets besides its own data.
type page struct {
	Title string
	User  string
	CSRF  string
	Note  string
	Err   string
}

func (c *Console) page(r *http.Request, title string) page {
	name, _ := dashboard.PrincipalFrom(r.Context())
	p := page{Title: title + " · Watchpost admin", User: name, CSRF: dashboard.CSRFToken(r)}
	if n := r.URL.Query().Get("note"); n != "" && len(n) < 300 {
		p.Note = n
	}
	return p
}

// render executes into a buffer first so a template error becomes a 500
// instead of half a page.
func (c *Console) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, name+".html", data); err != nil {
		c.d.Logger.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pagePolicy)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// back answers a form with a redirect (POST, redirect, GET) carrying a
// note for the next page.
func back(w http.ResponseWriter, r *http.Request, path, note string) {
	if note != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "note=" + urlQueryEscape(note)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

func who(r *http.Request) string {
	name, _ := dashboard.PrincipalFrom(r.Context())
	return name
}

// readJSON decodes a small JSON body strictly, or answers 400.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		dashboard.WriteError(w, http.StatusBadRequest, "want a JSON object: "+err.Error())
		return false
	}
	return true
}

func (c *Console) heartbeat(name string) bool {
	ch, ok := c.d.Catalog().find(name)
	return ok && ch.Kind == "heartbeat"
}

func (c *Console) listOptions() alerting.ListOptions {
	return alerting.ListOptions{Heartbeat: c.heartbeat, PublicURL: c.d.PublicURL()}
}

// publicNames is every public check and heartbeat.
func (c *Console) publicNames() map[string]bool {
	m := map[string]bool{}
	for _, ch := range c.d.Catalog().Checks {
		if ch.Public {
			m[ch.Name] = true
		}
	}
	return m
}
