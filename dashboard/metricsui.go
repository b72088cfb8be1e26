package dashboard

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/watchpost/watchpost/munin"
)

// graphPagePolicy lets the graph pages run our own embedded scripts (the
// vendored dygraphs and graphs.js) and nothing else; dygraphs positions
// its canvases with inline styles.
const graphPagePolicy = "default-src 'self'; script-src 'self'; object-src 'none'; " +
	"style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// categoryGraphs is one category of a host's graphs, as munin groups them.
type categoryGraphs struct {
	Name   string
	Graphs []munin.Graph
}

func (u *UI) hosts(w http.ResponseWriter, r *http.Request) {
	d := u.signedIn(r, "Hosts · Watchpost admin")
	if u.deps.Enrolled != nil {
		d.Enrolled = u.deps.Enrolled()
	}
	if u.deps.Metrics == nil {
		u.render(w, http.StatusOK, "hosts", d)
		return
	}
	d.Available = true
	hs, err := u.deps.Metrics.Hosts(r.Context())
	if err != nil {
		u.log.Error("list metric hosts", "err", err)
		d.Err = "The metric store could not be read; see the loghost's log."
	}
	d.Hosts = hs
	u.render(w, http.StatusOK, "hosts", d)
}

// host shows a host's graphs of one category (all when none is chosen)
// at one range, munin's overview page.
func (u *UI) host(w http.ResponseWriter, r *http.Request) {
	host := r.PathValue("host")
	d := u.signedIn(r, host+" · Watchpost admin")
	d.Host = host
	d.Range = r.URL.Query().Get("range")
	if _, ok := graphRanges[d.Range]; !ok {
		d.Range = "day"
	}
	d.Category = r.URL.Query().Get("category")
	if u.deps.Metrics == nil {
		u.render(w, http.StatusOK, "host", d)
		return
	}
	d.Available = true
	gs, err := u.deps.Metrics.Graphs(r.Context(), host)
	if err != nil {
		u.log.Error("list graphs", "host", host, "err", err)
		d.Err = "The metric store could not be read; see the loghost's log."
	}
	byCat := map[string][]munin.Graph{}
	for _, g := range gs {
		c := cmp.Or(g.Category, "other")
		byCat[c] = append(byCat[c], g)
	}
	for c := range byCat {
		d.Categories = append(d.Categories, c)
	}
	slices.Sort(d.Categories)
	for _, c := range d.Categories {
		if d.Category != "" && c != d.Category {
			continue
		}
		d.Groups = append(d.Groups, categoryGraphs{Name: c, Graphs: byCat[c]})
	}
	w.Header().Set("Content-Security-Policy", graphPagePolicy)
	u.render(w, http.StatusOK, "host", d)
}

// graph shows one graph at day, week, month and year, munin's zoom page.
func (u *UI) graph(w http.ResponseWriter, r *http.Request) {
	d := u.signedIn(r, r.PathValue("graph")+" · "+r.PathValue("host")+" · Watchpost admin")
	d.Host, d.Graph = r.PathValue("host"), r.PathValue("graph")
	d.Available = u.deps.Metrics != nil
	w.Header().Set("Content-Security-Policy", graphPagePolicy)
	u.render(w, http.StatusOK, "graph", d)
}

// MetricsAPI serves the graph data the pages draw (admin only):
// GET /api/v1/metrics/hosts, /api/v1/metrics/hosts/{host}/graphs and
// /api/v1/metrics/hosts/{host}/graphs/{graph}?range=day|week|month|year
// (or from= and to= as Unix seconds or RFC 3339).
type MetricsAPI struct {
	Source MetricsSource
	Now    func() time.Time
}

// Register adds the routes, each behind wrap (the admin API check).
func (m *MetricsAPI) Register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	mux.Handle("GET /api/v1/metrics/hosts", wrap(http.HandlerFunc(m.hosts)))
	mux.Handle("GET /api/v1/metrics/hosts/{host}/graphs", wrap(http.HandlerFunc(m.graphs)))
	mux.Handle("GET /api/v1/metrics/hosts/{host}/graphs/{graph}", wrap(http.HandlerFunc(m.graph)))
}

func (m *MetricsAPI) hosts(w http.ResponseWriter, r *http.Request) {
	hs, err := m.Source.Hosts(r.Context())
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "read metric hosts")
		return
	}
	if hs == nil {
		hs = []MetricHost{}
	}
	WriteJSON(w, http.StatusOK, hs)
}

func (m *MetricsAPI) graphs(w http.ResponseWriter, r *http.Request) {
	gs, err := m.Source.Graphs(r.Context(), r.PathValue("host"))
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "read graphs")
		return
	}
	if gs == nil {
		gs = []munin.Graph{}
	}
	WriteJSON(w, http.StatusOK, gs)
}

// parseWhen reads Unix seconds or RFC 3339.
func parseWhen(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Parse(time.RFC3339, s)
}

func (m *MetricsAPI) graph(w http.ResponseWriter, r *http.Request) {
	host, name := r.PathValue("host"), r.PathValue("graph")
	q := r.URL.Query()
	now := m.Now()
	rng := q.Get("range")
	from, to := time.Time{}, now
	switch {
	case q.Get("from") != "":
		var err error
		if from, err = parseWhen(q.Get("from")); err != nil {
			WriteError(w, http.StatusBadRequest, "from: want Unix seconds or RFC 3339")
			return
		}
		if t := q.Get("to"); t != "" {
			if to, err = parseWhen(t); err != nil {
				WriteError(w, http.StatusBadRequest, "to: want Unix seconds or RFC 3339")
				return
			}
		}
		if !from.Before(to) {
			WriteError(w, http.StatusBadRequest, "from must be before to")
			return
		}
		rng = "custom"
	default:
		if rng == "" {
			rng = "day"
		}
		back, ok := graphRanges[rng]
		if !ok {
			WriteError(w, http.StatusBadRequest, "range: want day, week, month or year")
			return
		}
		from = now.Add(-back)
	}
	points := 800
	if p := q.Get("points"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 10 || n > 20000 {
			WriteError(w, http.StatusBadRequest, "points: want 10 to 20000")
			return
		}
		points = n
	}
	gs, err := m.Source.Graphs(r.Context(), host)
	if err != nil {
		WriteError(w, http.StatusInternalServerError, "read graphs")
		return
	}
	i := slices.IndexFunc(gs, func(g munin.Graph) bool { return g.Name == name })
	if i < 0 {
		WriteError(w, http.StatusNotFound, "no such graph on this host")
		return
	}
	fs, err := m.Source.Query(r.Context(), host, name, from, to, points)
	if err != nil && !errors.Is(err, errNoData) {
		WriteError(w, http.StatusInternalServerError, "read graph data")
		return
	}
	WriteJSON(w, http.StatusOK, buildGraph(gs[i], host, rng, from, to, fs))
}

// errNoData lets a source say "nothing stored" without it being a failure.
var errNoData = errors.New("no data")
