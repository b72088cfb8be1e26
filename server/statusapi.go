package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/uptime"
)

// publicNames is every check and heartbeat marked public.
func publicNames(cfg *config.Config) map[string]bool {
	m := map[string]bool{}
	for _, c := range cfg.Checks {
		if c.Public {
			m[c.Name] = true
		}
	}
	for _, h := range cfg.Heartbeats {
		if h.Public {
			m[h.Name] = true
		}
	}
	return m
}

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string      `xml:"title"`
	ID      string      `xml:"id"`
	Updated string      `xml:"updated"`
	Entries []atomEntry `xml:"entry"`
}

type atomEntry struct {
	Title   string `xml:"title"`
	ID      string `xml:"id"`
	Updated string `xml:"updated"`
	Content string `xml:"content"`
}

// feedHandler is /feed.atom: the incidents of public checks, those
// opened by hand, and (when maint is set) public maintenance windows.
func feedHandler(current func() *config.Config, rd *uptime.Reader, maint func() []atomEntry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := current()
		public := publicNames(cfg)
		ins, err := rd.Incidents(r.Context(), true, 50)
		if err != nil {
			http.Error(w, "feed unavailable", http.StatusInternalServerError)
			return
		}
		title := cfg.StatusPage.Title
		if title == "" {
			title = "Status"
		}
		f := atomFeed{Title: title + " incidents", ID: "urn:watchpost:incidents", Updated: time.Unix(0, 0).UTC().Format(time.RFC3339)}
		if maint != nil {
			f.Entries = append(f.Entries, maint()...)
			for _, e := range f.Entries {
				if e.Updated > f.Updated {
					f.Updated = e.Updated
				}
			}
		}
		for _, in := range ins {
			if !public[in.Check] && in.Source != "manual" {
				continue
			}
			updated := in.Started
			var b strings.Builder
			for _, u := range in.Updates {
				fmt.Fprintf(&b, "%s %s: %s\n", u.Time.UTC().Format(time.RFC3339), u.Status, u.Message)
				if u.Time.After(updated) {
					updated = u.Time
				}
			}
			if u := updated.UTC().Format(time.RFC3339); u > f.Updated {
				f.Updated = u
			}
			f.Entries = append(f.Entries, atomEntry{Title: in.Title, ID: publicIncidentID(in),
				Updated: updated.UTC().Format(time.RFC3339), Content: b.String()})
		}
		w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
		io.WriteString(w, xml.Header)
		xml.NewEncoder(w).Encode(f)
	})
}

// publicIncidentID names an incident in the public feed by what the
// feed shows anyway, its check and start: the store's id counts every
// incident, the hidden ones (private checks, rules, hosts) too.
func publicIncidentID(in uptime.Incident) string {
	return fmt.Sprintf("urn:watchpost:incident:%s:%d", url.PathEscape(in.Check), in.Started.UnixNano())
}

var badgeTemplate = template.Must(template.New("badge").Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="20" role="img" aria-label="{{.Label}}: {{.Value}}"><title>{{.Label}}: {{.Value}}</title><rect width="{{.LW}}" height="20" fill="#555"/><rect x="{{.LW}}" width="{{.VW}}" height="20" fill="{{.Color}}"/><g fill="#fff" font-family="Verdana,sans-serif" font-size="11"><text x="6" y="14">{{.Label}}</text><text x="{{.VX}}" y="14">{{.Value}}</text></g></svg>`))

// badgeHandler is /badge/{check}.svg: the state, or with ?uptime=30d the
// uptime, of a public check.
func badgeHandler(current func() *config.Config, rd *uptime.Reader, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		public := publicNames(current())
		name, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
		if !ok || !public[name] {
			http.NotFound(w, r)
			return
		}
		value, color := "", "#9f9f9f"
		if q := r.URL.Query().Get("uptime"); q != "" {
			d, err := config.ParseDuration(q)
			days := int(d / (24 * time.Hour))
			if err != nil || days < 1 || days > 400 {
				http.Error(w, "uptime: want whole days, 1d to 400d", http.StatusBadRequest)
				return
			}
			ds, err := rd.Days(r.Context(), name, days, now())
			if err != nil {
				http.Error(w, "badge unavailable", http.StatusInternalServerError)
				return
			}
			value = "no data"
			if ratio, ok := uptime.Ratio(ds); ok {
				value = strconv.FormatFloat(float64(int(ratio*10000))/100, 'f', 2, 64) + "%"
				color = "#e05d44"
				if ratio >= 0.99 {
					color = "#dfb317"
				}
				if ratio >= 0.999 {
					color = "#4c1"
				}
			}
		} else {
			cur, err := rd.Current(r.Context(), name)
			if err != nil {
				http.Error(w, "badge unavailable", http.StatusInternalServerError)
				return
			}
			value = cur.Status.String()
			color = map[uptime.Status]string{uptime.Up: "#4c1", uptime.Degraded: "#dfb317", uptime.Down: "#e05d44", uptime.Unknown: "#9f9f9f"}[cur.Status]
		}
		lw, vw := 7*len(name)+12, 7*len(value)+12
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "max-age=60")
		badgeTemplate.Execute(w, map[string]any{"Label": name, "Value": value, "Color": color,
			"LW": lw, "VW": vw, "W": lw + vw, "VX": lw + 6})
	})
}

// incidentUpdateAPI is the admin side of the status page: post an update
// (investigating, identified, monitoring, resolved) to an incident.
// statusUpdater posts an update to an incident (uptime.Tracker).
type statusUpdater interface {
	AddUpdate(ctx context.Context, id int64, status, message string, now time.Time) (bool, error)
}

func incidentUpdateAPI(db *sql.DB, rd *uptime.Reader, tr statusUpdater, now func() time.Time, changed func()) (update http.Handler) {
	update = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := incidentID(w, r)
		if !ok {
			return
		}
		var body struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			dashboard.WriteError(w, http.StatusBadRequest, "want {\"status\": ..., \"message\": ...}: "+err.Error())
			return
		}
		switch body.Status {
		case "investigating", "identified", "monitoring", "resolved":
		default:
			dashboard.WriteError(w, http.StatusBadRequest, "status: want investigating, identified, monitoring or resolved")
			return
		}
		if strings.TrimSpace(body.Message) == "" {
			dashboard.WriteError(w, http.StatusBadRequest, "message: must not be empty")
			return
		}
		if body.Status == "resolved" {
			// Only a check's or a manual (public) incident is resolved by
			// an update; the others resolve through the alerting path,
			// which tells the receivers.
			var source string
			err := db.QueryRowContext(r.Context(), `SELECT source FROM incidents WHERE id = ?`, id).Scan(&source)
			if err == nil && source != "check" && source != "manual" {
				dashboard.WriteError(w, http.StatusConflict, "a "+source+" incident is resolved with POST /api/v1/incidents/{id}/resolve")
				return
			}
		}
		ok, err := tr.AddUpdate(r.Context(), id, body.Status, body.Message, now())
		if err != nil {
			dashboard.WriteError(w, http.StatusInternalServerError, "could not store the update")
			return
		}
		if !ok {
			dashboard.WriteError(w, http.StatusNotFound, "no such incident")
			return
		}
		changed()
		in, _, _ := rd.Incident(r.Context(), id)
		dashboard.WriteJSON(w, http.StatusCreated, in)
	})
	return update
}
