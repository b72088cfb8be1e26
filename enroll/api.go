package enroll

import (
	"errors"
	"net"
	"net/http"

	"github.com/watchpost/watchpost/dashboard"
)

// Register adds the admin API behind auth (the dashboard's API guard):
//
//	GET    /api/v1/enrollments                    the enrolled names
//	POST   /api/v1/enrollments/{host}/pin         only its last address (or ?address=) may write as it
//	POST   /api/v1/enrollments/{host}/revoke      its batches are refused
//	DELETE /api/v1/enrollments/{host}             forgotten: its next batch enrols it anew
func (r *Registry) Register(mux *http.ServeMux, auth func(http.Handler) http.Handler) {
	mux.Handle("GET /api/v1/enrollments", auth(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		dashboard.WriteJSON(w, http.StatusOK, r.List())
	})))
	mux.Handle("POST /api/v1/enrollments/{host}/pin", auth(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		addr := req.URL.Query().Get("address")
		if addr != "" && net.ParseIP(addr) == nil {
			dashboard.WriteError(w, http.StatusBadRequest, "address: want an IP address")
			return
		}
		h, err := r.Pin(req.Context(), req.PathValue("host"), addr, who(req))
		answer(w, h, err)
	})))
	mux.Handle("POST /api/v1/enrollments/{host}/revoke", auth(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h, err := r.Revoke(req.Context(), req.PathValue("host"), who(req))
		answer(w, h, err)
	})))
	mux.Handle("DELETE /api/v1/enrollments/{host}", auth(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := r.Forget(req.Context(), req.PathValue("host"), who(req)); err != nil {
			answer(w, Host{}, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
}

func who(r *http.Request) string {
	name, _ := dashboard.PrincipalFrom(r.Context())
	return name
}

func answer(w http.ResponseWriter, h Host, err error) {
	switch {
	case errors.Is(err, ErrUnknown):
		dashboard.WriteError(w, http.StatusNotFound, "no such enrolled host")
	case err != nil:
		dashboard.WriteError(w, http.StatusInternalServerError, "could not change the host; see the loghost's log")
	default:
		dashboard.WriteJSON(w, http.StatusOK, h)
	}
}
