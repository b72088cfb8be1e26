package dashboard

import (
	"strings"
	"testing"
	"time"
)

// TestHostsPageEnrolled: the hosts page names the hosts that enrolled
// with the shared collector token, escaped, with their state.
func TestHostsPageEnrolled(t *testing.T) {
	since := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	f := newFixture(t, UIDeps{Enrolled: func() []EnrolledHost {
		return []EnrolledHost{{Name: "web7", State: "enrolled", Address: "192.0.2.7", Since: since},
			{Name: "<b>evil</b>", State: "revoked", Address: "203.0.113.1", Since: since}}
	}})
	cookie, _ := f.login("alice", alicePW)
	w := f.do("GET", "/admin/hosts", "", nil, nil, cookie)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "Enrolled with the shared collector token") || !strings.Contains(body, "<strong>web7</strong> (enrolled, from 192.0.2.7") {
		t.Fatalf("hosts page %d:\n%s", w.Code, body)
	}
	if strings.Contains(body, "<b>evil</b>") || !strings.Contains(body, "revoked") {
		t.Errorf("hostile name not escaped or state missing:\n%s", body)
	}
}
