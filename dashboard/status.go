package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"math"
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
	Time time.Time `json:"time"`
	MS   float64   `json:"ms"`
	OK   bool      `json:"ok"`
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
	"overall": func(s string) string { return overallText[s] },
	"pct": func(f float64) string {
		if f < 0 {
			return "–"
		}
		if f >= 1 {
			return "100%"
		}
		return fmt.Sprintf("%.2f%%", math.Floor(f*10000)/100)
	},
	"dayClass": func(d StatusDay) string {
		switch {
		case d.Uptime < 0:
			return "none"
		case d.Uptime >= 0.999:
			return "ok"
		case d.Uptime >= 0.99:
			return "minor"
		}
		return "major"
	},
	"barX":  func(i int) int { return i * 6 },
	"since": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"graph": responseGraph,
}).ParseFS(templateFS, "templates/status.html"))

// responseGraph turns samples into SVG coordinates (a polyline and the
// failed probes as dots) for a 540×80 box.
func responseGraph(samples []StatusSample) map[string]any {
	if len(samples) < 2 {
		return nil
	}
	t0, t1 := samples[0].Time, samples[len(samples)-1].Time
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		return nil
	}
	maxMS := 1.0
	for _, s := range samples {
		maxMS = math.Max(maxMS, s.MS)
	}
	var pts bytes.Buffer
	var fails []map[string]float64
	for _, s := range samples {
		x := 540 * s.Time.Sub(t0).Seconds() / span
		y := 78 - 74*s.MS/maxMS
		if s.OK {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
		} else {
			fails = append(fails, map[string]float64{"X": x})
		}
	}
	return map[string]any{"Points": pts.String(), "Fails": fails, "Max": fmt.Sprintf("%.0f ms", maxMS),
		"From": t0.UTC().Format("Jan 2 15:04"), "To": t1.UTC().Format("Jan 2 15:04 UTC")}
}

// PublicStatus serves the status page at / (HTML that needs no
// JavaScript) and /api/v1/status (the same as JSON), both from one build
// every maxAge (StatusCache).
func PublicStatus(c *StatusCache) (page, api http.Handler) {
	page = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.get(r.Context())
		if err != nil {
			c.log.Error("status page", "err", err)
			http.Error(w, "status unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Security-Policy", statusCSP)
		serveCached(w, r, "text/html; charset=utf-8", s.htmlTag, s.html, s.htmlGz, c.maxAge)
	})
	api = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.get(r.Context())
		if err != nil {
			c.log.Error("status api", "err", err)
			WriteError(w, http.StatusInternalServerError, "status unavailable")
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		serveCached(w, r, "application/json; charset=utf-8", s.jsonTag, s.json, s.jsonGz, c.maxAge)
	})
	return page, api
}
