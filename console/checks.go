package console

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/uptime"
	"github.com/watchpost/watchpost/vantage"
)

// row is one check or heartbeat in the list.
type row struct {
	Check
	// State is up, degraded, down, unknown or paused.
	State  string        `json:"state"`
	Since  *time.Time    `json:"since"`
	Paused *uptime.Pause `json:"paused"`
	// Detail is why it last failed.
	Detail string `json:"detail,omitempty"`
	// Last is a check's last probe; LastPing a heartbeat's last ping.
	Last     *uptime.Result `json:"last"`
	LastPing *ping          `json:"last_ping,omitempty"`
	// Uptime over 1, 7 and 30 days; -1 when nothing was measured.
	Uptime   [3]float64 `json:"uptime"`
	Incident int64      `json:"open_incident,omitempty"`
}

// counts are the list's per-state numbers (the page title says them).
type counts struct {
	All      int `json:"all"`
	Up       int `json:"up"`
	Degraded int `json:"degraded"`
	Down     int `json:"down"`
	Unknown  int `json:"unknown"`
	Paused   int `json:"paused"`
}

func (n counts) String() string {
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{n.Down, "down"}, {n.Degraded, "degraded"}, {n.Paused, "paused"}, {n.Unknown, "unknown"}, {n.Up, "up"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		return "none configured"
	}
	return strings.Join(parts, ", ")
}

// rows reads every check's state, last result, pause and uptime in a few
// queries, whatever their number.
func (c *Console) rows(ctx context.Context) ([]row, counts, error) {
	now := c.d.Now()
	var n counts
	cat := c.d.Catalog()
	cur, err := c.d.Reader.AllCurrent(ctx)
	if err != nil {
		return nil, n, err
	}
	last, err := c.d.Reader.LastResults(ctx)
	if err != nil {
		return nil, n, err
	}
	pings, err := lastPings(ctx, c.d.ReadDB)
	if err != nil {
		return nil, n, err
	}
	ups, err := c.uptimes(ctx, now)
	if err != nil {
		return nil, n, err
	}
	open, err := alerting.ListIncidents(ctx, c.d.ReadDB, alerting.ListOptions{Open: true, Limit: 5000})
	if err != nil {
		return nil, n, err
	}
	openBy := map[string]int64{}
	for _, in := range open {
		if in.Check != "" && openBy[in.Check] == 0 {
			openBy[in.Check] = in.ID
		}
	}
	pauses := map[string]uptime.Pause{}
	if c.d.Tracker != nil {
		pauses = c.d.Tracker.Pauses(now)
	}
	out := make([]row, 0, len(cat.Checks))
	for _, ch := range cat.Checks {
		r := row{Check: ch, State: "unknown", Uptime: c.uptimeOf(ups, ch.Name), Incident: openBy[ch.Name]}
		if st, ok := cur[ch.Name]; ok {
			r.State, r.Detail = st.Status.String(), st.Detail
			since := st.Since.UTC()
			r.Since = &since
		}
		if res, ok := last[ch.Name]; ok {
			r.Last = &res
		}
		if p, ok := pings[ch.Name]; ok {
			r.LastPing = &p
		}
		if p, ok := pauses[ch.Name]; ok {
			r.Paused, r.State = &p, "paused"
		}
		n.All++
		switch r.State {
		case "up":
			n.Up++
		case "degraded":
			n.Degraded++
		case "down":
			n.Down++
		case "paused":
			n.Paused++
		default:
			n.Unknown++
		}
		out = append(out, r)
	}
	return out, n, nil
}

// uptimes are every check's 1, 7 and 30-day uptime, from three sums.
func (c *Console) uptimes(ctx context.Context, now time.Time) (map[string][3]float64, error) {
	out := map[string][3]float64{}
	for i, days := range []int{1, 7, 30} {
		first := now.In(c.d.Location).AddDate(0, 0, -(days - 1)).Format("2006-01-02")
		rows, err := c.d.ReadDB.QueryContext(ctx, `SELECT check_name, sum(up_ms), sum(degraded_ms), sum(down_ms) FROM uptime_daily
			WHERE day >= ? GROUP BY check_name`, first)
		if err != nil {
			return nil, fmt.Errorf("uptime: %w", err)
		}
		for rows.Next() {
			var name string
			var d uptime.Day
			if err := rows.Scan(&name, &d.Up, &d.Degraded, &d.Down); err != nil {
				rows.Close()
				return nil, fmt.Errorf("uptime: %w", err)
			}
			v, ok := out[name]
			if !ok {
				v = [3]float64{-1, -1, -1}
			}
			if r, ok := d.Ratio(); ok {
				v[i] = r
			}
			out[name] = v
		}
		rows.Close()
	}
	return out, nil
}

func (c *Console) uptimeOf(ups map[string][3]float64, name string) [3]float64 {
	if v, ok := ups[name]; ok {
		return v
	}
	return [3]float64{-1, -1, -1}
}

// lastPings is each heartbeat's newest ping.
func lastPings(ctx context.Context, db *sql.DB) (map[string]ping, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, time, kind, exit_code, duration_ms, run_id, remote, body FROM heartbeat_pings p
		WHERE time = (SELECT max(time) FROM heartbeat_pings q WHERE q.name = p.name)`)
	if err != nil {
		return nil, fmt.Errorf("last pings: %w", err)
	}
	defer rows.Close()
	out := map[string]ping{}
	for rows.Next() {
		var name string
		p, err := scanPing(rows, &name)
		if err != nil {
			return nil, err
		}
		out[name] = p
	}
	return out, rows.Err()
}

func scanPing(sc interface{ Scan(...any) error }, name *string) (ping, error) {
	var p ping
	var t int64
	var code, dur sql.NullInt64
	if err := sc.Scan(name, &t, &p.Kind, &code, &dur, &p.RunID, &p.Remote, &p.Body); err != nil {
		return p, fmt.Errorf("pings: %w", err)
	}
	p.Time = time.Unix(0, t)
	if code.Valid {
		v := code.Int64
		p.ExitCode = &v
	}
	if dur.Valid {
		v := float64(dur.Int64)
		p.Duration = &v
	}
	return p, nil
}

// pingLog is a heartbeat's pings since a time, newest first.
func pingLog(ctx context.Context, db *sql.DB, name string, since time.Time, limit int) ([]ping, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, time, kind, exit_code, duration_ms, run_id, remote, body FROM heartbeat_pings
		WHERE name = ? AND time >= ? ORDER BY time DESC, id DESC LIMIT ?`, name, since.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("pings: %w", err)
	}
	defer rows.Close()
	out := []ping{}
	for rows.Next() {
		var n string
		p, err := scanPing(rows, &n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// group is a titled part of the list.
type group struct {
	Name string
	Rows []row
}

func groupRows(rows []row, filter string) []group {
	var gs []group
	idx := map[string]int{}
	for _, r := range rows {
		if filter != "" && filter != "all" && r.State != filter {
			continue
		}
		i, ok := idx[r.Group]
		if !ok {
			i = len(gs)
			idx[r.Group] = i
			gs = append(gs, group{Name: r.Group})
		}
		gs[i].Rows = append(gs[i].Rows, r)
	}
	return gs
}

var filters = []string{"all", "down", "degraded", "paused", "unknown", "up"}

type checksData struct {
	page
	Counts  counts
	Filter  string
	Filters []string
	Groups  []group
	// Durations offered for pausing and silencing.
	Durations []string
}

var durations = []string{"30m", "1h", "2h", "4h", "12h", "1d", "1w"}

func (c *Console) checksPage(w http.ResponseWriter, r *http.Request) {
	rows, n, err := c.rows(r.Context())
	d := checksData{Counts: n, Filter: r.URL.Query().Get("state"), Filters: filters, Durations: durations}
	if !slices.Contains(filters, d.Filter) {
		d.Filter = "all"
	}
	d.page = c.page(r, "Checks: "+n.String())
	if err != nil {
		c.d.Logger.Error("checks page", "err", err)
		d.Err = "The checks could not be read; see the loghost's log."
	}
	d.Groups = groupRows(rows, d.Filter)
	c.render(w, http.StatusOK, "checks", d)
}

func (c *Console) checksAPI(w http.ResponseWriter, r *http.Request) {
	rows, n, err := c.rows(r.Context())
	if err != nil {
		c.d.Logger.Error("checks api", "err", err)
		dashboard.WriteError(w, http.StatusInternalServerError, "checks unavailable")
		return
	}
	if f := r.URL.Query().Get("state"); f != "" && f != "all" {
		if !slices.Contains(filters, f) {
			dashboard.WriteError(w, http.StatusBadRequest, "state: want all, down, degraded, paused, unknown or up")
			return
		}
		kept := rows[:0]
		for _, x := range rows {
			if x.State == f {
				kept = append(kept, x)
			}
		}
		rows = kept
	}
	dashboard.WriteJSON(w, http.StatusOK, map[string]any{"counts": n, "checks": rows})
}

// detail is one check's or heartbeat's page and API answer.
type detail struct {
	Row       row               `json:"check"`
	Uptime90  float64           `json:"uptime_90d"`
	Chart     *chartData        `json:"-"`
	Samples   []uptime.Sample   `json:"-"`
	Pings     []ping            `json:"pings,omitempty"`
	PingChart *pingData         `json:"-"`
	Failures  []uptime.Result   `json:"failures"`
	Incidents []uptime.Incident `json:"-"`
	// IncidentList is Incidents for the API.
	IncidentList []map[string]any `json:"incidents"`
	// Seen is the check from each vantage, when several probe it.
	Seen *vantage.CheckView `json:"vantages,omitempty"`
}

func (c *Console) detail(ctx context.Context, name string) (detail, bool, error) {
	var d detail
	rows, _, err := c.rows(ctx)
	if err != nil {
		return d, false, err
	}
	i := slices.IndexFunc(rows, func(r row) bool { return r.Name == name })
	if i < 0 {
		return d, false, nil
	}
	d.Row = rows[i]
	now := c.d.Now()
	days, err := c.d.Reader.Days(ctx, name, 90, now)
	if err != nil {
		return d, false, err
	}
	d.Uptime90 = -1
	if r, ok := uptime.Ratio(days); ok {
		d.Uptime90 = r
	}
	from := now.Add(-24 * time.Hour)
	if d.Row.Kind == "heartbeat" {
		if d.Pings, err = pingLog(ctx, c.d.ReadDB, name, now.Add(-30*24*time.Hour), 100); err != nil {
			return d, false, err
		}
		span := 14 * 24 * time.Hour
		if d.Row.Interval > 0 {
			span = max(min(20*d.Row.Interval, 60*24*time.Hour), 6*time.Hour)
		}
		d.PingChart = &pingData{Pings: d.Pings, From: now.Add(-span), To: now, Loc: c.d.Location}
	} else {
		if d.Samples, err = c.d.Reader.Samples(ctx, name, from); err != nil {
			return d, false, err
		}
		gap := 3 * d.Row.Interval
		if gap <= 0 {
			gap = 3 * time.Minute
		}
		d.Chart = &chartData{Samples: d.Samples, From: from, To: now, Gap: gap, Loc: c.d.Location}
	}
	if c.d.Vantages != nil && d.Row.Kind == "check" {
		if v := c.d.Vantages.Check(name); v.Multi {
			d.Seen = &v
		}
	}
	if d.Failures, err = c.d.Reader.Failures(ctx, name, now.Add(-8*24*time.Hour), now.Add(time.Second), 20); err != nil {
		return d, false, err
	}
	if d.Incidents, err = c.d.Reader.CheckIncidents(ctx, name, 20); err != nil {
		return d, false, err
	}
	d.IncidentList = []map[string]any{}
	for _, in := range d.Incidents {
		m := map[string]any{"id": in.ID, "title": in.Title, "started": in.Started.UTC(), "resolved": nil}
		if !in.Resolved.IsZero() {
			m["resolved"] = in.Resolved.UTC()
		}
		d.IncidentList = append(d.IncidentList, m)
	}
	return d, true, nil
}

type checkData struct {
	page
	detail
	Durations []string
	CanRun    bool
}

func (c *Console) checkPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	d, ok, err := c.detail(r.Context(), name)
	if err != nil {
		c.d.Logger.Error("check page", "check", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if !ok {
		c.render(w, http.StatusNotFound, "check", checkData{page: c.page(r, "No such check")})
		return
	}
	cd := checkData{page: c.page(r, name), detail: d, Durations: durations,
		CanRun: d.Row.Kind == "check" && c.d.Runner != nil && d.Row.Paused == nil}
	c.render(w, http.StatusOK, "check", cd)
}

func (c *Console) checkAPI(w http.ResponseWriter, r *http.Request) {
	d, ok, err := c.detail(r.Context(), r.PathValue("name"))
	if err != nil {
		dashboard.WriteError(w, http.StatusInternalServerError, "check unavailable")
		return
	}
	if !ok {
		dashboard.WriteError(w, http.StatusNotFound, "no such check or heartbeat")
		return
	}
	if d.Row.Kind == "check" {
		type sample struct {
			Time     time.Time `json:"time"`
			OK       bool      `json:"ok"`
			Degraded bool      `json:"degraded"`
			MS       float64   `json:"ms"`
		}
		ss := make([]sample, len(d.Samples))
		for i, s := range d.Samples {
			ss[i] = sample{s.Time.UTC(), s.OK, s.Degraded, float64(s.Duration.Microseconds()) / 1000}
		}
		dashboard.WriteJSON(w, http.StatusOK, map[string]any{"detail": d, "samples": ss})
		return
	}
	dashboard.WriteJSON(w, http.StatusOK, map[string]any{"detail": d})
}

// errAction is an action that cannot be done as asked (a 4xx).
type errAction struct {
	code int
	msg  string
}

func (e *errAction) Error() string { return e.msg }

// act runs run, pause, resume or silence on a check or heartbeat.
func (c *Console) act(ctx context.Context, name, action, by, forStr, comment string) (string, error) {
	ch, ok := c.d.Catalog().find(name)
	if !ok {
		return "", &errAction{http.StatusNotFound, "no such check or heartbeat"}
	}
	now := c.d.Now()
	var dur time.Duration
	if forStr != "" {
		d, err := config.ParseDuration(forStr)
		if err != nil || d <= 0 || d > 400*24*time.Hour {
			return "", &errAction{http.StatusBadRequest, "duration: want e.g. 30m, 2h or 1d"}
		}
		dur = d
	}
	switch action {
	case "run":
		if ch.Kind != "check" || c.d.Runner == nil {
			return "", &errAction{http.StatusConflict, "only a check runs on request; a heartbeat waits for its ping"}
		}
		if _, paused := c.d.Tracker.Paused(name, now); paused {
			return "", &errAction{http.StatusConflict, "the check is paused: resume it first"}
		}
		if !c.d.Runner.RunNow(name) {
			return "", &errAction{http.StatusConflict, "the check is not running here (reload pending?)"}
		}
		return "Probe started; its result shows in a moment.", nil
	case "pause":
		var until time.Time
		if dur > 0 {
			until = now.Add(dur)
		}
		var err error
		if ch.Kind == "heartbeat" && c.d.Beats != nil {
			_, err = c.d.Beats.Pause(ctx, name, by, until)
		} else {
			_, err = c.d.Tracker.Pause(ctx, name, by, now, until)
		}
		if errors.Is(err, uptime.ErrPaused) {
			return "", &errAction{http.StatusConflict, "already paused"}
		}
		if err != nil {
			return "", err
		}
		c.d.Changed()
		if dur > 0 {
			return "Paused for " + fmtDuration(dur) + ".", nil
		}
		return "Paused until resumed.", nil
	case "resume":
		var err error
		if ch.Kind == "heartbeat" && c.d.Beats != nil {
			err = c.d.Beats.Resume(ctx, name, by)
		} else {
			err = c.d.Tracker.Resume(ctx, name, now)
		}
		if errors.Is(err, uptime.ErrPaused) {
			return "", &errAction{http.StatusConflict, "not paused"}
		}
		if err != nil {
			return "", err
		}
		c.d.Changed()
		return "Resumed.", nil
	case "silence":
		if dur == 0 {
			dur = time.Hour
		}
		m, _ := alerting.NewMatcher("check", "=", name)
		if comment == "" {
			comment = "silenced from the console"
		}
		s, err := alerting.CreateSilence(ctx, c.d.DB, alerting.Silence{Matchers: []alerting.Matcher{m}, Ends: now.Add(dur), Author: by, Comment: comment}, now)
		if errors.Is(err, alerting.ErrSilence) {
			return "", &errAction{http.StatusBadRequest, err.Error()}
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Silenced for %s (silence #%d).", fmtDuration(dur), s.ID), nil
	}
	return "", &errAction{http.StatusNotFound, "no such action: want run, pause, resume or silence"}
}

func (c *Console) checkAction(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	name := r.PathValue("name")
	note, err := c.act(r.Context(), name, r.PathValue("action"), who(r), r.PostFormValue("for"), r.PostFormValue("comment"))
	var ea *errAction
	switch {
	case errors.As(err, &ea):
		note = ea.msg
	case err != nil:
		c.d.Logger.Error("check action", "check", name, "action", r.PathValue("action"), "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	to := "/admin/checks/" + pathEscape(name)
	if r.PostFormValue("back") == "list" {
		to = "/admin/checks"
	}
	back(w, r, to, note)
}

func (c *Console) checkActionAPI(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Duration string `json:"duration"`
		Comment  string `json:"comment"`
	}
	if !readJSON(w, r, &body) {
		return
	}
	name := r.PathValue("name")
	note, err := c.act(r.Context(), name, r.PathValue("action"), who(r), body.Duration, body.Comment)
	var ea *errAction
	switch {
	case errors.As(err, &ea):
		dashboard.WriteError(w, ea.code, ea.msg)
	case err != nil:
		c.d.Logger.Error("check action", "check", name, "err", err)
		dashboard.WriteError(w, http.StatusInternalServerError, "the action failed")
	default:
		dashboard.WriteJSON(w, http.StatusOK, map[string]string{"check": name, "action": r.PathValue("action"), "result": note})
	}
}
