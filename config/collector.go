package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"
)

// Collector is a collector's configuration (DESIGN.md §5).
type Collector struct {
	File string `yaml:"-"`

	Server   string          `yaml:"server"` // the loghost's URL
	Token    Secret          `yaml:"token"`
	CAFile   string          `yaml:"ca_file"` // trust this CA instead of the system roots
	Host     string          `yaml:"host"`    // default: the hostname
	Journal  bool            `yaml:"journal"`
	Files    []CollectorFile `yaml:"files"`
	StateDir string          `yaml:"state_dir"` // checkpoints (and the spool by default)
	Spool    string          `yaml:"spool"`
	SpoolMax ByteSize        `yaml:"spool_max_size"`
	Interval Duration        `yaml:"interval"`
	// Metrics turns the built-in /proc readers on (default true).
	Metrics         *bool  `yaml:"metrics"`
	MuninPlugins    string `yaml:"munin_plugins"`     // default /etc/munin/plugins when it exists; "none" turns plugins off
	MuninPluginConf string `yaml:"munin_plugin_conf"` // default /etc/munin/plugin-conf.d
	MuninListen     string `yaml:"munin_listen"`
	// MuninAllow lists the addresses (CIDR) allowed to poll munin_listen;
	// empty allows loopback only.
	MuninAllow []string `yaml:"munin_allow"`
	// Probes makes this host a vantage: it runs the loghost's checks
	// assigned to its Location (default: the host name) and sends the
	// results; those it cannot send wait in a spool bounded in size and
	// age.
	Probes           bool     `yaml:"probes"`
	Location         string   `yaml:"location"`
	ProbeSpoolMax    ByteSize `yaml:"probe_spool_max_size"`
	ProbeSpoolMaxAge Duration `yaml:"probe_spool_max_age"`
}

// CollectorFile is a followed file or glob.
type CollectorFile struct {
	Path             string   `yaml:"path"`
	Format           string   `yaml:"format"`
	Site             string   `yaml:"site"`
	Multiline        string   `yaml:"multiline"` // a line not matching this continues the event
	MultilineMax     ByteSize `yaml:"multiline_max"`
	MultilineTimeout Duration `yaml:"multiline_timeout"`
}

func collectorDefaults() *Collector {
	return &Collector{
		Journal:  true,
		SpoolMax: ByteSize(512 << 20),
		Interval: Duration(60 * time.Second),
	}
}

// LoadCollector reads and validates a collector configuration file.
func LoadCollector(path string) (*Collector, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseCollector(path, data)
}

// ParseCollector reads a collector configuration from data.
func ParseCollector(file string, data []byte) (*Collector, error) {
	c := collectorDefaults()
	c.File = file
	pos, err := decodeFile(file, data, c)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(file)
	for _, p := range []*string{&c.CAFile, &c.StateDir, &c.Spool, &c.MuninPlugins, &c.MuninPluginConf} {
		if *p != "" && *p != "none" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	if c.Server == "" {
		pos.add("server", "missing: the loghost's URL, e.g. https://loghost.example.org:8443")
	} else {
		validURL(pos, "server", c.Server)
	}
	if c.Token == "" {
		pos.add("token", "missing: give token or token_file")
	}
	if c.Host != "" && !hostNameRE.MatchString(c.Host) {
		pos.add("host", "host names are letters, digits, '.', '_' and '-'")
	}
	for i, f := range c.Files {
		key := fmt.Sprintf("files[%d]", i)
		if f.Path == "" {
			pos.add(key+".path", "missing")
		} else if _, err := filepath.Match(f.Path, ""); err != nil {
			pos.add(key+".path", "bad glob: %v", err)
		}
		if f.Multiline != "" {
			if _, err := regexp.Compile(f.Multiline); err != nil {
				pos.add(key+".multiline", "bad regular expression: %v", err)
			}
		}
		if f.MultilineMax < 0 || f.MultilineTimeout < 0 {
			pos.add(key, "multiline limits must not be negative")
		}
	}
	if c.Location != "" && !hostNameRE.MatchString(c.Location) {
		pos.add("location", "location names are letters, digits, '.', '_' and '-'")
	}
	if c.Location == "loghost" || c.Location == "all" {
		pos.add("location", "%q is reserved: name the place this host is in", c.Location)
	}
	if c.ProbeSpoolMax < 0 || c.ProbeSpoolMaxAge < 0 {
		pos.add("probe_spool_max_size", "the probe spool's bounds must not be negative")
	}
	if c.Interval != 0 && time.Duration(c.Interval) < 10*time.Second {
		pos.add("interval", "must be at least 10s")
	}
	for i, a := range c.MuninAllow {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				pos.add(fmt.Sprintf("munin_allow[%d]", i), "want an address or CIDR prefix, got %q", a)
			}
		}
	}
	if c.MuninListen != "" {
		if _, _, err := net.SplitHostPort(c.MuninListen); err != nil {
			pos.add("munin_listen", "want host:port, got %q", c.MuninListen)
		}
	}
	if err := pos.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
