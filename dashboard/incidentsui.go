package dashboard

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/watchpost/watchpost/alerting"
)

// IncidentSource lists incidents of every kind and acts on them; the
// loghost implements it over package alerting.
type IncidentSource interface {
	Incidents(ctx context.Context, limit int) ([]alerting.IncidentInfo, error)
	Ack(ctx context.Context, id int64, who string) (bool, error)
	Resolve(ctx context.Context, id int64, who string) (bool, error)
}

// IncidentsPage is /admin/incidents: the open and recent incidents of
// every source, with acknowledge and resolve buttons (signed-in admins,
// CSRF-checked forms like the other admin pages).
type IncidentsPage struct {
	auth *Auth
	src  IncidentSource
	log  *slog.Logger
	tmpl *template.Template
}

// NewIncidentsPage builds the page; its template is embedded.
func NewIncidentsPage(auth *Auth, src IncidentSource, logger *slog.Logger) *IncidentsPage {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &IncidentsPage{auth: auth, src: src, log: logger, tmpl: template.Must(template.New("incidents").Funcs(templateFuncs).
		ParseFS(templateFS, "templates/layout.html", "templates/incidents.html"))}
}

// Register adds the page and its two actions to mux.
func (p *IncidentsPage) Register(mux *http.ServeMux) {
	mux.Handle("GET /admin/incidents", p.auth.UI(http.HandlerFunc(p.list)))
	mux.Handle("POST /admin/incidents/{id}/ack", p.auth.UI(p.action(p.src.Ack)))
	mux.Handle("POST /admin/incidents/{id}/resolve", p.auth.UI(p.action(p.src.Resolve)))
}

type incidentsData struct {
	pageData
	Open, Recent []alerting.IncidentInfo
	Note         string
}

const incidentsShown = 200

func (p *IncidentsPage) list(w http.ResponseWriter, r *http.Request) {
	name, _ := PrincipalFrom(r.Context())
	d := incidentsData{pageData: pageData{Title: "Incidents · Watchpost admin", User: name, CSRF: CSRFToken(r)}}
	ins, err := p.src.Incidents(r.Context(), incidentsShown)
	if err != nil {
		p.log.Error("list incidents", "err", err)
		d.Err = "The incidents could not be read; see the loghost's log."
	}
	for _, in := range ins {
		if in.State == "resolved" {
			d.Recent = append(d.Recent, in)
		} else {
			d.Open = append(d.Open, in)
		}
	}
	switch r.URL.Query().Get("done") {
	case "ok":
		d.Note = "Done."
	case "gone":
		d.Note = "That incident was no longer open (or already acknowledged)."
	case "check":
		d.Note = "A check's or heartbeat's incident resolves when it recovers."
	}
	var buf bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&buf, "incidents.html", d); err != nil {
		p.log.Error("render page", "page", "incidents", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// action runs an acknowledge or resolve and goes back to the list (POST,
// redirect, GET), saying how it went.
func (p *IncidentsPage) action(do func(ctx context.Context, id int64, who string) (bool, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			http.Error(w, "incident id: want a number", http.StatusBadRequest)
			return
		}
		who, _ := PrincipalFrom(r.Context())
		ok, err := do(r.Context(), id, who)
		done := "ok"
		switch {
		case errors.Is(err, alerting.ErrCheckIncident):
			done = "check"
		case err != nil:
			p.log.Error("incident action", "id", id, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		case !ok:
			done = "gone"
		}
		http.Redirect(w, r, "/admin/incidents?done="+done, http.StatusSeeOther)
	})
}
