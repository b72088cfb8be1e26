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
	// Maintenance is the public maintenance windows running now or
	// starting soon.
	Maintenance []StatusMaintenance `json:"maintenance"`
	// Subscribe offers the email subscription form.
	Subscribe bool      `json:"subscribe,omitempty"`
	Generated time.Time `json:"generated"`
}

// StatusMaintenance is a public maintenance window: scheduled, or
// running.
type StatusMaintenance struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Components  []string  `json:"components"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Running     bool      `json:"running"`
	// When is Start–End as the page prints it, in the loghost's zone.
	When string `json:"when"`
}

// StatusGroup is a titled list of components.
type StatusGroup struct {
	Name       string            `json:"name"`
	Components []StatusComponent `json:"components"`
}

// StatusComponent is one public check.
type StatusComponent struct {
	Name string `json:"name"`
	// Kind is check (a probe: response times) or heartbeat (a job that
	// pings: its pings).
	Kind   string    `json:"kind"`
	Status string    `json:"status"` // up, degraded, down, unknown
	Since  time.Time `json:"since"`
	// Uptime over the last 1, 7, 30 and 90 days (days as the loghost's
	// time zone draws them, today included); -1 when nothing was measured.
	Uptime  [4]float64     `json:"uptime"`
	Days    []StatusDay    `json:"days"` // 90, oldest first
	Samples []StatusSample `json:"samples"`
	// Pings are a heartbeat's last pings, oldest first.
	Pings []StatusPing `json:"pings,omitempty"`
	// Maintenance: a window covers it now.
	Maintenance bool `json:"maintenance,omitempty"`
	// Note: "partial outage (seen from 1 of 3 locations)" for a check
	// probed from several places and seen down from some.
	Note string `json:"note,omitempty"`
}

// StatusPing is one ping of a heartbeat: when, whether the job said it
// worked, and how long it ran when it said when it started.
type StatusPing struct {
	Time time.Time `json:"time"`
	OK   bool      `json:"ok"`
	MS   *float64  `json:"ms,omitempty"`
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
	Title      string         `json:"title"`
	Components []string       `json:"components,omitempty"`
	Started    time.Time      `json:"started"`
	Resolved   *time.Time     `json:"resolved,omitempty"`
	Updates    []StatusUpdate `json:"updates"`
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
	"overall": func(s string) string { return overallText[s] },
	"pct":     pct,
	// Times come in the loghost's configured zone (StatusSource sets it)
	// and are shown with that zone's name.
	"since":      func(t time.Time) string { return t.Format("2006-01-02 15:04 MST") },
	"dayFrom":    dayFrom,
	"dayBars":    dayBars,
	"dayStrip":   dayStrip,
	"daySummary": daySummary,
	"graph":      responseGraph,
	"pings":      pingStrip,
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
