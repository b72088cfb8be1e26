package checker

import (
	"context"
	"crypto/x509"
	"io"
	"log"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

func TestTCPProbeAgainstSMTPSink(t *testing.T) {
	addr := startSMTPSink(t)
	tests := []struct {
		name    string
		check   config.Check
		success bool
		body    string // a substring of the kept reply; "" for none kept
	}{
		{"connect only", config.Check{Target: addr}, true, ""},
		{"banner expected", config.Check{Target: addr, Conditions: []string{`body contains "220 "`, "connected == true"}}, true, "220 sink.example.test"},
		{"send and expect", config.Check{Target: "tcp://" + addr, Body: "EHLO probe\r\n", Conditions: []string{"body contains 250-PIPELINING"}}, true, "250-PIPELINING"},
		{"expectation not met before the timeout", config.Check{Target: addr, Timeout: config.Duration(3 * time.Second), Conditions: []string{"body contains SSH-2.0"}}, false, "220 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check.Name, tt.check.Type = "tcp", "tcp"
			p, err := Compile(tt.check, Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := p.Run(context.Background())
			if r.Success != tt.success || r.Error != "" {
				t.Fatalf("Success %v Error %q, want %v; %+v", r.Success, r.Error, tt.success, r.ConditionResults)
			}
			b, _ := r.Values["body"].(string)
			if tt.body == "" && b != "" || !strings.Contains(b, tt.body) {
				t.Errorf("body %q, want %q", b, tt.body)
			}
		})
	}
}

func TestTCPProbeRefused(t *testing.T) {
	port := peers.FreePort(t)
	p, err := Compile(config.Check{Name: "x", Type: "tcp", Target: peers.Addr(port)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Run(context.Background())
	if r.Success || !strings.Contains(r.Error, "refused") || r.Values["connected"] != false {
		t.Fatalf("%+v", r)
	}
}

func TestTLSProbe(t *testing.T) {
	srv := httptest.NewUnstartedServer(testHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	now := srv.Certificate().NotAfter.Add(-100 * 24 * time.Hour)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	check := config.Check{Name: "tls", Type: "tls", Target: addr,
		Conditions: []string{"cert_expires_in > 30d", "tls == true", `cert_subject contains "Acme Co"`},
		Body:       "GET /health HTTP/1.0\r\n\r\n", WarnConditions: []string{`body contains '"status":"up"'`}}
	p, err := Compile(check, Options{RootCAs: pool, ServerName: "example.com", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Run(context.Background())
	if r.State != StateOK {
		t.Fatalf("%v %s %+v %v", r.State, r.Error, r.ConditionResults, r.Values)
	}
	if r.Values["cert_expires_in"] != 100*24*time.Hour {
		t.Errorf("cert_expires_in = %v", r.Values["cert_expires_in"])
	}
	// Without the test CA the handshake fails, and the expiry still shows.
	p, err = Compile(check, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	r = p.Run(context.Background())
	if r.Success || !strings.Contains(r.Error, "TLS handshake") || r.Values["cert_expires_in"] != 100*24*time.Hour {
		t.Fatalf("%+v", r)
	}
}

func TestCmdProbeMonitoringPlugins(t *testing.T) {
	paths := peers.Require(t, "check_dummy", "check_tcp")
	sink := startSMTPSink(t)
	host, port, _ := splitHostPort(sink, "")
	tests := []struct {
		name     string
		target   string
		conds    []string
		state    State
		output   string
		perfdata map[string]float64
	}{
		{"ok", paths["check_dummy"] + " 0 'all good'", nil, StateOK, "OK: all good", nil},
		{"warning", paths["check_dummy"] + ` 1 "disk 85%"`, nil, StateWarning, "WARNING: disk 85%", nil},
		{"critical", paths["check_dummy"] + " 2 down", nil, StateCritical, "CRITICAL: down", nil},
		{"unknown", paths["check_dummy"] + " 3 what", nil, StateUnknown, "UNKNOWN: what", nil},
		{"bad arguments are unknown", paths["check_dummy"] + " 7", nil, StateUnknown, "", nil},
		{"check_tcp with perfdata", paths["check_tcp"] + " -H " + host + " -p " + port + " -e 220",
			[]string{"perfdata.time < 5", `output contains "TCP OK"`, "exit_code == 0", "state == ok"}, StateOK, "", map[string]float64{}},
		{"a condition fails an OK plugin", paths["check_dummy"] + " 0 fine", []string{"output contains nope"}, StateCritical, "OK: fine", nil},
		{"timeout", "/bin/sleep 5", nil, StateCritical, "", nil},
		{"missing program", "/nonexistent/check_x", nil, StateCritical, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(config.Check{Name: "plugin", Type: "cmd", Target: tt.target, Conditions: tt.conds,
				Timeout: config.Duration(time.Second)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			r := p.Run(context.Background())
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %v: the timeout did not kill the plugin", time.Since(start))
			}
			if r.State != tt.state {
				t.Fatalf("State %v, want %v: %s %+v %v", r.State, tt.state, r.Error, r.ConditionResults, r.Values)
			}
			if tt.output != "" && r.Values["output"] != tt.output {
				t.Errorf("output %q, want %q", r.Values["output"], tt.output)
			}
			if tt.perfdata != nil {
				if _, ok := r.Values["perfdata.time"].(float64); !ok {
					t.Errorf("no perfdata.time in %v", r.Values)
				}
			}
		})
	}
}

func TestParsePluginOutput(t *testing.T) {
	tests := []struct {
		in, text, perf string
	}{
		{"OK - fine\n", "OK - fine", ""},
		{"DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n", "DISK OK - free space: / 3326 MB (56%);", "/=2643MB;5948;5958;0;5968"},
		{"OK - fine | a=1\nlong line 1\nlong 2 | b=2s;1;2\nc=3%\n", "OK - fine", "a=1 b=2s;1;2 c=3%"},
		{"", "", ""},
	}
	for _, tt := range tests {
		text, perf := ParsePluginOutput(tt.in)
		if text != tt.text || perf != tt.perf {
			t.Errorf("ParsePluginOutput(%q) = %q, %q; want %q, %q", tt.in, text, perf, tt.text, tt.perf)
		}
	}
}

func TestParsePerfdata(t *testing.T) {
	tests := []struct {
		in   string
		want []Perfdatum
	}{
		{"time=0.000123s;;;0.000000;10.000000", []Perfdatum{{Label: "time", Value: 0.000123, Unit: "s", Min: "0.000000", Max: "10.000000"}}},
		{"'/var lib'=85%;80;90 load1=0.5", []Perfdatum{{Label: "/var lib", Value: 85, Unit: "%", Warn: "80", Crit: "90"}, {Label: "load1", Value: 0.5}}},
		{"'it''s'=1c", []Perfdatum{{Label: "it's", Value: 1, Unit: "c"}}},
		{"bad novalue=U ok=-2.5e3B", []Perfdatum{{Label: "ok", Value: -2500, Unit: "B"}}},
		{"'unterminated=1", nil},
		{"=5 x=", nil},
	}
	for _, tt := range tests {
		if got := ParsePerfdata(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParsePerfdata(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`/a/b -w 10% -c 5%`, []string{"/a/b", "-w", "10%", "-c", "5%"}},
		{`/a 'x y' "q \"z\"" back\ slash ''`, []string{"/a", "x y", `q "z"`, "back slash", ""}},
		{`'it'\''s'`, []string{"it's"}},
		{"  ", nil},
	}
	for _, tt := range tests {
		got, err := SplitWords(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
