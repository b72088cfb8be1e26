package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/alerting"
)

type fakeIncidents struct {
	acked, resolved []string
}

func (f *fakeIncidents) Incidents(context.Context, int) ([]alerting.IncidentInfo, error) {
	t := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	return []alerting.IncidentInfo{
		{ID: 7, Source: "rule", Title: "<script>x</script>", State: "firing", Severity: "critical", Started: t, Fired: 3,
			Labels: map[string]string{"host": "web1"}},
		{ID: 6, Source: "check", Title: "wiki is down", State: "acknowledged", AckedBy: "bob", Started: t},
		{ID: 5, Source: "metric", Title: "db1 df /", State: "resolved", Started: t, Resolved: t.Add(time.Hour), ResolvedBy: "ana"},
	}, nil
}

func (f *fakeIncidents) Ack(_ context.Context, id int64, who string) (bool, error) {
	f.acked = append(f.acked, who)
	return id == 7, nil
}

func (f *fakeIncidents) Resolve(_ context.Context, id int64, who string) (bool, error) {
	if id == 6 {
		return false, alerting.ErrCheckIncident
	}
	f.resolved = append(f.resolved, who)
	return true, nil
}

// TestIncidentsPage: the page lists incidents of every kind (escaped),
// offers acknowledge and resolve where they apply, and the actions need
// a session and the CSRF token.
func TestIncidentsPage(t *testing.T) {
	f := newFixture(t, UIDeps{})
	src := &fakeIncidents{}
	NewIncidentsPage(f.auth, src, nil).Register(f.mux)
	if w := f.do("GET", "/admin/incidents", "", nil, nil); w.Code != http.StatusSeeOther {
		t.Errorf("signed out: %d", w.Code)
	}
	cookie, _ := f.login("alice", alicePW)
	w := f.do("GET", "/admin/incidents", "", nil, nil, cookie)
	body := w.Body.String()
	if w.Code != 200 || strings.Contains(body, "<script>x") || !strings.Contains(body, "&lt;script&gt;x") {
		t.Fatalf("page %d:\n%s", w.Code, body)
	}
	for _, want := range []string{`action="/admin/incidents/7/ack"`, `action="/admin/incidents/7/resolve"`, "acknowledged by bob", "by ana", "host=web1"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, `/admin/incidents/6/ack"`) || strings.Contains(body, `/admin/incidents/6/resolve"`) {
		t.Error("buttons on an acknowledged check incident")
	}
	tok := formCSRF(t, body)
	if w := f.do("POST", "/admin/incidents/7/ack", "", url.Values{}, nil, cookie); w.Code != http.StatusForbidden || len(src.acked) != 0 {
		t.Errorf("ack without CSRF: %d %v", w.Code, src.acked)
	}
	w = f.do("POST", "/admin/incidents/7/ack", "", url.Values{"csrf": {tok}}, nil, cookie)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/incidents?done=ok" || len(src.acked) != 1 || src.acked[0] != "alice" {
		t.Errorf("ack: %d %q %v", w.Code, w.Header().Get("Location"), src.acked)
	}
	w = f.do("POST", "/admin/incidents/6/resolve", "", url.Values{"csrf": {tok}}, nil, cookie)
	if w.Header().Get("Location") != "/admin/incidents?done=check" {
		t.Errorf("resolve a check: %q", w.Header().Get("Location"))
	}
	w = f.do("POST", "/admin/incidents/x/resolve", "", url.Values{"csrf": {tok}}, nil, cookie)
	if w.Code != http.StatusBadRequest {
		t.Errorf("bad id: %d", w.Code)
	}
	w = f.do("GET", "/admin/incidents?done=check", "", nil, nil, cookie)
	if !strings.Contains(w.Body.String(), "resolves when it recovers") {
		t.Error("no note")
	}
}
