package dashboard

import (
	"context"
	"html/template"
	"net/http"
	"time"
)

// StatusPage is what the public status page shows: only checks marked
// public ever get here (the server builds it from the configuration).
type StatusPage struct {
	Title       string           `json:"title"`
	Description string           `json:"description,omitempty"`
	Overall     string           `json:"overall"` // operational, degraded, partial_outage, major_outage, unknown
	Groups      []StatusGroup    `json:"groups"`
	Incidents   []StatusIncident `json:"incidents"`
	Generated   time.Time        `json:"generated"`
}

// StatusGroup is a titled list of components.
type StatusGroup struct {
	Name       string            `json:"name"`
	Components []StatusComponent `json:"components"`
}

// StatusComponent is one public check.
type StatusComponent struct {
	Name   string    `json:"name"`
	Status string    `json:"status"` // up, degraded, down, unknown
	Since  time.Time `json:"since"`
	// Uptime over the last 1, 7, 30 and 90 days (days as the loghost's
	// time zone draws them, today included); -1 when nothing was measured.
	Uptime  [4]float64     `json:"uptime"`
	Days    []StatusDay    `json:"days"` // 90, oldest first
	Samples []StatusSample `json:"samples"`
}

// StatusDay is one bar of the 90-day strip.
type StatusDay struct {
	Day    string  `json:"day"`
	Uptime float64 `json:"uptime"` // -1: no data
	DownMS int64   `json:"down_ms"`
}

// StatusSample is one probe on the response-time graph.
type StatusSample struct {
	Time     time.Time `json:"time"`
	MS       float64   `json:"ms"`
	OK       bool      `json:"ok"`
	Degraded bool      `json:"degraded,omitempty"` // some probe in the bucket was up but degraded
}

// StatusIncident is a public incident with its updates.
type StatusIncident struct {
	Title    string         `json:"title"`
	Started  time.Time      `json:"started"`
	Resolved *time.Time     `json:"resolved,omitempty"`
	Updates  []StatusUpdate `json:"updates"`
}

// StatusUpdate is one public note on an incident.
type StatusUpdate struct {
	Time    time.Time `json:"time"`
	Status  string    `json:"status"`
	Message string    `json:"message"`
}

// StatusSource builds the page's content.
type StatusSource func(ctx context.Context) (StatusPage, error)

var overallText = map[string]string{
	"operational": "All systems operational", "degraded": "Degraded performance",
	"partial_outage": "Partial outage", "major_outage": "Major outage", "unknown": "Status unknown",
}

var statusTemplate = template.Must(template.New("status.html").Funcs(template.FuncMap{
	"overall":    func(s string) string { return overallText[s] },
	"pct":        pct,
	"since":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"dayFrom":    dayFrom,
	"dayBars":    dayBars,
	"dayStrip":   dayStrip,
	"daySummary": daySummary,
	"graph":      responseGraph,
}).ParseFS(templateFS, "templates/status.html"))

// PublicStatus serves the status page at / (HTML that needs no
// JavaScript) and /api/v1/status (the same as JSON), both from one build
// every maxAge (StatusCache). A request takes no lock and allocates
// nothing of its own: it loads the current build, whose bytes, gzipped
// bytes and header values were all made when it was built.
func PublicStatus(c *StatusCache) (page, api http.Handler) {
	page = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.get(r.Context(), false)
		if err != nil {
			c.log.Error("status page", "err", err)
			http.Error(w, "status unavailable", http.StatusInternalServerError)
			return
		}
		w.Header()["Content-Security-Policy"] = statusCSPValue
		s.html.serve(w, r)
	})
	api = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.get(r.Context(), false)
		if err != nil {
			c.log.Error("status api", "err", err)
			WriteError(w, http.StatusInternalServerError, "status unavailable")
			return
		}
		w.Header()["X-Content-Type-Options"] = nosniffValue
		s.json.serve(w, r)
	})
	return page, api
}
