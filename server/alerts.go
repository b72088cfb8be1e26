package server

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/report"
)

// startAlerting drains the outbox through the routes to the receivers
// (email, Matrix, webhook), with silences, grouping, reminders,
// escalation, flap detection and dependencies (package alerting).
// Without a receiver, notifications are marked as not sent, so the outbox
// stays small and nothing stale goes out the day a receiver is added.
func (l *loghost) startAlerting(ctx context.Context, h *hot) error {
	cfg, st, set := h.cfg, l.st, h.set
	receivers, err := alerting.BuildReceivers(&cfg.Alerting, st.hostname)
	if err != nil {
		return err
	}
	router, err := alerting.NewRouter(&cfg.Alerting)
	if err != nil {
		return err
	}
	checks := map[string]alerting.CheckInfo{}
	for _, c := range cfg.Checks {
		checks[c.Name] = alerting.CheckInfo{Labels: c.Labels, DependsOn: c.DependsOn}
	}
	for _, b := range cfg.Heartbeats {
		checks[b.Name] = alerting.CheckInfo{Heartbeat: true}
	}
	d := alerting.New(l.store.DB(), alerting.Config{Receivers: receivers, Router: router, Checks: checks,
		HostSilentAfter: time.Duration(cfg.Alerting.HostSilentAfter), Hostname: st.hostname, Now: l.o.Now,
		Maintenance: l.maintenanceCovers(cfg), PublicURL: cfg.Server.PublicURL,
		// The loghost's own storage filling up is an incident like any
		// other (free space under the larger of 1 GiB and 10 %).
		Disk: &alerting.DiskWatcher{DB: l.store.DB(), Path: filepath.Dir(st.dbPath), Full: l.store.DiskFull,
			MinFree: uint64(cfg.Alerting.DiskMinFree), MinFreePercent: cfg.Alerting.DiskMinFreePercent},
		RuleResolveAfter: time.Duration(cfg.Alerting.RuleResolveAfter),
		Metrics:          set, Logger: l.o.Logger.With("component", "alerting")})
	h.wg.Add(1)
	go func() { defer h.wg.Done(); d.Run(ctx) }()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		// Last month's report goes out once, on the 1st.
		report.Loop(ctx, l.store.DB(), cfg, l.o.Now, time.Hour, l.o.Logger.With("component", "report"))
	}()
	if m := cfg.Alerting.Matrix; m != nil {
		// Reactions and thread replies in the room acknowledge incidents.
		mx, err := alerting.NewMatrix(alerting.MatrixConfig{Homeserver: m.Homeserver, AccessToken: string(m.AccessToken), Room: m.Room})
		if err != nil {
			return err
		}
		acks := alerting.NewMatrixAcks(mx, l.store.DB(), l.o.Now, l.o.Logger.With("component", "matrix-acks"))
		h.wg.Add(1)
		go func() { defer h.wg.Done(); acks.Run(ctx) }()
	}
	if u := cfg.Alerting.Watchdog; u != "" {
		wd := alerting.NewWatchdog(string(u), time.Duration(cfg.Alerting.WatchdogEvery), set, l.o.Logger.With("component", "watchdog"))
		h.wg.Add(1)
		go func() { defer h.wg.Done(); wd.Run(ctx) }()
	}
	return nil
}

// incidentID reads the {id} of an incident's path, or answers 400.
func incidentID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		dashboard.WriteError(w, http.StatusBadRequest, "incident id: want a number")
		return 0, false
	}
	return id, true
}

// ackHandler acknowledges an incident: reminders and escalation stop.
func ackHandler(db *sql.DB, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := incidentID(w, r)
		if !ok {
			return
		}
		who, _ := dashboard.PrincipalFrom(r.Context())
		ok, err := alerting.Ack(r.Context(), db, id, who, now())
		if err != nil {
			dashboard.WriteError(w, http.StatusInternalServerError, "acknowledge failed")
			return
		}
		if !ok {
			dashboard.WriteError(w, http.StatusNotFound, "no open, unacknowledged incident with this id")
			return
		}
		dashboard.WriteJSON(w, http.StatusOK, map[string]any{"id": id, "acknowledged_by": who})
	})
}

// resolveHandler resolves an incident by hand (a rule alert that will not
// fire again, a host retired): POST /api/v1/incidents/{id}/resolve.
func resolveHandler(db *sql.DB, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := incidentID(w, r)
		if !ok {
			return
		}
		who, _ := dashboard.PrincipalFrom(r.Context())
		ok, err := alerting.ResolveByHand(r.Context(), db, id, who, now())
		switch {
		case errors.Is(err, alerting.ErrCheckIncident):
			dashboard.WriteError(w, http.StatusConflict, err.Error())
			return
		case err != nil:
			dashboard.WriteError(w, http.StatusInternalServerError, "resolve failed")
			return
		case !ok:
			dashboard.WriteError(w, http.StatusNotFound, "no open incident with this id")
			return
		}
		dashboard.WriteJSON(w, http.StatusOK, map[string]any{"id": id, "resolved_by": who})
	})
}
