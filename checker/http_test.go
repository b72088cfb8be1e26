package checker

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
)

func testHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Build", "42")
		fmt.Fprint(w, `{"status":"up","db":{"lag":3},"nodes":[{"name":"a"},{"name":"b"}]}`)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/health", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s host=%s auth=%s body=%s", r.Method, r.URL.Path, r.Host, r.Header.Get("Authorization"), b)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		// Far longer than any probe's timeout: the probe's own deadline
		// is the only timer that can end the request.
		select {
		case <-time.After(time.Minute):
		case <-r.Context().Done():
		}
	})
	return mux
}

func TestHTTPProbe(t *testing.T) {
	srv := httptest.NewServer(testHandler())
	defer srv.Close()
	tests := []struct {
		name       string
		check      config.Check
		opts       Options
		success    bool
		degraded   bool
		errSubstr  string
		wantValues map[string]any
	}{
		{
			name:       "json health",
			check:      config.Check{Target: srv.URL + "/health", Conditions: []string{"status == 200", "body.json.status == up", "body.json.db.lag < 5", "len(body.json.nodes) == 2", "header.content-type contains json", "response_time < 5s"}},
			success:    true,
			wantValues: map[string]any{"status": 200, "connected": true, "redirects": 0, "ip": "127.0.0.1", "header.content-type": "application/json"},
		},
		{
			name:       "default condition passes a 2xx",
			check:      config.Check{Target: srv.URL + "/health"},
			success:    true,
			wantValues: map[string]any{"status": 200},
		},
		{
			name:       "default condition fails a 503",
			check:      config.Check{Target: srv.URL + "/fail"},
			success:    false,
			wantValues: map[string]any{"status": 503},
		},
		{
			name:     "warn condition degrades",
			check:    config.Check{Target: srv.URL + "/health", WarnConditions: []string{"response_time < 1ns"}},
			success:  true,
			degraded: true,
		},
		{
			name:       "redirect followed",
			check:      config.Check{Target: srv.URL + "/old", Conditions: []string{"status == 200"}},
			success:    true,
			wantValues: map[string]any{"redirects": 1, "final_url": srv.URL + "/health"},
		},
		{
			name:       "redirect not followed",
			check:      config.Check{Target: srv.URL + "/old", Conditions: []string{"status == 301"}},
			opts:       Options{NoFollowRedirects: true},
			success:    true,
			wantValues: map[string]any{"status": 301},
		},
		{
			name:      "redirect loop",
			check:     config.Check{Target: srv.URL + "/loop"},
			errSubstr: "stopped after 10 redirects",
		},
		{
			name: "method headers body",
			check: config.Check{Target: srv.URL + "/echo", Method: "post", Body: "ping",
				Headers:    map[string]string{"Authorization": "Bearer t0k", "Host": "wiki.example.test"},
				Conditions: []string{`body == "POST /echo host=wiki.example.test auth=Bearer t0k body=ping"`}},
			success: true,
		},
		{
			name:      "timeout",
			check:     config.Check{Target: srv.URL + "/slow", Timeout: config.Duration(200 * time.Millisecond)},
			errSubstr: "timeout after 200ms",
		},
		{
			name:      "refused",
			check:     config.Check{Target: "http://127.0.0.1:1/"},
			errSubstr: "connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check.Name, tt.check.Type = "web", "http"
			p, err := Compile(tt.check, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			r := p.Run(context.Background())
			if tt.errSubstr != "" {
				if !strings.Contains(r.Error, tt.errSubstr) || r.Success {
					t.Fatalf("Error %q Success %v, want an error containing %q", r.Error, r.Success, tt.errSubstr)
				}
				return
			}
			if r.Error != "" {
				t.Fatalf("Error %q", r.Error)
			}
			if r.Success != tt.success || r.Degraded != tt.degraded {
				t.Errorf("Success %v Degraded %v, want %v %v; conditions %+v", r.Success, r.Degraded, tt.success, tt.degraded, r.ConditionResults)
			}
			for k, want := range tt.wantValues {
				if got := r.Values[k]; got != want {
					t.Errorf("Values[%s] = %#v, want %#v", k, got, want)
				}
			}
			for _, k := range []string{"response_time", "connect_time", "first_byte_time"} {
				if _, ok := r.Values[k].(time.Duration); !ok {
					t.Errorf("no %s in %v", k, r.Values)
				}
			}
		})
	}
}

func TestHTTPSProbeCertificate(t *testing.T) {
	srv := httptest.NewUnstartedServer(testHandler())
	// The refused handshake below is the point, not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	now := srv.Certificate().NotAfter.Add(-10 * 24 * time.Hour)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	check := config.Check{Name: "tls", Type: "http", Target: srv.URL + "/health",
		Conditions:     []string{"status == 200", "cert_expires_in > 7d"},
		WarnConditions: []string{"cert_expires_in > 14d"}}

	p, err := Compile(check, Options{RootCAs: pool, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Run(context.Background())
	if !r.Success || !r.Degraded || r.State != StateWarning {
		t.Fatalf("Success %v Degraded %v State %v, want a warning: %+v %s", r.Success, r.Degraded, r.State, r.ConditionResults, r.Error)
	}
	if got := r.Values["cert_expires_in"]; got != 10*24*time.Hour {
		t.Errorf("cert_expires_in = %v, want 240h", got)
	}
	if _, ok := r.Values["tls_time"].(time.Duration); !ok {
		t.Errorf("no tls_time: %v", r.Values)
	}
	if r.Time != now {
		t.Errorf("Time = %v, want the injected clock's %v", r.Time, now)
	}

	// Verification is on by default: the test CA is not a system root.
	p, err = Compile(check, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	r = p.Run(context.Background())
	if r.Success || !strings.Contains(r.Error, "certificate") {
		t.Fatalf("an untrusted certificate passed: %+v", r)
	}
	if r.Values["cert_expires_in"] != 10*24*time.Hour {
		t.Errorf("expiry of an untrusted certificate not reported: %v", r.Values)
	}
}

func TestBodyKeptOnlyWhenRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 5000))
	}))
	defer srv.Close()
	for _, tt := range []struct {
		conds []string
		want  int // -1: absent
	}{
		{nil, -1},
		{[]string{"body contains x"}, MaxKeptBody},
	} {
		p, err := Compile(config.Check{Name: "b", Type: "http", Target: srv.URL, Conditions: tt.conds}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := p.Run(context.Background())
		b, ok := r.Values["body"].(string)
		if tt.want < 0 && ok || tt.want >= 0 && len(b) != tt.want {
			t.Errorf("conditions %v: body of %d bytes kept (present %v), want %d", tt.conds, len(b), ok, tt.want)
		}
		for k := range r.Values {
			if strings.HasPrefix(k, "header.") {
				t.Errorf("unread header %s kept", k)
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		check config.Check
		want  string
	}{
		{config.Check{Type: "gopher", Target: "x"}, "unknown type"},
		{config.Check{Type: "http"}, "missing target"},
		{config.Check{Type: "http", Target: "ftp://x/"}, "want http:// or https://"},
		{config.Check{Type: "http", Target: "https://x/", Conditions: []string{"rcode == NOERROR", "statsu == 1"}}, `"statsu"`},
		{config.Check{Type: "tcp", Target: "host"}, "needs a port"},
		{config.Check{Type: "tcp", Target: "host:99999"}, "bad port"},
		{config.Check{Type: "dns", Target: "127.0.0.1", Query: "AAAAX example.test"}, "unknown record type"},
		{config.Check{Type: "dns", Target: "127.0.0.1", Query: "A a b"}, "bad DNS query"},
		{config.Check{Type: "dns", Target: "127.0.0.1"}, "bad DNS query"},
		{config.Check{Type: "cmd", Target: "check_dummy 0"}, "absolute program path"},
		{config.Check{Type: "cmd", Target: "/bin/x 'open"}, "unterminated"},
	}
	for _, tt := range tests {
		tt.check.Name = "c"
		_, err := Compile(tt.check, Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Compile(%+v) = %v, want an error containing %q", tt.check, err, tt.want)
		}
	}
}
