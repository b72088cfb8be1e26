//go:build !agent

package config

import (
	"fmt"
	"time"

	"github.com/watchpost/watchpost/rdap"
)

// addDomainChecks adds the automatic domain checks: one per registrable
// domain of the http checks, unless a domain check of the configuration
// already watches it.
func (c *Config) addDomainChecks(p *positions) {
	within := time.Duration(c.DomainExpiry.HTTPChecks)
	if within < 0 {
		p.add("domain_expiry.http_checks", "must not be negative")
		return
	}
	if within == 0 {
		return
	}
	if within < 24*time.Hour {
		p.add("domain_expiry.http_checks", "want days (30d): registries are asked once a day")
		return
	}
	have := map[string]bool{}
	names := map[string]bool{}
	for _, ch := range c.Checks {
		names[ch.Name] = true
		if ch.Type == "domain" {
			if d, err := rdap.Registered(hostOfTarget(ch.Target)); err == nil {
				have[d] = true
			}
		}
	}
	for _, ch := range c.Checks {
		if ch.Type != "http" {
			continue
		}
		d, err := rdap.Registered(hostOfTarget(ch.Target))
		if err != nil || have[d] {
			continue // an address, localhost, or watched already
		}
		have[d] = true
		name := "domain " + d
		if names[name] {
			continue
		}
		c.Checks = append(c.Checks, Check{Name: name, Type: "domain", Target: d,
			Conditions: []string{fmt.Sprintf("domain_expires_in > %s", formatDays(within))},
			Labels:     map[string]string{"severity": "warning", "domain": d}, Group: ch.Group})
	}
}
