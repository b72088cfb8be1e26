package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/watchpost/watchpost/internal/wallclock"
	"github.com/watchpost/watchpost/munin"
)

var (
	// Counted repeats are written as lengths: regexp compiles x{0,127}
	// into 127 copies of x, and the program stays in memory for the
	// process's life (150 kB in every agent for this one).
	hostNameRE = sized(`^[A-Za-z0-9][A-Za-z0-9._-]*$`, 1, 128)
	checkTypes = map[string]bool{"http": true, "tcp": true, "tls": true, "dns": true, "smtp": true, "cmd": true, "file": true,
		"udp": true, "ping": true, "domain": true}
	emailTLS = map[string]bool{"": true, "starttls": true, "implicit": true, "none": true}
)

// validate checks what the types cannot: addresses, names, references
// between sections. Errors land in p at the key they concern.
func (c *Config) validate(p *positions) {
	c.loc = time.Local
	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			p.add("timezone", "unknown time zone %q (want e.g. Europe/Berlin or UTC)", c.Timezone)
		} else {
			c.loc = loc
		}
	}
	for i, pat := range c.Redact {
		if _, err := regexp.Compile(pat); err != nil {
			p.add(fmt.Sprintf("redact[%d]", i), "bad regular expression: %v", err)
		}
	}
	c.validateServer(p)
	if c.Storage.Retention < 0 {
		p.add("storage.retention", "must not be negative")
	}
	if c.Storage.MaxSize < 0 || c.Storage.HostQuotaPerDay < 0 {
		p.add("storage", "sizes must not be negative")
	}
	for _, k := range []struct{ key, v string }{
		{"storage.victoriametrics_url", c.Storage.VictoriaMetrics},
		{"storage.victorialogs_url", c.Storage.VictoriaLogs},
	} {
		if k.v != "" {
			validURL(p, k.key, k.v)
		}
	}
	if sub := c.StatusPage.Subscriptions; sub.Enabled {
		if c.Server.PublicURL == "" {
			p.add("status_page.subscriptions.enabled", "needs server.public_url (the links in the messages point there)")
		}
		smtp, from := sub.SMTP, sub.From
		if e := c.Alerting.Email; e != nil {
			smtp, from = cmpOr(smtp, e.SMTP), cmpOr(from, e.From)
		}
		if smtp == "" || from == "" {
			p.add("status_page.subscriptions", "needs smtp and from (here or in alerting.email)")
		}
		if !emailTLS[sub.TLS] {
			p.add("status_page.subscriptions.tls", "want starttls, implicit or none")
		}
		if sub.RateLimit < 0 {
			p.add("status_page.subscriptions.rate_limit", "must not be negative")
		}
	}
	c.validateVictoriaLogs(p)
	c.validateHosts(p)
	for i, st := range c.SenderTimezones {
		key := fmt.Sprintf("sender_timezones[%d]", i)
		nw := st.Network
		if !strings.Contains(nw, "/") {
			if ip := net.ParseIP(nw); ip != nil {
				bits := 32
				if ip.To4() == nil {
					bits = 128
				}
				nw = fmt.Sprintf("%s/%d", nw, bits)
			}
		}
		_, ipn, err := net.ParseCIDR(nw)
		if err != nil {
			p.add(key+".network", "want a network (192.0.2.0/24) or an address, got %q", st.Network)
		}
		loc, lerr := time.LoadLocation(st.Timezone)
		if lerr != nil || st.Timezone == "" || st.Timezone == "Local" {
			p.add(key+".timezone", "unknown time zone %q (want e.g. Europe/Berlin or UTC)", st.Timezone)
		}
		if err == nil && lerr == nil {
			c.netZones = append(c.netZones, netZone{net: ipn, loc: loc})
		}
	}
	c.validateChecks(p)
	c.addDomainChecks(p)
	c.validateAlerting(p)
	c.validateTemplates(p)
	for i, r := range c.Rules {
		if r.File == "" {
			p.add(fmt.Sprintf("rules[%d].file", i), "missing")
		}
	}
	names := map[string]bool{}
	for i, m := range c.MuninNodes {
		key := fmt.Sprintf("munin_nodes[%d]", i)
		uniqueName(p, key, m.Name, names, "")
		if m.Address == "" {
			p.add(key+".address", "missing")
		} else if _, _, err := net.SplitHostPort(m.Address); err != nil {
			// A bare host name means munin's port.
			c.MuninNodes[i].Address = net.JoinHostPort(m.Address, "4949")
		}
		if m.Interval != 0 && time.Duration(m.Interval) < 10*time.Second {
			p.add(key+".interval", "at least 10s")
		}
	}
	for i, t := range c.Thresholds {
		key := fmt.Sprintf("thresholds[%d]", i)
		for _, kv := range []struct{ k, v string }{{"host", t.Host}, {"graph", t.Graph}, {"field", t.Field}} {
			if _, err := path.Match(kv.v, ""); err != nil {
				p.add(key+"."+kv.k, "bad pattern %q: %v", kv.v, err)
			}
		}
		for _, kv := range []struct{ k, v string }{{"warning", t.Warning}, {"critical", t.Critical}} {
			if kv.v == "" {
				continue
			}
			if _, err := munin.ParseRange(kv.v); err != nil {
				p.add(key+"."+kv.k, "%v", err)
			}
		}
		if t.Warning == "" && t.Critical == "" {
			p.add(key, "give warning, critical or both")
		}
	}
	validWebDefinitions(p, "webstats.definitions", c.Webstats.Definitions)
	for i, s := range c.Webstats.Sites {
		validWebDefinitions(p, fmt.Sprintf("webstats.sites[%d].definitions", i), s.Definitions)
		if s.Name == "" {
			p.add(fmt.Sprintf("webstats.sites[%d].name", i), "missing")
		}
		switch s.Privacy {
		case "", "truncate":
		case "hash":
			if len(s.PrivacyKey) < 16 {
				p.add(fmt.Sprintf("webstats.sites[%d].privacy_key", i), "privacy: hash needs a key of at least 16 characters")
			}
		default:
			p.add(fmt.Sprintf("webstats.sites[%d].privacy", i), "want truncate or hash, got %q", s.Privacy)
		}
	}
}

func (c *Config) validateVictoriaLogs(p *positions) {
	v := &c.Storage.VictoriaLogsOpts
	const key = "storage.victorialogs"
	set := v.Mode != "" || v.AccountID != 0 || v.ProjectID != 0 || v.Username != "" || v.Password != "" || v.BearerToken != "" ||
		v.TLSCAFile != "" || v.TLSInsecureSkipVerify || v.LocalRetention != 0 || v.MaxLineSize != 0 || len(v.MetricsURLs) > 0
	if c.Storage.VictoriaLogs == "" {
		if set {
			p.add(key, "needs storage.victorialogs_url")
		}
		return
	}
	switch v.Mode {
	case "", "mirror", "primary":
	default:
		p.add(key+".mode", "want mirror or primary, got %q", v.Mode)
	}
	for _, id := range []struct {
		k string
		v int64
	}{{"account_id", v.AccountID}, {"project_id", v.ProjectID}} {
		if id.v < 0 || id.v > 1<<32-1 {
			p.add(key+"."+id.k, "want a number from 0 to 4294967295")
		}
	}
	if v.BearerToken != "" && (v.Username != "" || v.Password != "") {
		p.add(key+".bearer_token", "give username and password, or bearer_token, not both")
	}
	if v.Password != "" && v.Username == "" {
		p.add(key+".password", "needs username")
	}
	if v.LocalRetention < 0 || v.LocalRetention > 0 && time.Duration(v.LocalRetention) < time.Hour {
		p.add(key+".local_retention", "at least 1h")
	}
	if v.LocalRetention != 0 && v.Mode != "primary" {
		p.add(key+".local_retention", "only with mode: primary (a mirror keeps every line for storage.retention)")
	}
	if v.MaxLineSize < 0 || v.MaxLineSize > 0 && (v.MaxLineSize < 1024 || v.MaxLineSize > 128<<10) {
		p.add(key+".max_line_size", "from 1KiB to 128KiB (VictoriaLogs refuses lines over 256 KiB)")
	}
	if v.TLSCAFile != "" {
		if _, err := os.Stat(v.TLSCAFile); err != nil {
			p.add(key+".tls_ca_file", "cannot read: %v", err)
		}
	}
	for i, u := range v.MetricsURLs {
		validURL(p, fmt.Sprintf("%s.metrics_urls[%d]", key, i), u)
	}
}

func (c *Config) validateServer(p *positions) {
	s := &c.Server
	for _, a := range []struct{ key, v string }{
		{"server.listen", s.Listen},
		{"server.syslog_listen", s.SyslogListen},
		{"server.syslog_tls_listen", s.SyslogTLSListen},
	} {
		if a.v == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(a.v); err != nil || port == "" {
			p.add(a.key, "want host:port (e.g. 0.0.0.0:8443), got %q", a.v)
		}
	}
	if s.Listen == "" {
		p.add("server.listen", "must not be empty")
	}
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		p.add("server.tls_cert_file", "give both tls_cert_file and tls_key_file, or neither")
	}
	if s.SyslogTLSListen != "" && s.TLSCertFile == "" {
		p.add("server.syslog_tls_listen", "needs tls_cert_file and tls_key_file")
	}
	if s.PublicURL != "" {
		validURL(p, "server.public_url", s.PublicURL)
	}
	for _, n := range []struct {
		key string
		v   int
	}{{"server.max_connections", s.MaxConnections}, {"server.max_connections_per_address", s.MaxConnectionsPerAddress},
		{"server.syslog_max_connections", s.SyslogMaxConnections}, {"server.syslog_max_connections_per_address", s.SyslogMaxConnectionsPerAddress}} {
		if n.v < 0 {
			p.add(n.key, "must not be negative")
		}
	}
	if s.BodyTimeout < 0 {
		p.add("server.body_timeout", "must not be negative")
	}
	if s.AdminToken != "" && len(s.AdminToken) < 16 {
		p.add("server.admin_token", "too short: use at least 16 characters")
	}
	seen := map[string]bool{}
	for i, u := range s.Users {
		key := fmt.Sprintf("server.users[%d]", i)
		uniqueName(p, key, u.Name, seen, "")
		h := string(u.PasswordHash)
		if !(strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")) {
			p.add(key+".password_hash", "not a bcrypt hash: make one with `watchpost user hash`")
		}
	}
}

func (c *Config) validateHosts(p *positions) {
	owner := map[string]string{}
	if c.Server.AdminToken != "" {
		owner[string(c.Server.AdminToken)] = "the admin token"
	}
	for _, name := range sortedKeys(c.Hosts) {
		h := c.Hosts[name]
		key := "hosts." + name
		if !hostNameRE.MatchString(name) {
			p.add(key, "host names are letters, digits, '.', '_' and '-'")
		}
		toks := h.AllTokens()
		if len(toks) == 0 && h.Timezone == "" {
			p.add(key, "give token, token_file or tokens (or only a timezone, for a host that sends syslog)")
		}
		if h.Timezone != "" {
			if loc, err := time.LoadLocation(h.Timezone); err != nil || h.Timezone == "Local" {
				p.add(key+".timezone", "unknown time zone %q (want e.g. Europe/Berlin or UTC)", h.Timezone)
			} else {
				if c.hostZones == nil {
					c.hostZones = map[string]*time.Location{}
				}
				c.hostZones[name] = loc
			}
		}
		for _, t := range toks {
			if len(t) < 8 {
				p.add(key, "a token is too short: use at least 8 characters")
			}
			if o, ok := owner[t]; ok {
				p.add(key, "a token is also used by %s: every host needs its own", o)
			}
			owner[t] = "host " + name
		}
	}
}

func (c *Config) validateChecks(p *positions) {
	names := map[string]bool{}
	all := map[string]bool{}
	for _, ch := range c.Checks {
		all[ch.Name] = true
	}
	for i, ch := range c.Checks {
		key := fmt.Sprintf("checks[%d]", i)
		uniqueName(p, key, ch.Name, names, "")
		if ch.Heartbeat != "" && !slices.ContainsFunc(c.Heartbeats, func(h Heartbeat) bool { return h.Name == ch.Heartbeat }) {
			p.add(key+".heartbeat", "no heartbeat is named %q", ch.Heartbeat)
		}
		for j, d := range ch.DependsOn {
			if !all[d] || d == ch.Name {
				p.add(fmt.Sprintf("%s.depends_on[%d]", key, j), "%q is not another check", d)
			}
		}
		if !checkTypes[ch.Type] {
			p.add(key+".type", "want http, tcp, tls, dns, smtp, cmd, file, udp, ping or domain, got %q", ch.Type)
		}
		if ch.Target == "" {
			p.add(key+".target", "missing")
		} else if ch.Type == "http" {
			validURL(p, key+".target", ch.Target)
		}
		if ch.Interval != 0 && time.Duration(ch.Interval) < time.Second {
			p.add(key+".interval", "must be at least 1s")
		}
		if ch.Timeout < 0 {
			p.add(key+".timeout", "must not be negative")
		}
		if ch.IPVersion != 0 && ch.IPVersion != 4 && ch.IPVersion != 6 {
			p.add(key+".ip_version", "want 4 or 6")
		}
		if (ch.TLSClientCertFile == "") != (ch.TLSClientKeyFile == "") {
			p.add(key+".tls_client_cert_file", "give tls_client_cert_file and tls_client_key_file together")
		}
		validateProbeExtras(p, key, ch)
		if ch.FailThreshold < 0 || ch.FailThreshold > 100 {
			p.add(key+".fail_threshold", "want 1 to 100")
		}
		if ch.SuccessThreshold < 0 || ch.SuccessThreshold > 100 {
			p.add(key+".success_threshold", "want 1 to 100")
		}
		validateVantages(p, key, ch)
	}
	c.validateVantageSection(p)
	for i, hb := range c.Heartbeats {
		key := fmt.Sprintf("heartbeats[%d]", i)
		uniqueName(p, key, hb.Name, names, " (checks and heartbeats share names)")
		if len(hb.ID) < 16 {
			p.add(key+".id", "want a secret of at least 16 characters (a UUID)")
		}
		switch {
		case hb.Schedule != "" && hb.Period != 0:
			p.add(key+".schedule", "give period or schedule, not both")
		case hb.Schedule != "":
			if _, err := wallclock.Parse(hb.Schedule, time.UTC); err != nil {
				p.add(key+".schedule", "bad cron expression: %v", err)
			}
		case hb.Period <= 0:
			p.add(key+".period", "missing (or give a cron schedule)")
		}
		if hb.MinRuntime < 0 || hb.MaxRuntime < 0 || (hb.MaxRuntime > 0 && hb.MinRuntime > hb.MaxRuntime) {
			p.add(key+".min_runtime", "want 0 <= min_runtime <= max_runtime")
		}
		if hb.Grace < 0 {
			p.add(key+".grace", "must not be negative")
		}
	}
	for i, m := range c.Maintenance {
		key := fmt.Sprintf("maintenance[%d]", i)
		if m.Schedule != "" {
			if _, err := wallclock.Parse(m.Schedule, time.UTC); err != nil {
				p.add(key+".schedule", "bad cron expression: %v", err)
			}
			if m.Duration <= 0 {
				p.add(key+".duration", "a recurring window needs a duration")
			}
			if m.Start != "" || m.End != "" {
				p.add(key+".schedule", "give start and end, or schedule and duration")
			}
		} else {
			start, err1 := ParseTime(m.Start, c.Location())
			end, err2 := ParseTime(m.End, c.Location())
			if err1 != nil {
				p.add(key+".start", "%v", err1)
			}
			if err2 != nil {
				p.add(key+".end", "%v", err2)
			}
			if err1 == nil && err2 == nil && !end.After(start) {
				p.add(key+".end", "must be after start")
			}
		}
		for j, n := range m.Checks {
			if !names[n] {
				p.add(fmt.Sprintf("%s.checks[%d]", key, j), "no check or heartbeat is named %q", n)
			}
		}
	}
}

func (c *Config) validateAlerting(p *positions) {
	a := &c.Alerting
	if a.Email != nil {
		validEmail(p, "alerting.email", a.Email, true)
	}
	if a.Matrix != nil {
		validMatrix(p, "alerting.matrix", a.Matrix, true)
	}
	if a.Webhook != nil {
		validURL(p, "alerting.webhook.url", a.Webhook.URL)
		if len(a.Webhook.Secret) < 16 && (a.Webhook.Body == "" || a.Webhook.Secret != "") {
			p.add("alerting.webhook.secret", "want a secret of at least 16 characters (the receiver checks the signature with it)")
		}
	}
	for _, name := range sortedKeys(a.Receivers) {
		r := a.Receivers[name]
		key := "alerting.receivers." + name
		if r.Email == nil && r.Matrix == nil && r.Webhook == nil && !r.Services.Any() {
			p.add(key, "give email, matrix, webhook, ntfy, gotify, slack, discord, telegram or pushover")
		}
		if r.Webhook != nil {
			validURL(p, key+".webhook.url", r.Webhook.URL)
			if len(r.Webhook.Secret) < 16 && (r.Webhook.Body == "" || r.Webhook.Secret != "") {
				p.add(key+".webhook.secret", "want a secret of at least 16 characters")
			}
		}
		if r.RateLimit < 0 {
			p.add(key+".rate_limit", "must not be negative")
		}
		if r.Email != nil {
			validEmail(p, key+".email", r.Email, a.Email == nil)
		}
		if r.Matrix != nil {
			validMatrix(p, key+".matrix", r.Matrix, a.Matrix == nil)
		}
	}
	for i, r := range a.Routes {
		key := fmt.Sprintf("alerting.routes[%d].receiver", i)
		if _, ok := a.Receivers[r.Receiver]; !ok && r.Receiver != "default" {
			p.add(key, "no receiver is named %q", r.Receiver)
		}
		rk := fmt.Sprintf("alerting.routes[%d]", i)
		for _, name := range sortedKeys(r.Match) {
			v := r.Match[name]
			if strings.HasPrefix(v, "=~") || strings.HasPrefix(v, "!~") {
				if _, err := regexp.Compile("^(?:" + v[2:] + ")$"); err != nil {
					p.add(rk+".match."+name, "bad regular expression: %v", err)
				}
			}
		}
		if _, ok := a.Receivers[r.EscalateTo]; r.EscalateTo != "" && !ok && r.EscalateTo != "default" {
			p.add(rk+".escalate_to", "no receiver is named %q", r.EscalateTo)
		}
		if (r.EscalateTo == "") != (r.EscalateAfter == 0) {
			p.add(rk+".escalate_after", "give escalate_after and escalate_to together")
		}
		if r.GroupWait < 0 || r.GroupInterval < 0 || r.RepeatInterval < 0 || r.EscalateAfter < 0 || r.RepeatMax < 0 || r.Digest < 0 {
			p.add(rk, "durations and repeat_max must not be negative")
		}
	}
	if a.RepeatMax < 0 || a.RateLimit < 0 || a.HostSilentAfter < 0 || a.RuleResolveAfter < 0 || a.DiskMinFree < 0 {
		p.add("alerting", "repeat_max, rate_limit, host_silent_after, rule_resolve_after and disk_min_free must not be negative")
	}
	if a.DiskMinFreePercent < 0 || a.DiskMinFreePercent >= 100 {
		p.add("alerting.disk_min_free_percent", "must be from 0 to below 100")
	}
	if a.Watchdog != "" {
		validURL(p, "alerting.watchdog_url", string(a.Watchdog))
	}
	if a.WatchdogEvery < 0 {
		p.add("alerting.watchdog_every", "must not be negative")
	}
	if a.RepeatInterval < 0 {
		p.add("alerting.repeat_interval", "must not be negative")
	}
}

// validEmail checks an email receiver; full means it must stand alone
// rather than inherit server settings from alerting.email.
func validEmail(p *positions, key string, e *Email, full bool) {
	if !emailTLS[e.TLS] {
		p.add(key+".tls", "want starttls, implicit or none, got %q", e.TLS)
	}
	if e.SMTP != "" {
		if _, _, err := net.SplitHostPort(e.SMTP); err != nil {
			p.add(key+".smtp", "want host:port (e.g. mail.example.org:587), got %q", e.SMTP)
		}
	} else if full {
		p.add(key+".smtp", "missing")
	}
	if full && e.From == "" {
		p.add(key+".from", "missing")
	}
	if len(e.To) == 0 {
		p.add(key+".to", "missing")
	}
	for i, t := range e.To {
		if !strings.Contains(t, "@") {
			p.add(fmt.Sprintf("%s.to[%d]", key, i), "%q is not an address", t)
		}
	}
}

func validMatrix(p *positions, key string, m *Matrix, full bool) {
	switch {
	case strings.Contains(m.Homeserver, "://"):
		validURL(p, key+".homeserver", m.Homeserver)
	case m.Homeserver != "":
		// A server name: the homeserver is found through its
		// /.well-known/matrix/client.
		if !hostNameRE.MatchString(strings.TrimSuffix(m.Homeserver, ":443")) && !strings.Contains(m.Homeserver, ":") {
			p.add(key+".homeserver", "want an http(s) URL or a server name, got %q", m.Homeserver)
		}
	case full:
		p.add(key+".homeserver", "missing")
	}
	if full && m.AccessToken == "" {
		p.add(key+".access_token", "missing (give access_token or access_token_file)")
	}
	if !strings.HasPrefix(m.Room, "!") && !strings.HasPrefix(m.Room, "#") {
		p.add(key+".room", "want a room id (!abc:example.org) or alias (#ops:example.org)")
	}
}

func validWebDefinitions(p *positions, key string, d WebDefinitions) {
	if t := time.Duration(d.VisitTimeout); t != 0 && (t < time.Second || t > 24*time.Hour) {
		p.add(key+".visit_timeout", "want between 1s and 24h, got %s", t)
	}
	for i, c := range d.HitCodes {
		if c < 100 || c > 599 {
			p.add(fmt.Sprintf("%s.hit_codes[%d]", key, i), "want an HTTP status from 100 to 599, got %d", c)
		}
	}
}

func validURL(p *positions, key, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key, "want an http:// or https:// URL, got %q", s)
	}
}

// ParseTime reads a maintenance time: RFC 3339, or "2006-01-02 15:04" in loc.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("want a time like 2026-03-01 22:00 or RFC 3339, got %q", s)
}

// uniqueName checks that a name is given and not used before.
func uniqueName(p *positions, key, name string, seen map[string]bool, note string) {
	if name == "" {
		p.add(key+".name", "missing")
	} else if seen[name] {
		p.add(key+".name", "%q is used twice%s", name, note)
	}
	seen[name] = true
}

// validateProbeExtras checks the keys only some probe types take.
func validateProbeExtras(p *positions, key string, ch Check) {
	if len(ch.Nameservers) > 0 {
		if ch.Type != "dns" {
			p.add(key+".nameservers", "only dns checks take nameservers")
		} else if f := strings.Fields(ch.Query); len(f) != 2 || (!strings.EqualFold(f[0], "SOA") && !strings.EqualFold(f[1], "SOA")) {
			p.add(key+".nameservers", "compare SOA serials: the query must be \"SOA zone\"")
		}
		for j, ns := range ch.Nameservers {
			if strings.TrimSpace(ns) == "" {
				p.add(fmt.Sprintf("%s.nameservers[%d]", key, j), "empty")
			}
		}
	}
	if ch.Username != "" || ch.Password != "" {
		if ch.Type != "smtp" {
			p.add(key+".username", "only smtp checks log in")
		} else if ch.Username == "" || ch.Password == "" {
			p.add(key+".username", "give username and password together")
		}
	}
	if ch.RoundTripTo != "" || ch.RoundTripMailbox != "" || ch.RoundTripFrom != "" {
		if ch.Type != "smtp" {
			p.add(key+".roundtrip_to", "only smtp checks make a round trip")
		} else if ch.RoundTripTo == "" || ch.RoundTripMailbox == "" {
			p.add(key+".roundtrip_to", "give roundtrip_to and roundtrip_mailbox together")
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sizedRE is a regular expression and the length, in bytes, a match
// must have.
type sizedRE struct {
	re       *regexp.Regexp
	min, max int
}

func sized(expr string, min, max int) sizedRE {
	return sizedRE{regexp.MustCompile(expr), min, max}
}

func (s sizedRE) MatchString(v string) bool {
	return len(v) >= s.min && len(v) <= s.max && s.re.MatchString(v)
}
