package collector

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/watchpost/watchpost/config"
)

func TestStateDirChoice(t *testing.T) {
	tests := []struct {
		name, flag, key, spool, env, want string
	}{
		{"flag first", "/f", "/k", "/s/spool", "/e", "/f"},
		{"then the key", "", "/k", "/s/spool", "/e", "/k"},
		{"then systemd's StateDirectory", "", "", "/s/spool", "/var/lib/watchpost-collect", "/var/lib/watchpost-collect"},
		{"the first of several", "", "", "", "/a:/b", "/a"},
		{"then the spool's folder", "", "", "/s/spool/", "", "/s"},
		{"not a relative env", "", "", "", "rel", DefaultStateDir},
		{"default", "", "", "", "", DefaultStateDir},
	}
	for _, tc := range tests {
		if got := StateDir(tc.flag, tc.key, tc.spool, tc.env); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestStateDirAgreesWithUnit: the shipped unit gives the collector one
// writable folder, StateDirectory=; the collector's default is that one,
// and under the unit systemd hands it over as $STATE_DIRECTORY.
func TestStateDirAgreesWithUnit(t *testing.T) {
	f, err := os.Open("../deploy/watchpost-collect.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stateDirectory, readWrite string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "StateDirectory="); ok {
			stateDirectory = v
		}
		if v, ok := strings.CutPrefix(line, "ReadWritePaths="); ok {
			readWrite = v
		}
	}
	if stateDirectory == "" || "/var/lib/"+stateDirectory != DefaultStateDir {
		t.Errorf("unit StateDirectory=%q, collector default %s", stateDirectory, DefaultStateDir)
	}
	if got := StateDir("", "", "", "/var/lib/"+stateDirectory); got != DefaultStateDir {
		t.Errorf("under the unit: %s", got)
	}
	if readWrite != "" {
		t.Errorf("the unit also allows writing %s: one state folder only", readWrite)
	}
}

// TestRefusesUnwritableState: with no folder to keep its checkpoints the
// collector says so and exits non-zero, instead of running and reading
// every file from its start after each restart.
func TestRefusesUnwritableState(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, nil, 0o600)
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("tok\n"), 0o600)
	cases := map[string][]string{"under a file": {"-state", filepath.Join(notDir, "state")}}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o500)
		cases["read-only"] = []string{"-state", ro}
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"-server", "http://127.0.0.1:9", "-token-file", tok, "-journal=false", "-metrics=false", "-munin-plugins=none", "-once"}, args...)
			if rc := Main(context.Background(), args, &out, &errOut); rc != 1 || !strings.Contains(errOut.String(), "cannot be written") {
				t.Fatalf("exit %d: %s", rc, errOut.String())
			}
		})
	}
}

// TestStateDirKey: state_dir in the file, relative to it; the spool
// goes inside unless set.
func TestStateDirKey(t *testing.T) {
	c, err := config.ParseCollector("/etc/watchpost/collect.yaml", []byte("server: https://lh:8443\ntoken: x\nstate_dir: state\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.StateDir != "/etc/watchpost/state" || c.Spool != "" {
		t.Fatalf("state_dir %q spool %q", c.StateDir, c.Spool)
	}
	if got := StateDir("", c.StateDir, c.Spool, "/var/lib/watchpost-collect"); got != "/etc/watchpost/state" {
		t.Errorf("the key loses to %s", got)
	}
}
