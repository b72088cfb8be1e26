package checker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

// TestDNSSEC: nsd serves example.test signed by ldns-signzone, with the
// signatures expiring in three days and the wiki record altered after
// signing; unbound validates with the zone's DS as its trust anchor.
func TestDNSSEC(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	exp := now.Add(72 * time.Hour)
	signed, ds := signZone(t, exp)
	// Tampering with one record leaves its old signature: that RRset
	// alone is bogus, the rest of the zone still validates.
	tampered := strings.Replace(signed, "192.0.2.1\n", "192.0.2.99\n", 1)
	if tampered == signed {
		t.Fatal("wiki's address not found in the signed zone")
	}
	nsd := startNSDZone(t, tampered)
	dir := t.TempDir()
	unbound, ub := startUnboundConf(t, nsd, dir, fmt.Sprintf(`  module-config: "validator iterator"
  trust-anchor-file: %q
  val-log-level: 2`, ds))
	clock := func() time.Time { return now }

	tests := []struct {
		name, target, query string
		conds, warns        []string
		state               State
	}{
		{"validated: AD set", unbound, "A multi.example.test",
			[]string{"ad == true", "len(answer) == 2"}, nil, StateOK},
		{"validating resolver asked for the AD bit only", unbound, "MX example.test",
			[]string{"ad == true", "answer == 10 mail.example.test"}, nil, StateOK},
		{"bogus: SERVFAIL", unbound, "A wiki.example.test",
			[]string{"rcode == SERVFAIL"}, nil, StateOK},
		{"bogus fails the default condition", unbound, "A wiki.example.test",
			nil, nil, StateCritical},
		{"bogus fails ad == true", unbound, "A wiki.example.test",
			[]string{"ad == true"}, nil, StateCritical},
		{"authoritative: signatures expire in 3d", nsd, "A multi.example.test",
			[]string{"rrsig_count == 1", "rrsig_expires_in > 1d", "len(answer) == 2", "ad == false"},
			[]string{"rrsig_expires_in > 7d"}, StateWarning},
		{"authoritative: far enough", nsd, "SOA example.test",
			[]string{"rrsig_expires_in > 2d"}, []string{"rrsig_expires_in > 71h"}, StateOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(config.Check{Name: "dnssec", Type: "dns", Target: tt.target, Query: tt.query,
				Conditions: tt.conds, WarnConditions: tt.warns}, Options{Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			var r Result
			peers.Eventually(t, 20*time.Second, func() bool {
				r = p.Run(context.Background())
				return r.Error == "" && r.State == tt.state
			})
			if tt.state == StateOK && tt.conds[0] == "rcode == SERVFAIL" {
				// SERVFAIL for the reason intended, not a resolver hiccup.
				peers.Eventually(t, 30*time.Second, func() bool { return strings.Contains(ub.Output(), "validation failure <wiki.example.test. A IN>") })
			}
			if tt.target == nsd && r.Values["rrsig_expires_in"] != 72*time.Hour {
				t.Errorf("rrsig_expires_in = %v, want 72h", r.Values["rrsig_expires_in"])
			}
		})
	}
}

// TestRRSIGExpiresIn: expiration times are 32-bit serial numbers, read as
// the instant nearest to now.
func TestRRSIGExpiresIn(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	later := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		now, exp time.Time
	}{
		{now, now.Add(72 * time.Hour)},
		{now, now.Add(-time.Hour)},
		{now, now.Add(60 * 365 * 24 * time.Hour)},
		// The 32-bit counter wraps in 2106: a signature made in 2100
		// for ten years still has ten years to go.
		{later, later.AddDate(10, 0, 0)},
	}
	for _, tt := range tests {
		sig := &dns.RRSIG{Expiration: uint32(tt.exp.Unix())}
		if got, want := rrsigExpiresIn(sig, tt.now), tt.exp.Sub(tt.now); got != want {
			t.Errorf("%v at %v: got %v, want %v", tt.exp, tt.now, got, want)
		}
	}
}
