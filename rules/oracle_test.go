package rules

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/watchpost/watchpost/internal/peers"
)

// childCases run report/pipe/exec children, whose output arrives in no fixed
// order: they compare as sorted lines.
func runsChildren(conf string) bool {
	for _, l := range strings.Split(conf, "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		for _, kw := range []string{"report ", "pipe ", "exec "} {
			if strings.Contains(l, kw) {
				return true
			}
		}
	}
	return false
}

// TestOracles runs every logsurfer oracle case through `rules test -exec`,
// in the default safe mode and in compat mode, and compares with what the
// real logsurfer 1.8 printed.
func TestOracles(t *testing.T) {
	confs, err := filepath.Glob("testdata/oracles/*.conf")
	if err != nil || len(confs) == 0 {
		t.Fatalf("no oracle cases: %v", err)
	}
	for _, conf := range confs {
		name := strings.TrimSuffix(filepath.Base(conf), ".conf")
		for _, mode := range []string{"safe", "compat"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				confData, err := os.ReadFile(conf)
				if err != nil {
					t.Fatal(err)
				}
				children := runsChildren(string(confData))
				if children {
					peers.Require(t, "sed")
				}
				rulesPath := conf
				if mode == "compat" {
					rulesPath = filepath.Join(t.TempDir(), name+".conf")
					data := append([]byte("#!watchpost compat unsafe-substitution\n"), confData...)
					if err := os.WriteFile(rulesPath, data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(filepath.Join("testdata/oracles", name+".out"))
				if err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				rc := Main(context.Background(), []string{"test", "-exec", "-rules", rulesPath,
					filepath.Join("testdata/oracles", name+".log")}, &stdout, &stderr)
				if rc != 0 {
					t.Fatalf("rc %d, stderr:\n%s", rc, stderr.String())
				}
				got := stdout.String()
				if children {
					got, want = sortLines(got), []byte(sortLines(string(want)))
				}
				if got != string(want) {
					t.Errorf("output differs from logsurfer's\n--- got\n%s--- want\n%s--- stderr\n%s", got, want, stderr.String())
				}
			})
		}
	}
}

func sortLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	slices.Sort(lines)
	return strings.Join(lines, "")
}
