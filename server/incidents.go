package server

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/dashboard"
)

// incidentsListHandler is GET /api/v1/incidents over incidents of every
// source (checks, heartbeats, rules, metrics, silent hosts, the
// loghost's disk): the fields the list always had plus source, labels,
// severity, state and who acknowledged or resolved it. ?limit=N (200).
func incidentsListHandler(db *sql.DB, opts func() alerting.ListOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := 200
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 5000 {
				dashboard.WriteError(w, http.StatusBadRequest, "limit: want 1 to 5000")
				return
			}
			limit = n
		}
		o := opts()
		o.Limit = limit
		ins, err := alerting.ListIncidents(r.Context(), db, o)
		if err != nil {
			dashboard.WriteError(w, http.StatusInternalServerError, "incidents unavailable")
			return
		}
		dashboard.WriteJSON(w, http.StatusOK, ins)
	})
}

// incidentActions backs the admin incidents page (dashboard.IncidentSource).
type incidentActions struct {
	db   *sql.DB
	now  func() time.Time
	opts func() alerting.ListOptions
}

func (a incidentActions) Incidents(ctx context.Context, limit int) ([]alerting.IncidentInfo, error) {
	o := a.opts()
	o.Limit = limit
	return alerting.ListIncidents(ctx, a.db, o)
}

func (a incidentActions) Ack(ctx context.Context, id int64, who string) (bool, error) {
	return alerting.Ack(ctx, a.db, id, who, a.now())
}

func (a incidentActions) Resolve(ctx context.Context, id int64, who string) (bool, error) {
	return alerting.ResolveByHand(ctx, a.db, id, who, a.now())
}

// registerIncidents adds the incidents API beyond what start.go has
// (resolve) and the admin incidents page. GET /api/v1/incidents is
// incidentsListHandler where start.go registers the list.
func registerIncidents(mux *http.ServeMux, auth *dashboard.Auth, db *sql.DB, now func() time.Time, opts func() alerting.ListOptions, logger *slog.Logger) {
	mux.Handle("POST /api/v1/incidents/{id}/resolve", auth.API(resolveHandler(db, now)))
	dashboard.NewIncidentsPage(auth, incidentActions{db: db, now: now, opts: opts}, logger).Register(mux)
}
