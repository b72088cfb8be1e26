package server

import (
	"cmp"
	"fmt"
	"github.com/watchpost/watchpost/logparse"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/connguard"
)

// settings are the configuration resolved against the flags, the
// defaults and the data folder's generated secrets.
type settings struct {
	dataDir         string
	dbPath          string
	listen          string
	tlsCert, tlsKey string
	syslogListen    string
	syslogTLS       string
	adminTokens     []string
	adminTokenFile  string // where the generated admin token lives, for the banner
	collectorToken  string
	collectorFile   string
	createdTokens   bool
	sessionKey      []byte
	hostTokens      map[string][]string
	enrollTokens    []string
	metricsPublic   bool
	retention       time.Duration
	maxSize         int64
	hostQuota       int64
	loc             *time.Location
	selfEnabled     bool
	selfJournal     bool
	selfFiles       []string
	title           string
	hostname        string
	redactor        *logparse.Redactor
	self            string // how to call this program again, for the banner's hints
	// Connection bounds (internal/connguard, syslogd).
	nofile         uint64
	maxConns       int
	perAddress     int
	bodyTimeout    time.Duration
	syslogMaxConns int
	syslogPerAddr  int
}

func resolve(cfg *config.Config, o Options) (settings, error) {
	var st settings
	st.dataDir = o.DataDir
	if st.dataDir == "" {
		st.dataDir = cfg.DataDir()
	}
	if st.dataDir == "" {
		st.dataDir = "watchpost-data"
	}
	st.dataDir = absPath(st.dataDir)
	st.self = selfCommand(o.Argv0)
	if err := ensureDir(st.dataDir); err != nil {
		return st, err
	}
	st.dbPath = cfg.Storage.Path
	if st.dbPath == "" || (o.DataDir != "" && o.ConfigPath == "") {
		st.dbPath = filepath.Join(st.dataDir, "watchpost.db")
	}
	st.listen = cfg.Server.Listen
	if o.Listen != "" {
		st.listen = o.Listen
	}
	st.tlsCert, st.tlsKey = cfg.Server.TLSCertFile, cfg.Server.TLSKeyFile
	if (st.tlsCert == "") != (st.tlsKey == "") {
		return st, errNoTLS
	}
	st.syslogListen = cfg.Server.SyslogListen
	if o.SyslogListen != nil {
		st.syslogListen = *o.SyslogListen
	}
	st.syslogTLS = cfg.Server.SyslogTLSListen
	st.metricsPublic = cfg.Server.MetricsPublic
	if cfg.Server.AdminToken != "" {
		st.adminTokens = []string{string(cfg.Server.AdminToken)}
	} else {
		tok, created, err := secret(st.dataDir, "admin.token", 24)
		if err != nil {
			return st, err
		}
		st.adminTokens = []string{tok}
		st.adminTokenFile = filepath.Join(st.dataDir, "admin.token")
		st.createdTokens = st.createdTokens || created
	}
	tok, created, err := secret(st.dataDir, "collector.token", 24)
	if err != nil {
		return st, err
	}
	st.collectorToken, st.collectorFile = tok, filepath.Join(st.dataDir, "collector.token")
	st.createdTokens = st.createdTokens || created
	st.enrollTokens = []string{tok}
	key, _, err := secret(st.dataDir, "session.key", 32)
	if err != nil {
		return st, err
	}
	st.sessionKey = []byte(key)
	st.hostTokens = map[string][]string{}
	for name, h := range cfg.Hosts {
		st.hostTokens[name] = h.AllTokens()
	}
	st.retention = time.Duration(cfg.Storage.Retention)
	st.maxSize = int64(cfg.Storage.MaxSize)
	st.hostQuota = int64(cfg.Storage.HostQuotaPerDay)
	st.loc = cfg.Location()
	st.selfEnabled = cfg.Self.Enabled
	st.selfJournal = cfg.Self.Journal
	st.selfFiles = cfg.Self.Files
	if cfg.Redact == nil || len(cfg.Redact) > 0 {
		r, err := logparse.NewRedactor(cfg.Redact) // nil: the built-in patterns
		if err != nil {
			return st, err
		}
		st.redactor = r
	}
	st.maxConns, st.perAddress = cfg.Server.MaxConnections, cfg.Server.MaxConnectionsPerAddress
	st.bodyTimeout = time.Duration(cfg.Server.BodyTimeout)
	if st.bodyTimeout == 0 {
		st.bodyTimeout = 10 * time.Second
	}
	st.syslogMaxConns = cmp.Or(cfg.Server.SyslogMaxConnections, 1024)
	st.syslogPerAddr = cmp.Or(cfg.Server.SyslogMaxConnectionsPerAddress, 64)
	// Flood-bounds are set below the open-file limit, raised first.
	if st.nofile, err = connguard.RaiseFileLimit(); err != nil {
		st.nofile = 1024
	}
	st.title = cfg.StatusPage.Title
	if st.title == "" {
		st.title = "Status"
	}
	st.hostname, err = os.Hostname()
	if err != nil || st.hostname == "" {
		st.hostname = "loghost"
	}
	return st, nil
}

func (st settings) banner() string {
	scheme := "http"
	if st.tlsCert != "" {
		scheme = "https"
	}
	base := fmt.Sprintf("%s://%s", scheme, st.listen)
	s := "Watchpost loghost is running.\n"
	s += fmt.Sprintf("  web:        %s/  (status page)   %s/admin/  (dashboard)\n", base, base)
	s += fmt.Sprintf("  ingest:     %s/api/v1/ingest\n", base)
	if st.syslogListen != "" {
		s += fmt.Sprintf("  syslog:     %s (UDP and TCP)\n", st.syslogListen)
	}
	s += fmt.Sprintf("  store:      %s\n", st.dbPath)
	if st.adminTokenFile != "" {
		s += fmt.Sprintf("  admin token (API, grep -server): %s\n", st.adminTokenFile)
	}
	s += fmt.Sprintf("  collector token:                 %s\n", st.collectorFile)
	if st.createdTokens {
		// Shown once, on the start that made them; later starts show
		// only where they are kept.
		if st.adminTokenFile != "" {
			s += fmt.Sprintf("  new admin token:     %s\n", st.adminTokens[0])
		}
		s += fmt.Sprintf("  new collector token: %s\n", st.collectorToken)
		s += "  (created now and saved in the files above: keep them secret)\n"
	}
	s += "\nPoint a collector at it:\n"
	s += fmt.Sprintf("  %s collect -server %s -token-file %s\n", st.self, base, st.collectorFile)
	s += "Search what arrived:\n"
	s += fmt.Sprintf("  %s grep -data %s -since 1h sshd\n", st.self, st.dataDir)
	if st.syslogListen != "" {
		s += "Forward syslog from rsyslog (/etc/rsyslog.d/watchpost.conf):\n"
		s += fmt.Sprintf("  *.* action(type=\"omfwd\" target=\"HOST\" port=\"%s\" protocol=\"tcp\" template=\"RSYSLOG_SyslogProtocol23Format\" TCP_Framing=\"octet-counted\")\n", portOf(st.syslogListen))
	}
	return s
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return addr
}

// selfCommand is how the banner tells the user to run this program again:
// as they started it ("./watchpost", "/usr/local/bin/watchpost"), as `go
// run ./cmd/watchpost` when it runs from go run's temporary build, or
// "watchpost" when it was found on the PATH.
func selfCommand(argv0 string) string {
	switch {
	case argv0 == "":
		return "watchpost"
	case strings.Contains(argv0, "/go-build"):
		return "go run ./cmd/watchpost"
	case strings.Contains(argv0, "/"):
		return argv0
	}
	return "watchpost"
}
