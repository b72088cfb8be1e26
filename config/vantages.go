package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// RemoteTypes are the check types a collector may run. The others stay
// on the loghost: a command, a file or a mailbox is the loghost's own,
// and a domain's registration looks the same from everywhere.
var RemoteTypes = map[string]bool{"http": true, "tcp": true, "tls": true, "dns": true, "udp": true, "ping": true, "smtp": true}

// RunsRemotely tells whether a check can run on collectors: a remote
// type that needs no file of the loghost's (a CA, a client certificate, a
// mailbox to see a message arrive in).
func RunsRemotely(c Check) bool {
	return RemoteTypes[c.Type] && c.TLSCAFile == "" && c.TLSClientCertFile == "" && c.RoundTripTo == ""
}

// RunsOnLoghost tells whether the loghost probes the check itself.
func RunsOnLoghost(c Check) bool {
	if len(c.Vantages) == 0 || !RunsRemotely(c) {
		return true
	}
	for _, v := range c.Vantages {
		if v == "all" || v == "loghost" {
			return true
		}
	}
	return false
}

func validateVantages(p *positions, key string, ch Check) {
	seen := map[string]bool{}
	remote := false
	for j, v := range ch.Vantages {
		k := fmt.Sprintf("%s.vantages[%d]", key, j)
		switch {
		case v == "all" && len(ch.Vantages) > 1:
			p.add(k, "all stands alone: it already names every vantage")
		case v != "all" && v != "loghost" && !hostNameRE.MatchString(v):
			p.add(k, "want all, loghost or a collector's location (letters, digits, '.', '_' and '-'), got %q", v)
		case seen[v]:
			p.add(k, "%q is named twice", v)
		}
		seen[v] = true
		remote = remote || v != "loghost"
	}
	if remote && ch.Type != "" && !RunsRemotely(ch) && !(len(ch.Vantages) == 1 && ch.Vantages[0] == "all") {
		why := ch.Type + " checks"
		switch {
		case ch.TLSCAFile != "" || ch.TLSClientCertFile != "":
			why = "checks that read a CA or client certificate file"
		case ch.RoundTripTo != "":
			why = "smtp round trips (they read a local mailbox)"
		}
		p.add(key+".vantages", "%s run on the loghost only: name no other vantage", why)
	}
	switch ch.AlertOn {
	case "", "quorum", "any":
	default:
		p.add(key+".alert_on", "want quorum (the default: most places see it down) or any, got %q", ch.AlertOn)
	}
}

// CanaryCheck turns a canary target into the check that probes it:
// http(s)://… (status < 400), tcp://host:port (connects), ping://host.
func CanaryCheck(target string, timeout time.Duration) (Check, error) {
	u, err := url.Parse(strings.TrimSpace(target))
	if err != nil || u.Host == "" {
		return Check{}, fmt.Errorf("want http(s)://…, tcp://host:port or ping://host, got %q", target)
	}
	c := Check{Name: "canary " + target, Target: target, Timeout: Duration(timeout), Interval: Duration(time.Minute)}
	switch u.Scheme {
	case "http", "https":
		c.Type = "http"
	case "tcp":
		if _, _, err := net.SplitHostPort(u.Host); err != nil {
			return Check{}, fmt.Errorf("tcp canary %q: want tcp://host:port", target)
		}
		c.Type, c.Target = "tcp", u.Host
	case "ping":
		c.Type, c.Target = "ping", u.Hostname()
	default:
		return Check{}, fmt.Errorf("want http(s)://…, tcp://host:port or ping://host, got %q", target)
	}
	return c, nil
}

func (c *Config) validateVantageSection(p *positions) {
	v := c.Vantages
	for i, t := range v.Canaries {
		if _, err := CanaryCheck(t, time.Second); err != nil {
			p.add(fmt.Sprintf("vantages.canaries[%d]", i), "%v", err)
		}
	}
	if v.CanaryInterval != 0 && time.Duration(v.CanaryInterval) < time.Second {
		p.add("vantages.canary_interval", "must be at least 1s")
	}
	if v.CanaryTimeout < 0 || (v.CanaryInterval > 0 && v.CanaryTimeout > v.CanaryInterval) {
		p.add("vantages.canary_timeout", "want 0 < canary_timeout <= canary_interval")
	}
	for loc, name := range v.PublicNames {
		k := "vantages.public_names." + loc
		if loc != "loghost" && !hostNameRE.MatchString(loc) {
			p.add(k, "want loghost or a collector's location, got %q", loc)
		}
		if strings.TrimSpace(name) == "" || len(name) > 100 {
			p.add(k, "want a name of 1 to 100 characters")
		}
	}
}
