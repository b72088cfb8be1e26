package dashboard

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/watchpost/watchpost/webstats"
)

// StatsMonth is one stored month of a site's web statistics.
type StatsMonth struct {
	Site    string
	Month   string // YYYY-MM
	Updated time.Time
}

// StatsTotals are one stored month's headline numbers.
type StatsTotals struct {
	Month string `json:"month"` // YYYY-MM
	webstats.Totals
}

// WebStatsSource is what the web statistics pages read.
type WebStatsSource interface {
	Months(ctx context.Context) ([]StatsMonth, error)
	// Report is nil, nil when the site has no such month.
	Report(ctx context.Context, site, month string) (*webstats.Report, error)
	// History is the totals of the site's stored months of year.
	History(ctx context.Context, site string, year int) ([]StatsTotals, error)
}

var monthRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}$`)

// siteMonths groups the stored months by site for the index page.
type siteMonths struct {
	Site   string
	Months []StatsMonth
}

func (u *UI) webstatsIndex(w http.ResponseWriter, r *http.Request) {
	d := u.signedIn(r, "Web statistics · Watchpost admin")
	if u.deps.WebStats == nil {
		u.render(w, http.StatusOK, "webstats", d)
		return
	}
	d.Available = true
	ms, err := u.deps.WebStats.Months(r.Context())
	if err != nil {
		u.log.Error("list web statistics", "err", err)
		d.Err = "The web statistics could not be read; see the loghost's log."
	}
	for _, m := range ms {
		if n := len(d.Sites); n == 0 || d.Sites[n-1].Site != m.Site {
			d.Sites = append(d.Sites, siteMonths{Site: m.Site})
		}
		d.Sites[len(d.Sites)-1].Months = append(d.Sites[len(d.Sites)-1].Months, m)
	}
	u.render(w, http.StatusOK, "webstats", d)
}

func (u *UI) webstatsMonth(w http.ResponseWriter, r *http.Request) {
	site, month := r.PathValue("site"), r.PathValue("month")
	d := u.signedIn(r, site+" "+month+" · Web statistics · Watchpost admin")
	d.Host, d.Range = site, month
	if u.deps.WebStats == nil || !monthRE.MatchString(month) {
		u.render(w, http.StatusNotFound, "webstats-month", d)
		return
	}
	d.Available = true
	rep, err := u.deps.WebStats.Report(r.Context(), site, month)
	if err != nil {
		u.log.Error("web statistics report", "site", site, "month", month, "err", err)
		d.Err = "The report could not be read; see the loghost's log."
	}
	d.Report = rep
	if ms, err := u.deps.WebStats.Months(r.Context()); err == nil {
		d.Older, d.Newer = neighbours(ms, site, month)
	}
	if rep != nil {
		year, _ := strconv.Atoi(month[:4])
		if d.History, err = u.deps.WebStats.History(r.Context(), site, year); err != nil {
			u.log.Error("web statistics history", "site", site, "year", year, "err", err)
		}
	}
	status := http.StatusOK
	if rep == nil && err == nil {
		status = http.StatusNotFound
	}
	w.Header().Set("Content-Security-Policy", graphPagePolicy)
	u.render(w, status, "webstats-month", d)
}

// neighbours returns the months of site stored just before and after month.
func neighbours(ms []StatsMonth, site, month string) (older, newer string) {
	for _, m := range ms {
		switch {
		case m.Site != site:
		case m.Month < month && m.Month > older:
			older = m.Month
		case m.Month > month && (newer == "" || m.Month < newer):
			newer = m.Month
		}
	}
	return older, newer
}

// WebStatsAPI serves a site month's report as JSON (admin only):
// GET /api/v1/webstats, GET /api/v1/webstats/{site}/{month}.
type WebStatsAPI struct {
	Source WebStatsSource
}

// Register adds the routes, each behind wrap (the admin API check).
func (a *WebStatsAPI) Register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	mux.Handle("GET /api/v1/webstats", wrap(http.HandlerFunc(a.list)))
	mux.Handle("GET /api/v1/webstats/{site}/{month}", wrap(http.HandlerFunc(a.month)))
	mux.Handle("GET /api/v1/webstats/{site}", wrap(http.HandlerFunc(a.history)))
}

// history answers the totals of a site's months of ?year= (required).
func (a *WebStatsAPI) history(w http.ResponseWriter, r *http.Request) {
	year, err := strconv.Atoi(r.URL.Query().Get("year"))
	if err != nil || year < 1970 || year > 9999 {
		WriteError(w, http.StatusBadRequest, "year: want ?year=YYYY")
		return
	}
	h, err := a.Source.History(r.Context(), r.PathValue("site"), year)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "read web statistics")
		return
	}
	if h == nil {
		h = []StatsTotals{}
	}
	WriteJSON(w, http.StatusOK, h)
}

type statsMonthJSON struct {
	Site    string    `json:"site"`
	Month   string    `json:"month"`
	Updated time.Time `json:"updated"`
}

func (a *WebStatsAPI) list(w http.ResponseWriter, r *http.Request) {
	ms, err := a.Source.Months(r.Context())
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "read web statistics")
		return
	}
	out := make([]statsMonthJSON, len(ms))
	for i, m := range ms {
		out[i] = statsMonthJSON(m)
	}
	WriteJSON(w, http.StatusOK, out)
}

func (a *WebStatsAPI) month(w http.ResponseWriter, r *http.Request) {
	month := r.PathValue("month")
	if !monthRE.MatchString(month) {
		WriteError(w, http.StatusBadRequest, "month: want YYYY-MM")
		return
	}
	rep, err := a.Source.Report(r.Context(), r.PathValue("site"), month)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "read web statistics")
		return
	}
	if rep == nil {
		WriteError(w, http.StatusNotFound, "no statistics for this site and month")
		return
	}
	WriteJSON(w, http.StatusOK, rep)
}
