package checker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/rdap"
)

// TestDomainCheck: a domain whose registration runs out within the
// condition's window fails; a registry that does not answer leaves the
// check unknown (inconclusive, not down).
func TestDomainCheck(t *testing.T) {
	hang := make(chan struct{})
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/dns.json":
			fmt.Fprintf(w, `{"services": [[["org"], ["%[1]s/org/"]], [["slow"], ["%[1]s/slow/"]]]}`, srv.URL)
		case r.URL.Path == "/org/domain/example.org":
			w.Write([]byte(`{"objectClassName": "domain", "ldhName": "example.org", "events": [{"eventAction": "expiration", "eventDate": "2026-12-21T00:00:00Z"}]}`))
		case strings.HasPrefix(r.URL.Path, "/slow/"):
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(hang)
	now := func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }
	reg := rdap.New(rdap.Options{BootstrapURL: srv.URL + "/dns.json", Now: now})
	opts := Options{Now: now, Registry: reg}

	p, err := Compile(config.Check{Name: "d", Type: "domain", Target: "https://www.example.org/login", Conditions: []string{"domain_expires_in > 30d"},
		WarnConditions: []string{"domain_expires_in > 60d"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if p.Interval != time.Hour {
		t.Errorf("interval %v", p.Interval)
	}
	r := p.Run(context.Background())
	if r.Success || r.Inconclusive || r.Values["domain_expires_in"] != 20*24*time.Hour || r.Values["expires"] != "2026-12-21" {
		t.Errorf("expiring: %+v", r)
	}
	if line := NagiosLine(p, r); !strings.Contains(line, "CRITICAL") || !strings.Contains(line, "registration expires in 20d") {
		t.Errorf("line %q", line)
	}

	p, _ = Compile(config.Check{Name: "s", Type: "domain", Target: "example.slow", Timeout: config.Duration(time.Second)}, opts)
	r = p.Run(context.Background())
	if !r.Inconclusive || r.State != StateUnknown || r.Success || !strings.Contains(r.Error, "expiry unknown") {
		t.Errorf("timeout: %+v", r)
	}
	if _, err := Compile(config.Check{Name: "x", Type: "domain", Target: "192.0.2.1"}, opts); err == nil {
		t.Error("an address compiled as a domain")
	}
}
