package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/watchpost/watchpost/config"
)

// `watchpost config check` reports every error of a file in one run, each
// at its own line: an unknown key, each bad condition at the condition's
// line, a tcp target without a port, a missing rule file and every bad
// rule of another.
func TestConfigCheckReportsEverything(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "r.conf"), []byte("'x' - - - 0 exec \"/usr/bin/logger\" -t x \"y\"\n'y' - - - 0 bogus\n"), 0o600)
	cfgFile := filepath.Join(dir, "w.yaml")
	os.WriteFile(cfgFile, []byte(`timezone: UTC
server:
  lisen: 0.0.0.0:1
checks:
  - name: ssh
    type: tcp
    target: example.org
    conditions:
      - "status == 200"
      - "body contains SSH"
  - name: web
    type: http
    target: https://example.org/
    conditions: ["frobnicate > 3"]
rules:
  - file: r.conf
  - file: missing.conf
`), 0o600)
	var out, errb bytes.Buffer
	rc := config.CheckMain([]string{cfgFile}, &out, &errb, ValidateChecks, ValidateRules)
	if rc != 1 {
		t.Fatalf("rc %d", rc)
	}
	got := errb.String()
	for _, want := range []string{
		"w.yaml:3:3: server.lisen: unknown key",
		"w.yaml:9:9: checks[0].conditions[0] (ssh): condition \"status == 200\"",
		"w.yaml:7:13: checks[0].target (ssh): target \"example.org\" needs a port",
		"w.yaml:14:18: checks[1].conditions[0] (web)",
		"r.conf:1: exec: \"-t\" after the command would be ignored",
		"r.conf:2: unknown action",
		"w.yaml:17:11: rules[1].file:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "conditions[1]") {
		t.Errorf("a good condition reported:\n%s", got)
	}
}
