package checker

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

func BenchmarkConditionEval(b *testing.B) {
	values := map[string]any{
		"status":          200,
		"response_time":   123 * time.Millisecond,
		"body":            `{"status":"up","db":{"lag":3},"nodes":[{"name":"a"},{"name":"b"}]}` + strings.Repeat(" ", 200),
		"cert_expires_in": 20 * 24 * time.Hour,
		"answer":          []string{"192.0.2.1", "192.0.2.2"},
		"rcode":           "NOERROR",
	}
	for _, bc := range []struct{ typ, cond string }{
		{"http", "status == 200"},
		{"http", "response_time < 500ms"},
		{"http", "cert_expires_in > 14d"},
		{"http", `body contains "up"`},
		{"http", "body.json.db.lag < 5"},
		{"dns", "rcode == NOERROR"},
		{"dns", "answer contains 192.0.2.2"},
	} {
		c, err := ParseCondition(bc.typ, bc.cond)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.cond, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				// A fresh environment per result, as Run does: the JSON
				// body is parsed once per result, not once per benchmark.
				if ok, _ := c.eval(&evalEnv{values: values}); !ok {
					b.Fatal("condition failed")
				}
			}
		})
	}
}

func BenchmarkParseCondition(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCondition("http", "body.json.data.items[0].id >= 10"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProbeLoop runs whole probes, conditions included, against
// local real servers: httptest's net/http server and nsd.
func BenchmarkProbeLoop(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"up"}`))
	}))
	defer srv.Close()
	nsd := startNSD(b)
	for _, bc := range []struct {
		name  string
		check config.Check
	}{
		{"http", config.Check{Type: "http", Target: srv.URL, Conditions: []string{"status == 200", "body.json.status == up", "response_time < 1s"}}},
		{"tcp", config.Check{Type: "tcp", Target: srv.Listener.Addr().String()}},
		{"dns", config.Check{Type: "dns", Target: nsd, Query: "A wiki.example.test", Conditions: []string{"answer contains 192.0.2.1"}}},
	} {
		bc.check.Name = bc.name
		p, err := Compile(bc.check, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := p.Run(context.Background()); !r.Success {
					b.Fatalf("%s %+v", r.Error, r.ConditionResults)
				}
			}
		})
	}
}

// BenchmarkDNSProbes runs the dns probe's other transports and checks
// against real servers on loopback: DNS over TLS to unbound (a new TLS
// connection per probe, as the scheduler makes), TCP, SOA serial
// agreement across three nsd answers, and RRSIG expiry with the DO bit
// from nsd serving a signed zone.
func BenchmarkDNSProbes(b *testing.B) {
	nsd := startNSD(b)
	dot, cert := startUnboundDoT(b, nsd, time.Now().Add(24*time.Hour))
	signed, _ := signZone(b, time.Now().Add(30*24*time.Hour))
	signedNSD := startNSDZone(b, signed)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	for _, bc := range []struct {
		name  string
		check config.Check
	}{
		{"dot", config.Check{Target: "tls://" + dot, Query: "A wiki.example.test", Conditions: []string{"answer contains 192.0.2.1"}}},
		{"tcp", config.Check{Target: "tcp://" + nsd, Query: "A wiki.example.test", Conditions: []string{"answer contains 192.0.2.1"}}},
		{"soa_agreement", config.Check{Target: nsd, Query: "SOA example.test", Nameservers: []string{nsd, "tcp://" + nsd}}},
		{"rrsig_expiry", config.Check{Target: signedNSD, Query: "A wiki.example.test", Conditions: []string{"rrsig_expires_in > 7d"}}},
	} {
		bc.check.Name, bc.check.Type = bc.name, "dns"
		p, err := Compile(bc.check, Options{RootCAs: pool})
		if err != nil {
			b.Fatal(err)
		}
		// The first DoT query may race unbound's start.
		peers.Eventually(b, 20*time.Second, func() bool { return p.Run(context.Background()).Success })
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := p.Run(context.Background()); !r.Success {
					b.Fatalf("%s %+v", r.Error, r.ConditionResults)
				}
			}
		})
	}
}
