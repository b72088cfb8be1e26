package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the loghost's configuration (DESIGN.md §5). The zero value is
// not useful: start from Default or Load.
type Config struct {
	// File is where the configuration came from ("" for the defaults).
	File string `yaml:"-"`

	Timezone string `yaml:"timezone"`
	// Redact lists regular expressions whose matches (or capture groups)
	// are masked in every line before it is parsed or stored. Absent: the
	// built-in patterns (passwords in URLs, password=, bearer tokens); an
	// empty list turns redaction off.
	Redact  []string        `yaml:"redact"`
	Server  Server          `yaml:"server"`
	Storage Storage         `yaml:"storage"`
	Hosts   map[string]Host `yaml:"hosts"`
	// SenderTimezones give the zone of zone-less times (RFC 3164
	// syslog) from senders by network; hosts.NAME.timezone by name wins.
	SenderTimezones []SenderTimezone `yaml:"sender_timezones"`
	Checks          []Check          `yaml:"checks"`
	Heartbeats      []Heartbeat      `yaml:"heartbeats"`
	Maintenance     []Maintenance    `yaml:"maintenance"`
	Rules           []RuleFile       `yaml:"rules"`
	Alerting        Alerting         `yaml:"alerting"`
	MuninNodes      []MuninNode      `yaml:"munin_nodes"`
	Thresholds      []Threshold      `yaml:"thresholds"`
	Webstats        Webstats         `yaml:"webstats"`
	StatusPage      StatusPage       `yaml:"status_page"`
	Self            Self             `yaml:"self"`
	// DomainExpiry watches the registration of every http check's domain.
	DomainExpiry DomainExpiry `yaml:"domain_expiry"`
	// Vantages: canaries and public names for probing from collectors.
	Vantages Vantages `yaml:"vantages"`

	loc       *time.Location
	hostZones map[string]*time.Location
	netZones  []netZone
	dataDir   string
	pos       *positions
}

// SenderTimezone is the zone of the syslog senders in one network.
type SenderTimezone struct {
	Network  string `yaml:"network"` // CIDR (192.0.2.0/24) or one address
	Timezone string `yaml:"timezone"`
}

type netZone struct {
	net *net.IPNet
	loc *time.Location
}

// HostZone is the zone configured for a host's zone-less log times
// (hosts.NAME.timezone), or nil.
func (c *Config) HostZone(host string) *time.Location {
	if loc, ok := c.hostZones[host]; ok {
		return loc
	}
	for name, loc := range c.hostZones {
		if strings.EqualFold(name, host) {
			return loc
		}
	}
	return nil
}

// SenderZone is the zone of zone-less times a syslog sender writes: its
// host's configured zone, else its network's (sender_timezones, first
// match), else the loghost's own zone (not the display zone: a sender
// writes its clock, which is usually the loghost's when nobody said
// otherwise).
func (c *Config) SenderZone(host string, ip net.IP) *time.Location {
	if loc := c.HostZone(host); loc != nil {
		return loc
	}
	for _, nz := range c.netZones {
		if ip != nil && nz.net.Contains(ip) {
			return nz.loc
		}
	}
	return time.Local
}

// Pos names where a key path (checks[2].conditions) was given, as
// file:line:col, for errors found after loading; the file alone when the
// key is not in it.
func (c *Config) Pos(path string) string {
	if c.pos == nil {
		return c.File
	}
	for q := path; ; {
		if n, ok := c.pos.pos[q]; ok {
			return fmt.Sprintf("%s:%d:%d", c.File, n.Line, n.Column)
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			return c.File
		}
		q = q[:i]
	}
}

// Server holds the listeners and admin credentials.
type Server struct {
	Listen          string `yaml:"listen"`
	TLSCertFile     string `yaml:"tls_cert_file"`
	TLSKeyFile      string `yaml:"tls_key_file"`
	SyslogListen    string `yaml:"syslog_listen"`     // UDP and TCP; "" turns syslog off
	SyslogTLSListen string `yaml:"syslog_tls_listen"` // TCP with the TLS certificate above
	// MetricsPublic serves /metrics without the admin token (for a
	// Prometheus or VictoriaMetrics scraper on a trusted network).
	MetricsPublic bool `yaml:"metrics_public"`
	// PublicURL is where people reach this loghost (https://status.example.org):
	// alerts link to their incident's page under it, and status page
	// subscribers get their confirmation and unsubscribe links there.
	PublicURL  string `yaml:"public_url"`
	AdminToken Secret `yaml:"admin_token"`
	Users      []User `yaml:"users"`
	// MaxConnections bounds the HTTP connections at once (0: 2048, and
	// below the open-file limit); MaxConnectionsPerAddress those of one
	// client address (0: no bound, for a loghost behind a reverse proxy).
	// BodyTimeout is how long a request may take to send its body (ingest:
	// at least 2 minutes).
	MaxConnections           int      `yaml:"max_connections"`
	MaxConnectionsPerAddress int      `yaml:"max_connections_per_address"`
	BodyTimeout              Duration `yaml:"body_timeout"`
	// SyslogMaxConnections and SyslogMaxConnectionsPerAddress bound the
	// syslog TCP connections (0: 1024 and 64); when full, the longest-idle
	// one is closed for a new one.
	SyslogMaxConnections           int `yaml:"syslog_max_connections"`
	SyslogMaxConnectionsPerAddress int `yaml:"syslog_max_connections_per_address"`
}

// User is a web UI login.
type User struct {
	Name         string `yaml:"name"`
	PasswordHash Secret `yaml:"password_hash"` // bcrypt, from `watchpost user hash`
}

// Storage configures the embedded store and optional scale-out engines.
type Storage struct {
	Path            string   `yaml:"path"`
	Retention       Duration `yaml:"retention"`
	MaxSize         ByteSize `yaml:"max_size"`
	HostQuotaPerDay ByteSize `yaml:"host_quota_per_day"`
	VictoriaMetrics string   `yaml:"victoriametrics_url"`
	VictoriaLogs    string   `yaml:"victorialogs_url"`
	// VictoriaLogsOpts are the tenant, credentials, TLS and mode of
	// victorialogs_url.
	VictoriaLogsOpts VictoriaLogs `yaml:"victorialogs"`
}

// VictoriaLogs configures log storage in VictoriaLogs (storage.victorialogs).
type VictoriaLogs struct {
	// Mode: "mirror" (default) keeps every line in the embedded store,
	// which answers searches, and ships each to VictoriaLogs too;
	// "primary" keeps only recent lines locally (LocalRetention, and any
	// line VictoriaLogs has not confirmed) and searches VictoriaLogs.
	Mode      string `yaml:"mode"`
	AccountID int64  `yaml:"account_id"`
	ProjectID int64  `yaml:"project_id"`
	// Username and Password (basic auth) or BearerToken, e.g. for vmauth
	// in front of VictoriaLogs.
	Username              string `yaml:"username"`
	Password              Secret `yaml:"password"`
	BearerToken           Secret `yaml:"bearer_token"`
	TLSCAFile             string `yaml:"tls_ca_file"`
	TLSInsecureSkipVerify bool   `yaml:"tls_insecure_skip_verify"`
	// LocalRetention (primary mode) is how long the embedded store keeps
	// lines VictoriaLogs has confirmed (default 1d).
	LocalRetention Duration `yaml:"local_retention"`
	// MaxLineSize cuts longer lines before they are sent (default 32KiB;
	// VictoriaLogs refuses lines over 256 KiB).
	MaxLineSize ByteSize `yaml:"max_line_size"`
	// MetricsURLs are where VictoriaLogs' own /metrics are read to notice
	// rows it drops (default: victorialogs_url/metrics; in a cluster, the
	// vlinsert and vlstorage nodes').
	MetricsURLs []string `yaml:"metrics_urls"`
}

// Host is one collector host's ingest credentials. Several tokens may be
// valid at once so a token can be rotated without a gap.
type Host struct {
	Token  Secret   `yaml:"token"`
	Tokens []string `yaml:"tokens"`
	// Timezone is the zone the host writes zone-less times in (RFC 3164
	// syslog, most file lines), where its collector cannot say or says
	// wrong; a host sending only syslog needs no token.
	Timezone string `yaml:"timezone"`
}

// AllTokens is every token that authenticates the host.
func (h Host) AllTokens() []string {
	var ts []string
	if h.Token != "" {
		ts = append(ts, string(h.Token))
	}
	for _, t := range h.Tokens {
		if t != "" {
			ts = append(ts, t)
		}
	}
	return ts
}

// Check is an uptime probe. Probes arrive with the checker; the keys are
// read and validated now so a configuration stays valid across upgrades.
type Check struct {
	Name           string            `yaml:"name"`
	Type           string            `yaml:"type"`
	Target         string            `yaml:"target"`
	Interval       Duration          `yaml:"interval"`
	Timeout        Duration          `yaml:"timeout"`
	Conditions     []string          `yaml:"conditions"`
	WarnConditions []string          `yaml:"warn_conditions"`
	Public         bool              `yaml:"public"`
	Group          string            `yaml:"group"`
	Method         string            `yaml:"method"`
	Headers        map[string]string `yaml:"headers"`
	Body           string            `yaml:"body"`
	Query          string            `yaml:"query"` // DNS: record type and name, e.g. "A wiki.example.org"
	Count          int               `yaml:"count"` // ping: echo requests per probe (3)
	Labels         map[string]string `yaml:"labels"`
	// FailThreshold failed probes in a row make the check down (2);
	// SuccessThreshold good ones make it up again (1).
	FailThreshold    int `yaml:"fail_threshold"`
	SuccessThreshold int `yaml:"success_threshold"`
	// TLS and connection settings of http, tls, tcp and smtp probes.
	TLSSkipVerify     bool   `yaml:"tls_skip_verify"`
	TLSCAFile         string `yaml:"tls_ca_file"`
	TLSServerName     string `yaml:"tls_server_name"`
	TLSClientCertFile string `yaml:"tls_client_cert_file"`
	TLSClientKeyFile  string `yaml:"tls_client_key_file"`
	FollowRedirects   *bool  `yaml:"follow_redirects"` // default true
	IPVersion         int    `yaml:"ip_version"`       // 4 or 6; 0: either
	RequireSTARTTLS   bool   `yaml:"require_starttls"` // smtp
	// Nameservers (dns, with a SOA query) must serve the same SOA serial
	// as the target; host[:port], tcp:// or tls:// as the target.
	Nameservers []string `yaml:"nameservers"`
	// Username and Password (smtp) log in with AUTH PLAIN or LOGIN after
	// STARTTLS (or on implicit TLS); never over a plain connection.
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// RoundTripTo (smtp) is an address the server delivers to a local
	// mbox file, RoundTripMailbox; the probe sends a message there and
	// waits for it to arrive.
	RoundTripTo      string `yaml:"roundtrip_to"`
	RoundTripMailbox string `yaml:"roundtrip_mailbox"`
	RoundTripFrom    string `yaml:"roundtrip_from"`
	// DependsOn names checks whose outage mutes this one's alerts (the
	// host's ping check for its services).
	DependsOn []string `yaml:"depends_on"`
	// Object storage for a file check whose target is s3://bucket/prefix
	// (Backblaze B2, Wasabi, MinIO, AWS ...).
	S3Endpoint  string `yaml:"s3_endpoint"` // host[:port] or https://host[:port]
	S3Region    string `yaml:"s3_region"`
	S3AccessKey string `yaml:"s3_access_key"`
	S3SecretKey Secret `yaml:"s3_secret_key"`
	// Heartbeat names a heartbeat every result of this check pings
	// (success or failure): a `cmd` check of a backup feeds its heartbeat.
	Heartbeat string `yaml:"heartbeat"`
	// Vantages names where the check runs: [all] (the default: the
	// loghost and every collector with probes: true), [loghost], or
	// collectors' locations. AlertOn is "quorum" (the default: down when
	// most places see it down) or "any" (down when any place does).
	Vantages []string `yaml:"vantages"`
	AlertOn  string   `yaml:"alert_on"`
}

// Vantages configures probing from several places: the known-good
// targets every vantage probes to tell its own network trouble from an
// outage, how often, and the names the status page may show for
// locations (none: "1 of 3 locations", no names).
type Vantages struct {
	Canaries       []string          `yaml:"canaries"`
	CanaryInterval Duration          `yaml:"canary_interval"` // 30s
	CanaryTimeout  Duration          `yaml:"canary_timeout"`  // 5s
	PublicNames    map[string]string `yaml:"public_names"`
}

// Heartbeat expects a ping (a backup finished) every period.
type Heartbeat struct {
	Name   string   `yaml:"name"`
	ID     Secret   `yaml:"id"`
	Period Duration `yaml:"period"`
	// Schedule is a cron expression ("0 2 * * *") instead of a period,
	// read in the configuration's timezone.
	Schedule   string   `yaml:"schedule"`
	Grace      Duration `yaml:"grace"`
	MinRuntime Duration `yaml:"min_runtime"` // a run that finishes faster is a failure
	MaxRuntime Duration `yaml:"max_runtime"` // a run still going after this is a failure
	Public     bool     `yaml:"public"`
	Group      string   `yaml:"group"`
}

// Maintenance silences alerts and marks checks during a window.
type Maintenance struct {
	Name  string `yaml:"name"`
	Start string `yaml:"start"` // RFC 3339 or "2006-01-02 15:04" in the timezone
	End   string `yaml:"end"`
	// Schedule (cron, in the timezone) and Duration make a recurring
	// window instead of Start and End.
	Schedule string            `yaml:"schedule"`
	Duration Duration          `yaml:"duration"`
	Checks   []string          `yaml:"checks"`
	Labels   map[string]string `yaml:"labels"` // checks whose labels include all of these
	Hosts    []string          `yaml:"hosts"`
	// Description is said on the status page when the window covers a
	// public check (announced ahead, shown while it runs, in the feed).
	Description string `yaml:"description"`
}

// RuleFile is a logsurfer-style rule file.
type RuleFile struct {
	File string `yaml:"file"`
	// Hosts and Programs select what the file sees (none: everything).
	Hosts    []string `yaml:"hosts"`
	Programs []string `yaml:"programs"`
}

// Alerting holds the default receivers (email, matrix), named receivers
// and routes.
type Alerting struct {
	Email          *Email   `yaml:"email"`
	Matrix         *Matrix  `yaml:"matrix"`
	Webhook        *Webhook `yaml:"webhook"`
	Services       `yaml:",inline"`
	Receivers      map[string]Receiver `yaml:"receivers"`
	Routes         []Route             `yaml:"routes"`
	RepeatInterval Duration            `yaml:"repeat_interval"`
	// RepeatMax caps the reminders about one incident (0: 5).
	RepeatMax int `yaml:"repeat_max"`
	// RateLimit bounds the messages per minute to each default receiver
	// (default 20; 0: unlimited), so an alert storm stays readable.
	RateLimit int `yaml:"rate_limit"`
	// HostSilentAfter opens a "host silent" alert when a collector has
	// not reported for this long (0: never).
	HostSilentAfter Duration `yaml:"host_silent_after"`
	// RuleResolveAfter resolves a rule alert's incident once the rule has
	// not fired for this long (0: 1h); a rule's resolve_after label wins.
	RuleResolveAfter Duration `yaml:"rule_resolve_after"`
	// DiskMinFree and DiskMinFreePercent: the loghost's storage raises an
	// incident under the larger of the two (0: 1 GiB and 10 %).
	DiskMinFree        ByteSize `yaml:"disk_min_free"`
	DiskMinFreePercent float64  `yaml:"disk_min_free_percent"`
	// Watchdog is a heartbeat URL elsewhere (another Watchpost's
	// /ping/{id}, or any Healthchecks.io-compatible service) the loghost
	// pings every WatchdogEvery, so someone hears when it dies.
	Watchdog      Secret   `yaml:"watchdog_url"`
	WatchdogEvery Duration `yaml:"watchdog_every"`
}

// Email sends alerts by SMTP.
type Email struct {
	SMTP     string   `yaml:"smtp"` // host:port
	TLS      string   `yaml:"tls"`  // starttls (default), implicit or none
	From     string   `yaml:"from"`
	To       []string `yaml:"to"`
	Username string   `yaml:"username"`
	Password Secret   `yaml:"password"`
	Subject  string   `yaml:"subject"` // templates (docs/CONFIG.md)
	Body     string   `yaml:"body"`
}

// Matrix sends alerts to a Matrix room.
type Matrix struct {
	Homeserver  string `yaml:"homeserver"`
	AccessToken Secret `yaml:"access_token"`
	Room        string `yaml:"room"`
	Body        string `yaml:"body"` // templates of the plain and the HTML body
	HTML        string `yaml:"html"`
}

// Webhook posts alerts as JSON, signed with HMAC-SHA256.
type Webhook struct {
	URL    string `yaml:"url"`
	Secret Secret `yaml:"secret"`
	// Body and Headers are templates: the body replaces the JSON
	// payload ({"text": {{ .Subject | json }}}), sent as ContentType.
	Body        string            `yaml:"body"`
	Headers     map[string]string `yaml:"headers"`
	ContentType string            `yaml:"content_type"`
}

// Receiver is a named set of destinations; unset parts inherit from the
// default receivers.
type Receiver struct {
	Email     *Email   `yaml:"email"`
	Matrix    *Matrix  `yaml:"matrix"`
	Webhook   *Webhook `yaml:"webhook"`
	Services  `yaml:",inline"`
	RateLimit int `yaml:"rate_limit"` // messages per minute (0: unlimited)
}

// Route sends alerts whose labels match to a receiver.
// A match value "=~RE" is an anchored regular expression, "!=V" and
// "!~RE" negate; anything else is equality.
type Route struct {
	Match    map[string]string `yaml:"match"`
	Receiver string            `yaml:"receiver"`
	Continue bool              `yaml:"continue"`
	// GroupBy labels gather alerts into one message per group; GroupWait
	// holds a new group's first message, GroupInterval later ones.
	GroupBy       []string `yaml:"group_by"`
	GroupWait     Duration `yaml:"group_wait"`
	GroupInterval Duration `yaml:"group_interval"`
	// RepeatInterval and RepeatMax override alerting's for this route.
	RepeatInterval Duration `yaml:"repeat_interval"`
	RepeatMax      int      `yaml:"repeat_max"`
	// EscalateTo is told when an incident is not acknowledged within
	// EscalateAfter.
	EscalateAfter Duration `yaml:"escalate_after"`
	EscalateTo    string   `yaml:"escalate_to"`
	// DependsOn names checks (a host's ping, say): while one is down,
	// this route's alerts are muted.
	DependsOn []string `yaml:"depends_on"`
	// Digest collects everything this route sends into one message per
	// receiver every Digest (low severities: one email an hour).
	Digest Duration `yaml:"digest"`
}

// MuninNode is a munin-node the loghost polls.
type MuninNode struct {
	Name     string   `yaml:"name"`
	Address  string   `yaml:"address"`
	Interval Duration `yaml:"interval"`
}

// Threshold sets warning and critical ranges for metric fields; the
// first matching entry wins over the plugin's own warning/critical.
// Patterns are shell globs; an empty one matches everything.
type Threshold struct {
	Host     string `yaml:"host"`
	Graph    string `yaml:"graph"` // plugin or graph name ("df", "if_eth0")
	Field    string `yaml:"field"`
	Warning  string `yaml:"warning"`  // munin range: "max", "min:", ":max", "min:max"
	Critical string `yaml:"critical"` // same
}

// Webstats lists the sites web statistics are kept for.
type Webstats struct {
	Sites []Site `yaml:"sites"`
	// Definitions apply to every site without its own: AWStats 7.8's
	// when empty.
	Definitions WebDefinitions `yaml:"definitions"`
	// GeoIP is a MaxMind-format country database (GeoLite2-Country.mmdb):
	// with it, reports get a countries table.
	GeoIP string `yaml:"geoip_file"`
}

// Site is one web site.
type Site struct {
	Name    string   `yaml:"name"`
	Aliases []string `yaml:"aliases"`
	// Privacy stores client addresses "truncate"d (/24, /48) or "hash"ed
	// (keyed with PrivacyKey) for sites that promise not to keep them.
	Privacy    string `yaml:"privacy"`
	PrivacyKey Secret `yaml:"privacy_key"`
	// Definitions replace webstats.definitions for this site, key by key.
	Definitions WebDefinitions `yaml:"definitions"`
}

// WebDefinitions say what a visit and a hit are; an empty key keeps
// AWStats 7.8's meaning.
type WebDefinitions struct {
	VisitTimeout          Duration `yaml:"visit_timeout"`            // 1h
	SplitVisitsAtMidnight *bool    `yaml:"split_visits_at_midnight"` // true
	HitCodes              []int    `yaml:"hit_codes"`                // [200, 304]
}

// Over returns d with the keys it leaves empty taken from base.
func (d WebDefinitions) Over(base WebDefinitions) WebDefinitions {
	if d.VisitTimeout == 0 {
		d.VisitTimeout = base.VisitTimeout
	}
	if d.SplitVisitsAtMidnight == nil {
		d.SplitVisitsAtMidnight = base.SplitVisitsAtMidnight
	}
	if len(d.HitCodes) == 0 {
		d.HitCodes = base.HitCodes
	}
	return d
}

// StatusPage configures the public page.
type StatusPage struct {
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	Groups      []string `yaml:"groups"` // display order of check groups
	// Subscriptions lets visitors subscribe by email (double opt-in).
	Subscriptions Subscriptions `yaml:"subscriptions"`
}

// Subscriptions are the status page's email subscriptions. The SMTP
// settings left out are alerting.email's.
type Subscriptions struct {
	Enabled  bool   `yaml:"enabled"`
	SMTP     string `yaml:"smtp"`
	TLS      string `yaml:"tls"`
	From     string `yaml:"from"`
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// RateLimit bounds the messages a minute to all subscribers together
	// (60 when 0); the rest wait their turn in the outbox.
	RateLimit int `yaml:"rate_limit"`
	// Announce is how long ahead a public maintenance window is shown
	// and announced to subscribers (7d when 0).
	Announce Duration `yaml:"announce"`
}

// Self is the loghost's own host: it reads its journal and log files
// like a collector would.
type Self struct {
	Enabled bool     `yaml:"enabled"`
	Journal bool     `yaml:"journal"`
	Files   []string `yaml:"files"`
}

// Default is the configuration of a loghost started without a file: data
// in dataDir, HTTP and syslog on loopback, its own host collected.
func Default(dataDir string) *Config {
	c := defaults()
	c.dataDir = dataDir
	c.Storage.Path = filepath.Join(dataDir, "watchpost.db")
	c.loc = time.Local
	return c
}

// defaultSelfFiles are the log files the loghost reads on its own host
// when they exist and it may read them. Debian 12 keeps auth and daemon
// logs only in the journal unless rsyslog is installed.
var defaultSelfFiles = []string{
	"/var/log/syslog", "/var/log/messages", "/var/log/auth.log", "/var/log/kern.log",
	"/var/log/mail.log", "/var/log/daemon.log", "/var/log/nginx/*.log", "/var/log/apache2/*.log",
}

func defaults() *Config {
	return &Config{
		Server: Server{
			Listen:                   "127.0.0.1:8080",
			SyslogListen:             "127.0.0.1:5514",
			MaxConnectionsPerAddress: 64,
			BodyTimeout:              Duration(10 * time.Second),
		},
		Storage: Storage{
			Retention: Duration(30 * 24 * time.Hour),
		},
		// 20 messages a minute to the default receiver: an alert storm
		// stays readable and a flood of rule matches cannot mail-bomb
		// anyone; rate_limit: 0 lifts it.
		Alerting: Alerting{RepeatInterval: Duration(4 * time.Hour), RateLimit: 20},
		Self: Self{
			Enabled: true,
			Journal: true,
			Files:   append([]string(nil), defaultSelfFiles...),
		},
	}
}

// Load reads and validates a loghost configuration file. Relative paths
// in it are taken from the file's folder.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a loghost configuration from data; file names it in errors
// and anchors relative paths.
func Parse(file string, data []byte) (*Config, error) {
	c, err := ParseAll(file, data)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ParseAll is Parse for `config check`: with errors it still returns what
// it could read (nil only after a YAML syntax error), so that the checks
// that need other packages (probe conditions, rule files) run too and a
// file's every error is reported in one run.
func ParseAll(file string, data []byte) (*Config, error) {
	c := defaults()
	c.File = file
	pos, err := decodeFile(file, data, c)
	var decodeErrs Errors
	if err != nil {
		var ok bool
		if decodeErrs, ok = err.(Errors); !ok || len(pos.pos) == 0 {
			return nil, err // YAML syntax: nothing was read
		}
	}
	c.resolvePaths(filepath.Dir(file))
	c.validate(pos)
	// A key that could not be read holds its zero value: what validation
	// says about it again is noise.
	bad := map[string]bool{}
	for _, e := range decodeErrs {
		bad[e.Key] = true
	}
	for _, e := range pos.errs {
		if !bad[e.Key] {
			decodeErrs = append(decodeErrs, e)
		}
	}
	pos.errs = decodeErrs
	c.pos = pos
	return c, pos.err()
}

func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.Storage.Path)
	for i := range c.Checks {
		abs(&c.Checks[i].TLSCAFile)
		abs(&c.Checks[i].TLSClientCertFile)
		abs(&c.Checks[i].TLSClientKeyFile)
	}
	abs(&c.Server.TLSCertFile)
	abs(&c.Server.TLSKeyFile)
	abs(&c.Webstats.GeoIP)
	for i := range c.Rules {
		abs(&c.Rules[i].File)
	}
	if c.Storage.Path != "" {
		c.dataDir = filepath.Dir(c.Storage.Path)
	}
}

// Location is where days begin for reports and uptime bars.
func (c *Config) Location() *time.Location {
	if c.loc == nil {
		return time.Local
	}
	return c.loc
}

// DataDir is the folder of the database and the generated secrets ("" when
// the file gives no storage.path: the caller picks its default).
func (c *Config) DataDir() string { return c.dataDir }
