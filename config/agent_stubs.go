//go:build agent

package config

// The agent build reads the collector's configuration and the checks a
// loghost hands its vantages, never a loghost's configuration: the
// message templates' parser and the domain registry tables (public
// suffixes, international names) stay out of it.

func validTemplate(p *positions, key, src string, check func(string) error) {}

func (c *Config) addDomainChecks(p *positions) {
	if c.DomainExpiry.HTTPChecks != 0 {
		p.add("domain_expiry.http_checks", "not in the agent build: the loghost checks domains")
	}
}
