//go:build !agent

package checker

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/rdap"
)

// Registry answers domain checks; the agent build has none (a domain's
// expiry is the same from everywhere, so vantages never ask).
type Registry = rdap.Client

// compileDomain prepares a domain check: the target is a domain, a host
// name (its registrable domain is checked) or a URL.
func compileDomain(p *Probe, c config.Check) error {
	host := strings.TrimSpace(c.Target)
	if strings.Contains(host, "://") {
		u, err := url.Parse(host)
		if err != nil || u.Hostname() == "" {
			return fmt.Errorf("bad target %q", c.Target)
		}
		host = u.Hostname()
	}
	d, err := rdap.Registered(host)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	p.domain = &domainProbe{name: d}
	p.host = d
	if c.Interval == 0 {
		// The answer changes once a year and is asked for once a day.
		p.Interval = time.Hour
		if c.Timeout == 0 {
			p.Timeout = time.Minute
		}
	}
	return nil
}

func runDomain(ctx context.Context, p *Probe, v map[string]any) error {
	reg := p.opts.Registry
	if reg == nil {
		reg = rdap.New(rdap.Options{Now: p.opts.Now})
	}
	start := time.Now()
	exp, err := reg.Lookup(ctx, p.domain.name)
	v["response_time"] = time.Since(start)
	if exp.Source != "" {
		v["source"] = exp.Source
		v["registrar"] = exp.Registrar
	}
	switch {
	case err == nil:
	case errors.Is(err, rdap.ErrNotFound):
		return fmt.Errorf("%s is not registered (%v)", p.domain.name, err)
	default:
		// A registry that times out, refuses, publishes no date or has no
		// service: nothing is known about the domain.
		return &inconclusive{fmt.Errorf("%s: expiry unknown: %w", p.domain.name, err)}
	}
	v["expires"] = exp.Expires.Format("2006-01-02")
	v["domain_expires_in"] = exp.Expires.Sub(p.opts.now())
	return nil
}
