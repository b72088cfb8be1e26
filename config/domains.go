package config

import (
	"fmt"
	"net/url"
	"time"
)

// DomainExpiry turns on a domain check for every http check's domain.
type DomainExpiry struct {
	// HTTPChecks: when set, each domain an http check targets gets a
	// check "domain NAME" that goes down once its registration expires
	// within this long (30d); labelled severity=warning.
	HTTPChecks Duration `yaml:"http_checks"`
}

func hostOfTarget(t string) string {
	if u, err := url.Parse(t); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return t
}

func formatDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
