package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/munin"
	"github.com/watchpost/watchpost/uptime"
)

// event is one line of an incident's timeline.
type event struct {
	Time   time.Time `json:"time"`
	What   string    `json:"what"`
	Detail string    `json:"detail,omitempty"`
}

// incidentView is an incident with everything its page shows.
type incidentView struct {
	Incident      alerting.IncidentInfo           `json:"incident"`
	Updates       []uptime.Update                 `json:"-"`
	Timeline      []event                         `json:"timeline"`
	Notifications []alerting.IncidentNotification `json:"notifications"`
	// Context: the host's log lines around the start, its metric graphs
	// for the hour around it, the check's results then.
	Host     string `json:"host,omitempty"`
	LogQuery string `json:"log_query,omitempty"`
	// LogSince and LogUntil bound the log lines shown (RFC 3339), so the
	// search link opens the logs page on the same minutes.
	LogSince, LogUntil string             `json:"-"`
	Logs               []dashboard.LogRow `json:"-"`
	LogsErr            string             `json:"-"`
	Matches            []string           `json:"rule_matches,omitempty"`
	Graphs             []munin.Graph      `json:"-"`
	From, To           int64              `json:"-"`
	Chart              *chartData         `json:"-"`
	PingChart          *pingData          `json:"-"`
	Failures           []uptime.Result    `json:"check_results,omitempty"`
}

var hostRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func (c *Console) incidentView(ctx context.Context, id int64) (incidentView, bool, error) {
	var v incidentView
	in, ok, err := alerting.GetIncident(ctx, c.d.ReadDB, id, c.listOptions())
	if err != nil || !ok {
		return v, ok, err
	}
	v.Incident = in
	if u, ok, err := c.d.Reader.Incident(ctx, id); err != nil {
		return v, false, err
	} else if ok {
		v.Updates = u.Updates
	}
	if v.Notifications, err = alerting.Notifications(ctx, c.d.ReadDB, id); err != nil {
		return v, false, err
	}
	v.Timeline = timeline(in, v.Updates, v.Notifications)
	start := in.Started
	from, to := start.Add(-30*time.Minute), start.Add(30*time.Minute)
	v.From, v.To = from.Unix(), to.Unix()
	host := in.Labels["host"]
	if host == "" && in.Check != "" {
		if ch, ok := c.d.Catalog().find(in.Check); ok {
			host = ch.Labels["host"]
		}
	}
	if hostRE.MatchString(host) {
		v.Host = host
		if c.d.Logs != nil {
			v.LogQuery = "host=" + host + " severity=..warning"
			from, to := start.Add(-10*time.Minute), start.Add(5*time.Minute)
			v.LogSince, v.LogUntil = from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339)
			rows, err := c.d.Logs(ctx, v.LogQuery, from, to, 60)
			if err != nil {
				v.LogsErr = err.Error()
			}
			v.Logs = rows
		}
		if c.d.Metrics != nil {
			gs, err := c.d.Metrics.Graphs(ctx, host)
			if err == nil {
				sort.SliceStable(gs, func(i, j int) bool { return graphRank(gs[i]) < graphRank(gs[j]) })
				if len(gs) > 6 {
					gs = gs[:6]
				}
				v.Graphs = gs
			}
		}
	}
	// A rule's own matches: the lines its alerts carried.
	for _, n := range v.Notifications {
		if n.Kind != "rule_alert" {
			continue
		}
		var p struct{ Line string }
		var raw string
		if err := c.d.ReadDB.QueryRowContext(ctx, `SELECT payload FROM outbox WHERE id = ?`, n.ID).Scan(&raw); err == nil {
			json.Unmarshal([]byte(raw), &p)
			if p.Line != "" && len(v.Matches) < 20 {
				v.Matches = append(v.Matches, p.Line)
			}
		}
	}
	if in.Check != "" {
		if ch, ok := c.d.Catalog().find(in.Check); ok && ch.Kind == "heartbeat" {
			ps, err := pingLog(ctx, c.d.ReadDB, in.Check, start.Add(-7*24*time.Hour), 50)
			if err != nil {
				return v, false, err
			}
			kept := ps[:0]
			for _, p := range ps {
				if p.Time.Before(start.Add(time.Hour)) {
					kept = append(kept, p)
				}
			}
			v.PingChart = &pingData{Pings: kept, From: start.Add(-3 * 24 * time.Hour), To: start.Add(time.Hour), Loc: c.d.Location}
		} else {
			ss, err := c.d.Reader.Samples(ctx, in.Check, start.Add(-time.Hour))
			if err != nil {
				return v, false, err
			}
			end := start.Add(time.Hour)
			kept := ss[:0]
			for _, s := range ss {
				if s.Time.Before(end) {
					kept = append(kept, s)
				}
			}
			gap := 3 * ch.Interval
			if gap <= 0 {
				gap = 3 * time.Minute
			}
			v.Chart = &chartData{Samples: kept, From: start.Add(-time.Hour), To: end, Gap: gap, Loc: c.d.Location}
		}
		if v.Failures, err = c.d.Reader.Failures(ctx, in.Check, start.Add(-time.Hour), start.Add(time.Hour), 20); err != nil {
			return v, false, err
		}
	}
	return v, true, nil
}

// graphRank puts the graphs an on-call engineer looks at first first.
func graphRank(g munin.Graph) int {
	for i, n := range []string{"load", "cpu", "memory", "df", "diskstats_latency", "if_"} {
		if strings.HasPrefix(g.Name, n) {
			return i
		}
	}
	return 100
}

var notificationWords = map[string]string{
	"check_down": "Down notice", "check_up": "Recovery notice", "check_degraded": "Degraded notice",
	"reminder": "Reminder", "escalation": "Escalation", "flap_start": "Flapping notice", "flap_stop": "Flapping over",
	"rule_alert": "Rule alert", "metric_threshold": "Metric threshold", "host_silent": "Host silent", "host_back": "Host back",
	"incident": "Incident notice", "loghost_disk": "Loghost disk", "status_notice": "Status page subscribers",
}

func timeline(in alerting.IncidentInfo, ups []uptime.Update, ns []alerting.IncidentNotification) []event {
	var ev []event
	opened := "Opened"
	switch in.Source {
	case "check", "heartbeat":
		opened = in.Check + " went down"
	case alerting.SourceManual:
		opened = "Opened by hand"
	}
	ev = append(ev, event{Time: in.Started, What: opened, Detail: in.Title})
	for _, u := range ups {
		ev = append(ev, event{Time: u.Time, What: "Public update: " + u.Status, Detail: u.Message})
	}
	for _, n := range ns {
		what := notificationWords[n.Kind]
		if what == "" {
			what = n.Kind
		}
		if n.Event != "" {
			what += " (" + n.Event + ")"
		}
		var parts []string
		if n.Note != "" {
			parts = append(parts, n.Note)
		}
		for _, d := range n.Deliveries {
			s := d.Receiver + ": " + strings.ReplaceAll(d.State, "_", " ")
			switch {
			case d.State == "muted":
				s += " (" + d.Why + ")"
			case d.LastError != "":
				s += " (" + d.LastError + ")"
			}
			parts = append(parts, s)
		}
		if n.Subscribers != nil {
			parts = append(parts, fmt.Sprintf("%d sent, %d waiting, %d retrying, %d given up", n.Subscribers.Sent, n.Subscribers.Waiting,
				n.Subscribers.Retrying, n.Subscribers.GivenUp))
		}
		if n.Pending {
			parts = append(parts, "not routed yet")
		}
		ev = append(ev, event{Time: n.Created, What: what, Detail: strings.Join(parts, "; ")})
	}
	if in.Fired > 1 {
		ev = append(ev, event{Time: in.LastFired, What: fmt.Sprintf("Fired %d times", in.Fired), Detail: "the last time"})
	}
	if !in.Acked.IsZero() {
		ev = append(ev, event{Time: in.Acked, What: "Acknowledged by " + in.AckedBy})
	}
	if !in.Resolved.IsZero() {
		w := "Resolved"
		if in.ResolvedBy != "" {
			w += " by " + in.ResolvedBy
		}
		ev = append(ev, event{Time: in.Resolved, What: w})
	}
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].Time.Before(ev[j].Time) })
	return ev
}

type incidentData struct {
	page
	incidentView
	Statuses   []string
	CanResolve bool
	Silence    string // the silences page, filled in from this incident
}

var statuses = []string{"investigating", "identified", "monitoring", "resolved"}

func incidentIDOf(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func (c *Console) incidentPage(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentIDOf(r)
	if !ok {
		http.Error(w, "incident id: want a number", http.StatusBadRequest)
		return
	}
	v, ok, err := c.incidentView(r.Context(), id)
	if err != nil {
		c.d.Logger.Error("incident page", "id", id, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if !ok {
		c.render(w, http.StatusNotFound, "incident", incidentData{page: c.page(r, "No such incident")})
		return
	}
	d := incidentData{page: c.page(r, fmt.Sprintf("Incident #%d", id)), incidentView: v, Statuses: statuses,
		CanResolve: v.Incident.State != "resolved" && v.Incident.Source != "check" && v.Incident.Source != "heartbeat",
		Silence:    "/admin/silences?incident=" + strconv.FormatInt(id, 10)}
	c.render(w, http.StatusOK, "incident", d)
}

func (c *Console) incidentAPI(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentIDOf(r)
	if !ok {
		dashboard.WriteError(w, http.StatusBadRequest, "incident id: want a number")
		return
	}
	v, ok, err := c.incidentView(r.Context(), id)
	if err != nil {
		dashboard.WriteError(w, http.StatusInternalServerError, "incident unavailable")
		return
	}
	if !ok {
		dashboard.WriteError(w, http.StatusNotFound, "no such incident")
		return
	}
	dashboard.WriteJSON(w, http.StatusOK, v)
}

// incidentUpdateForm is the incident page's forms: op=update (a public
// update), ack, resolve.
func (c *Console) incidentUpdateForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	id, ok := incidentIDOf(r)
	if !ok {
		http.Error(w, "incident id: want a number", http.StatusBadRequest)
		return
	}
	ctx, now, by := r.Context(), c.d.Now(), who(r)
	to := fmt.Sprintf("/admin/incidents/%d", id)
	var note string
	var err error
	switch r.PostFormValue("op") {
	case "update":
		status, msg := r.PostFormValue("status"), strings.TrimSpace(r.PostFormValue("message"))
		switch {
		case !slices.Contains(statuses, status):
			note = "Choose a status."
		case msg == "" || len(msg) > 5000:
			note = "Write a message (at most 5000 characters)."
		default:
			note, err = c.postUpdate(ctx, id, status, msg, now)
		}
	case "ack":
		ok, err = alerting.Ack(ctx, c.d.DB, id, by, now)
		note = "Acknowledged."
		if err == nil && !ok {
			note = "It was not open, or already acknowledged."
		}
	case "resolve":
		ok, err = alerting.ResolveByHand(ctx, c.d.DB, id, by, now)
		note = "Resolved."
		if errors.Is(err, alerting.ErrCheckIncident) {
			note, err = "A check's or heartbeat's incident resolves when it recovers.", nil
		} else if err == nil && !ok {
			note = "It was no longer open."
		}
		c.d.Changed()
	default:
		note = "Unknown action."
	}
	if err != nil {
		c.d.Logger.Error("incident action", "id", id, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	back(w, r, to, note)
}

// postUpdate posts a public update; "resolved" ends an incident other
// than a check's (whose own recovery ends it).
func (c *Console) postUpdate(ctx context.Context, id int64, status, msg string, now time.Time) (string, error) {
	in, ok, err := alerting.GetIncident(ctx, c.d.ReadDB, id, c.listOptions())
	if err != nil || !ok {
		return "No such incident.", err
	}
	if status == "resolved" && in.Source != "check" && in.Source != "heartbeat" && in.Source != alerting.SourceManual {
		return "Resolve this incident with the Resolve button: its receivers are told then.", nil
	}
	if _, err := c.d.Tracker.AddUpdate(ctx, id, status, msg, now); err != nil {
		return "", err
	}
	c.d.Changed()
	if !in.Public {
		return "Update posted (this incident is not public: the status page does not show it).", nil
	}
	return "Update posted to the status page.", nil
}

// manual is the body of POST /api/v1/incidents (DESIGN.md §4).
type manual struct {
	Title      string   `json:"title"`
	Components []string `json:"components"`
	Status     string   `json:"status"`
	Message    string   `json:"message"`
}

// createManual opens an incident by hand: public, on the status page
// and in its feed, told to the components' subscribers.
func (c *Console) createManual(ctx context.Context, m manual, now time.Time) (int64, error) {
	m.Title, m.Message = strings.TrimSpace(m.Title), strings.TrimSpace(m.Message)
	if m.Title == "" || len(m.Title) > 200 {
		return 0, &errAction{http.StatusBadRequest, "title: 1 to 200 characters"}
	}
	if m.Status == "" {
		m.Status = "investigating"
	}
	if !slices.Contains(statuses[:3], m.Status) {
		return 0, &errAction{http.StatusBadRequest, "status: want investigating, identified or monitoring"}
	}
	if m.Message == "" || len(m.Message) > 5000 {
		return 0, &errAction{http.StatusBadRequest, "message: 1 to 5000 characters"}
	}
	public := c.publicNames()
	for _, comp := range m.Components {
		if !public[comp] {
			return 0, &errAction{http.StatusBadRequest, fmt.Sprintf("components: %q is not a public check or heartbeat", comp)}
		}
	}
	comps := slices.Clone(m.Components)
	slices.Sort(comps)
	comps = slices.Compact(comps)
	if comps == nil {
		comps = []string{}
	}
	cj, _ := json.Marshal(comps)
	var rb [6]byte
	rand.Read(rb[:])
	key := strconv.FormatInt(now.UnixNano(), 36) + "-" + hex.EncodeToString(rb[:])
	tx, err := c.d.DB.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("open incident: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO incidents(check_name, title, public, started, source, incident_key, labels, components)
		VALUES(?,?,1,?,?,?,'{}',?)`, alerting.SourceManual+":"+key, m.Title, now.UnixNano(), alerting.SourceManual, key, string(cj))
	if err != nil {
		return 0, fmt.Errorf("open incident: %w", err)
	}
	id, _ := res.LastInsertId()
	if _, err := tx.ExecContext(ctx, `INSERT INTO incident_updates(incident_id, time, status, message) VALUES(?,?,?,?)`,
		id, now.UnixNano(), m.Status, m.Message); err != nil {
		return 0, fmt.Errorf("open incident: %w", err)
	}
	if err := uptime.StatusNotice(ctx, tx, now, id, "opened"); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("open incident: %w", err)
	}
	c.d.Changed()
	return id, nil
}

func (c *Console) createIncidentAPI(w http.ResponseWriter, r *http.Request) {
	var m manual
	if !readJSON(w, r, &m) {
		return
	}
	id, err := c.createManual(r.Context(), m, c.d.Now())
	var ea *errAction
	switch {
	case errors.As(err, &ea):
		dashboard.WriteError(w, ea.code, ea.msg)
		return
	case err != nil:
		c.d.Logger.Error("open incident", "err", err)
		dashboard.WriteError(w, http.StatusInternalServerError, "could not open the incident")
		return
	}
	in, _, _ := alerting.GetIncident(r.Context(), c.d.ReadDB, id, c.listOptions())
	dashboard.WriteJSON(w, http.StatusCreated, in)
}

type newIncidentData struct {
	page
	Components []string
	Statuses   []string
	Form       manual
}

func (c *Console) newIncidentPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, http.StatusOK, "newincident", newIncidentData{page: c.page(r, "New incident"), Components: c.publicList(), Statuses: statuses[:3]})
}

func (c *Console) publicList() []string {
	var out []string
	for _, ch := range c.d.Catalog().Checks {
		if ch.Public {
			out = append(out, ch.Name)
		}
	}
	return out
}

func (c *Console) newIncidentForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	m := manual{Title: r.PostFormValue("title"), Components: r.PostForm["component"], Status: r.PostFormValue("status"), Message: r.PostFormValue("message")}
	id, err := c.createManual(r.Context(), m, c.d.Now())
	var ea *errAction
	switch {
	case errors.As(err, &ea):
		d := newIncidentData{page: c.page(r, "New incident"), Components: c.publicList(), Statuses: statuses[:3], Form: m}
		d.Err = ea.msg
		c.render(w, http.StatusBadRequest, "newincident", d)
		return
	case err != nil:
		c.d.Logger.Error("open incident", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	back(w, r, fmt.Sprintf("/admin/incidents/%d", id), "Incident opened and shown on the status page.")
}
