// Package peers helps tests run the real programs Watchpost talks to (rsyslog,
// logger, nsd, postfix, ...) on loopback: find them, start them in the
// foreground, wait for them, and stop them by process group when the test
// ends. See ../shared/PEERS.md for how each peer is started.
//
// A missing peer skips the test on a laptop and fails it under CI=true, so a
// CI machine without scripts/install-peers.sh cannot pass by skipping.
package peers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// extraDirs are searched after PATH: a non-root user's PATH usually lacks the
// sbin directories where rsyslogd, nsd and postfix live, and the monitoring
// plugins and awstats are not on any PATH.
var extraDirs = []string{
	"/usr/local/sbin", "/usr/sbin", "/sbin",
	"/usr/lib/nagios/plugins", "/usr/lib/cgi-bin",
}

// debianPackages names the package that ships a program, for the skip
// message. Programs whose package has their own name are not listed.
var debianPackages = map[string]string{
	"rsyslogd":                 "rsyslog",
	"logger":                   "bsdutils",
	"journalctl":               "systemd",
	"systemd-cat":              "systemd",
	"systemd-journal-remote":   "systemd-journal-remote",
	"drill":                    "ldnsutils",
	"ldns-signzone":            "ldnsutils",
	"nsd-checkconf":            "nsd",
	"nsd-control":              "nsd",
	"unbound-checkconf":        "unbound",
	"unbound-control":          "unbound",
	"postconf":                 "postfix",
	"postmap":                  "postfix",
	"smtp-sink":                "postfix",
	"sendmail":                 "postfix",
	"dovecot":                  "dovecot-imapd dovecot-pop3d",
	"munin-run":                "munin-node",
	"awstats.pl":               "awstats",
	"node_exporter":            "prometheus-node-exporter",
	"prometheus-node-exporter": "prometheus-node-exporter",
	"nc":                       "netcat-openbsd",
	"cc":                       "gcc",
	"ip":                       "iproute2",
	"tc":                       "iproute2",
	"nft":                      "nftables",
}

// DebianPackage returns the Debian package that ships program.
func DebianPackage(program string) string {
	base := filepath.Base(program)
	if p, ok := debianPackages[base]; ok {
		return p
	}
	if strings.HasPrefix(base, "check_") {
		return "monitoring-plugins-basic"
	}
	return base
}

// Lookup finds program on PATH, then in the sbin and plugin directories.
// A program given with a slash is only checked for being executable.
func Lookup(program string) (string, bool) {
	if strings.ContainsRune(program, '/') {
		if isExecutable(program) {
			return program, true
		}
		return "", false
	}
	if p, err := exec.LookPath(program); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return p, true
	}
	for _, dir := range extraDirs {
		p := filepath.Join(dir, program)
		if isExecutable(p) {
			return p, true
		}
	}
	return "", false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// InCI reports whether missing peers must fail the test rather than skip it.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require returns the absolute path of every program, keyed by the name it
// was asked for. If any is missing the test stops: skipped on a laptop,
// failed under CI=true, naming the Debian packages to install.
func Require(t testing.TB, programs ...string) map[string]string {
	t.Helper()
	paths := make(map[string]string, len(programs))
	var missing, pkgs []string
	for _, prog := range programs {
		p, ok := Lookup(prog)
		if !ok {
			missing = append(missing, prog)
			if pkg := DebianPackage(prog); !slices.Contains(pkgs, pkg) {
				pkgs = append(pkgs, pkg)
			}
			continue
		}
		paths[prog] = p
	}
	if len(missing) == 0 {
		return paths
	}
	msg := "peer program(s) " + strings.Join(missing, ", ") + " not found; install with: " +
		"apt-get install --no-install-recommends " + strings.Join(pkgs, " ") +
		" (or run scripts/install-peers.sh as root)"
	Unavailable(t, "%s", msg)
	return nil
}

// Unavailable ends a test whose real peer cannot run here: a failure under
// CI=true (where scripts/test installs every peer and runs as root), a
// skip on a laptop.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s [CI=true: a missing peer is a failure]", msg)
	}
	t.Skip(msg)
}

// RequireRoot is Unavailable unless the test runs as root, which peers
// such as postfix on port 25, dovecot and plugin user switching need.
func RequireRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "%s needs root (CI runs the tests as root)", what)
	}
}
