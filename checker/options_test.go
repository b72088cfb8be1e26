package checker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/watchpost/watchpost/config"
)

// TestClientCertificate: a server that demands a client certificate
// refuses the probe without one and answers it with one.
func TestClientCertificate(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	check := config.Check{Name: "mtls", Type: "http", Target: srv.URL, Conditions: []string{"status == 200"}}
	p, err := Compile(check, Options{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Run(context.Background()); r.Success {
		t.Fatal("a server demanding a client certificate answered a probe without one")
	}
	// The test server's own certificate will do as a client certificate.
	cert := srv.TLS.Certificates[0]
	p, _ = Compile(check, Options{RootCAs: pool, ClientCert: &cert})
	if r := p.Run(context.Background()); !r.Success {
		t.Fatalf("with a client certificate: %+v", r)
	}
}

// TestIPVersion: ip_version 6 will not reach a server on 127.0.0.1, and
// 4 will.
func TestIPVersion(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// "localhost" resolves to both families; the choice decides.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	check := config.Check{Name: "v", Type: "tcp", Target: "localhost:" + port}
	p4, _ := Compile(check, Options{IPVersion: 4})
	if r := p4.Run(context.Background()); !r.Success {
		t.Fatalf("over IPv4: %+v", r)
	}
	p6, _ := Compile(check, Options{IPVersion: 6})
	if r := p6.Run(context.Background()); r.Success {
		t.Fatal("over IPv6 it reached a server listening on IPv4 only")
	}
}
