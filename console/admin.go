package console

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/maintenance"
	"github.com/watchpost/watchpost/subscribe"
)

// --- silences ---

type silencesData struct {
	page
	Active, Other []alerting.Silence
	Durations     []string
	// Matchers pre-fills the form (from an incident's labels).
	Matchers string
	Comment  string
}

// volatile labels change from one firing to the next: a silence made
// from an incident leaves them out, so it matches the next one too.
var volatile = []string{"severity", "resolve_after"}

func (c *Console) silencesPage(w http.ResponseWriter, r *http.Request) {
	now := c.d.Now()
	d := silencesData{page: c.page(r, "Silences"), Durations: durations}
	all, err := alerting.ListSilences(r.Context(), c.d.ReadDB, now, true)
	if err != nil {
		c.d.Logger.Error("silences page", "err", err)
		d.Err = "The silences could not be read; see the loghost's log."
	}
	for _, s := range all {
		if s.Active {
			d.Active = append(d.Active, s)
		} else {
			d.Other = append(d.Other, s)
		}
	}
	if v := r.URL.Query().Get("incident"); v != "" {
		id, _ := strconv.ParseInt(v, 10, 64)
		in, ok, err := alerting.GetIncident(r.Context(), c.d.ReadDB, id, c.listOptions())
		if err == nil && ok {
			var lines []string
			for k, v := range in.Labels {
				if !slices.Contains(volatile, k) {
					lines = append(lines, k+"="+v)
				}
			}
			if in.Source != "" {
				lines = append(lines, "source="+in.Source)
			}
			slices.Sort(lines)
			d.Matchers = strings.Join(lines, "\n")
			d.Comment = fmt.Sprintf("Similar to incident #%d (%s)", in.ID, in.Title)
		}
	}
	c.render(w, http.StatusOK, "silences", d)
}

func (c *Console) silenceCreate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	now := c.d.Now()
	var s alerting.Silence
	for _, line := range strings.Split(r.PostFormValue("matchers"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		m, err := alerting.ParseMatcher(line)
		if err != nil {
			back(w, r, "/admin/silences", "Not created: "+err.Error())
			return
		}
		s.Matchers = append(s.Matchers, m)
	}
	dur, err := config.ParseDuration(r.PostFormValue("for"))
	if err != nil || dur <= 0 {
		back(w, r, "/admin/silences", "Not created: choose how long (e.g. 2h).")
		return
	}
	s.Ends, s.Author, s.Comment = now.Add(dur), who(r), r.PostFormValue("comment")
	s, err = alerting.CreateSilence(r.Context(), c.d.DB, s, now)
	switch {
	case errors.Is(err, alerting.ErrSilence):
		back(w, r, "/admin/silences", "Not created: "+err.Error())
	case err != nil:
		c.d.Logger.Error("create silence", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	default:
		back(w, r, "/admin/silences", fmt.Sprintf("Silence #%d runs until %s.", s.ID, c.when(s.Ends)))
	}
}

func (c *Console) silenceExpire(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentIDOf(r)
	if !ok {
		http.Error(w, "silence id: want a number", http.StatusBadRequest)
		return
	}
	done, err := alerting.ExpireSilence(r.Context(), c.d.DB, id, c.d.Now())
	if err != nil {
		c.d.Logger.Error("expire silence", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	note := fmt.Sprintf("Silence #%d expired.", id)
	if !done {
		note = fmt.Sprintf("Silence #%d was not running.", id)
	}
	back(w, r, "/admin/silences", note)
}

// --- maintenance ---

type maintenanceData struct {
	page
	Windows []windowView
	Checks  []string
	Zone    string
}

type windowView struct {
	maintenance.Window
	Next    *maintenance.Occurrence
	Running bool
	Public  bool
	Comps   []string
}

func (c *Console) windows() []windowView {
	now := c.d.Now()
	cat := c.d.Maintenance.Catalog()
	var out []windowView
	for _, w := range c.d.Maintenance.All() {
		v := windowView{Window: w, Public: w.Public(cat), Comps: w.Components(cat)}
		if o, ok := w.Next(now); ok {
			v.Next, v.Running = &o, !now.Before(o.Start)
		}
		out = append(out, v)
	}
	return out
}

func (c *Console) maintenancePage(w http.ResponseWriter, r *http.Request) {
	d := maintenanceData{page: c.page(r, "Maintenance"), Windows: c.windows(), Zone: c.d.Location.String()}
	for _, ch := range c.d.Catalog().Checks {
		d.Checks = append(d.Checks, ch.Name)
	}
	c.render(w, http.StatusOK, "maintenance", d)
}

// windowInput is a window as the API and the form give it.
type windowInput struct {
	Name        string            `json:"name"`
	Start       string            `json:"start"` // RFC 3339, or "2006-01-02 15:04" in the configured zone
	End         string            `json:"end"`
	Schedule    string            `json:"schedule"`
	Duration    string            `json:"duration"`
	Checks      []string          `json:"checks"`
	Labels      map[string]string `json:"labels"`
	Hosts       []string          `json:"hosts"`
	Description string            `json:"description"`
}

func (c *Console) createWindow(r *http.Request, in windowInput) (maintenance.Window, error) {
	w := maintenance.Window{Name: in.Name, Schedule: strings.TrimSpace(in.Schedule), Checks: in.Checks, Labels: in.Labels, Hosts: in.Hosts,
		Description: strings.TrimSpace(in.Description)}
	loc := c.d.Location
	if w.Schedule == "" {
		s, err := config.ParseTime(strings.TrimSpace(in.Start), loc)
		if err != nil {
			return w, fmt.Errorf("%w: start: %v", maintenance.ErrInvalid, err)
		}
		e, err := config.ParseTime(strings.TrimSpace(in.End), loc)
		if err != nil {
			return w, fmt.Errorf("%w: end: %v", maintenance.ErrInvalid, err)
		}
		w.Start, w.End = s, e
	} else {
		d, err := config.ParseDuration(in.Duration)
		if err != nil {
			return w, fmt.Errorf("%w: duration: want e.g. 2h", maintenance.ErrInvalid)
		}
		w.Duration = d
	}
	known := c.d.Catalog()
	for _, ch := range w.Checks {
		if _, ok := known.find(ch); !ok {
			return w, fmt.Errorf("%w: checks: no check or heartbeat named %q", maintenance.ErrInvalid, ch)
		}
	}
	now := c.d.Now()
	w, err := maintenance.Create(r.Context(), c.d.DB, w, loc, who(r), now)
	if err != nil {
		return w, err
	}
	if err := c.d.Maintenance.Reload(r.Context(), now); err != nil {
		return w, err
	}
	c.d.Changed()
	return w, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' || r == '\r' }) {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (c *Console) maintenanceCreate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	in := windowInput{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), Checks: r.PostForm["check"],
		Hosts: splitList(r.PostFormValue("hosts"))}
	if r.PostFormValue("kind") == "recurring" {
		in.Schedule, in.Duration = r.PostFormValue("schedule"), r.PostFormValue("duration")
	} else {
		in.Start, in.End = strings.Replace(r.PostFormValue("start"), "T", " ", 1), strings.Replace(r.PostFormValue("end"), "T", " ", 1)
	}
	for _, kv := range splitList(r.PostFormValue("labels")) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			back(w, r, "/admin/maintenance", "Not created: labels are NAME=VALUE.")
			return
		}
		if in.Labels == nil {
			in.Labels = map[string]string{}
		}
		in.Labels[k] = v
	}
	win, err := c.createWindow(r, in)
	switch {
	case errors.Is(err, maintenance.ErrInvalid):
		back(w, r, "/admin/maintenance", "Not created: "+err.Error())
	case err != nil:
		c.d.Logger.Error("create maintenance window", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	default:
		back(w, r, "/admin/maintenance", fmt.Sprintf("Window #%d (%s) stored.", win.ID, win.Name))
	}
}

func (c *Console) cancelWindow(r *http.Request, id int64) (bool, error) {
	now := c.d.Now()
	ok, err := maintenance.Cancel(r.Context(), c.d.DB, id, now)
	if err != nil || !ok {
		return ok, err
	}
	if err := c.d.Maintenance.Reload(r.Context(), now); err != nil {
		return true, err
	}
	c.d.Changed()
	return true, nil
}

func (c *Console) maintenanceCancel(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentIDOf(r)
	if !ok {
		http.Error(w, "window id: want a number", http.StatusBadRequest)
		return
	}
	done, err := c.cancelWindow(r, id)
	if err != nil {
		c.d.Logger.Error("cancel maintenance window", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	note := fmt.Sprintf("Window #%d cancelled.", id)
	if !done {
		note = fmt.Sprintf("Window #%d was already over or cancelled.", id)
	}
	back(w, r, "/admin/maintenance", note)
}

func (c *Console) maintenanceListAPI(w http.ResponseWriter, r *http.Request) {
	out := []map[string]any{}
	for _, v := range c.windows() {
		b, _ := v.Window.MarshalJSON()
		m := map[string]any{}
		jsonUnmarshal(b, &m)
		m["next"], m["running"], m["public"], m["components"] = v.Next, v.Running, v.Public, v.Comps
		out = append(out, m)
	}
	dashboard.WriteJSON(w, http.StatusOK, out)
}

func (c *Console) maintenanceCreateAPI(w http.ResponseWriter, r *http.Request) {
	var in windowInput
	if !readJSON(w, r, &in) {
		return
	}
	win, err := c.createWindow(r, in)
	switch {
	case errors.Is(err, maintenance.ErrInvalid):
		dashboard.WriteError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		c.d.Logger.Error("create maintenance window", "err", err)
		dashboard.WriteError(w, http.StatusInternalServerError, "could not store the window")
	default:
		dashboard.WriteJSON(w, http.StatusCreated, win)
	}
}

func (c *Console) maintenanceCancelAPI(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentIDOf(r)
	if !ok {
		dashboard.WriteError(w, http.StatusBadRequest, "want a window id: DELETE /api/v1/maintenance/{id}")
		return
	}
	done, err := c.cancelWindow(r, id)
	switch {
	case err != nil:
		dashboard.WriteError(w, http.StatusInternalServerError, "could not cancel the window")
	case !done:
		dashboard.WriteError(w, http.StatusNotFound, fmt.Sprintf("no window #%d still to come or running (windows of the configuration file change there)", id))
	default:
		dashboard.WriteJSON(w, http.StatusOK, map[string]any{"id": id, "cancelled": true})
	}
}

// --- subscribers ---

type subscribersData struct {
	page
	Subscribers        []subscribe.Subscriber
	Confirmed, Waiting int
}

func (c *Console) subscribersPage(w http.ResponseWriter, r *http.Request) {
	d := subscribersData{page: c.page(r, "Subscribers")}
	subs, err := c.d.Subscribers.List(r.Context())
	if err != nil {
		c.d.Logger.Error("subscribers page", "err", err)
		d.Err = "The subscribers could not be read; see the loghost's log."
	}
	d.Subscribers = subs
	for _, s := range subs {
		if s.Confirmed {
			d.Confirmed++
		} else {
			d.Waiting++
		}
	}
	c.render(w, http.StatusOK, "subscribers", d)
}

func (c *Console) subscriberRemove(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentIDOf(r)
	if !ok {
		http.Error(w, "subscriber id: want a number", http.StatusBadRequest)
		return
	}
	done, err := c.d.Subscribers.Remove(r.Context(), id)
	if err != nil {
		c.d.Logger.Error("remove subscriber", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	note := "Subscriber removed, with what was still to be sent to them."
	if !done {
		note = "That subscriber was already gone."
	}
	back(w, r, "/admin/subscribers", note)
}

func (c *Console) subscribersAPI(w http.ResponseWriter, r *http.Request) {
	subs, err := c.d.Subscribers.List(r.Context())
	if err != nil {
		dashboard.WriteError(w, http.StatusInternalServerError, "subscribers unavailable")
		return
	}
	dashboard.WriteJSON(w, http.StatusOK, subs)
}

func (c *Console) subscriberRemoveAPI(w http.ResponseWriter, r *http.Request) {
	id, ok := incidentIDOf(r)
	if !ok {
		dashboard.WriteError(w, http.StatusBadRequest, "want a subscriber id: DELETE /api/v1/subscribers/{id}")
		return
	}
	done, err := c.d.Subscribers.Remove(r.Context(), id)
	switch {
	case err != nil:
		dashboard.WriteError(w, http.StatusInternalServerError, "could not remove the subscriber")
	case !done:
		dashboard.WriteError(w, http.StatusNotFound, "no such subscriber")
	default:
		dashboard.WriteJSON(w, http.StatusOK, map[string]any{"id": id, "removed": true})
	}
}
