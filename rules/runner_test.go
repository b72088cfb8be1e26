package rules

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/watchpost/watchpost/internal/peers"
)

// TestBurstEveryActionRuns is the burst that used to lose all but 16
// actions: 10,000 lines, each starting a child (exec), plus a pipe and a
// report from contexts reaching their limit in the same burst. Every one
// runs, and `rules test` exits 0.
func TestBurstEveryActionRuns(t *testing.T) {
	paths := peers.Require(t, "echo", "sed")
	dir := t.TempDir()
	n := 10_000
	if testing.Short() {
		n = 1_000
	}
	var log strings.Builder
	for i := range n {
		fmt.Fprintf(&log, "job %05d ctx%d done\n", i, i%100)
	}
	rulesText := fmt.Sprintf(`'^job ([0-9]+) (ctx[0-9]+)' - - - 0 continue exec "%s ran $2"
'^job [0-9]+ (ctx[0-9]+)' - - - 0 continue open "$2 " - 9 0 0 report "%s s/^/reported:/" -
'^job 0000[0-9]' - - - 0 pipe "%s s/^/piped:/"
`, paths["echo"], paths["sed"], paths["sed"])
	rf := filepath.Join(dir, "burst.conf")
	lf := filepath.Join(dir, "burst.log")
	os.WriteFile(rf, []byte(rulesText), 0o644)
	os.WriteFile(lf, []byte(log.String()), 0o644)
	var stdout, stderr bytes.Buffer
	if rc := Main(context.Background(), []string{"test", "-exec", "-rules", rf, lf}, &stdout, &stderr); rc != 0 {
		t.Fatalf("rc %d: %s", rc, stderr.String())
	}
	counts := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		counts[strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == ':' })[0]]++
	}
	// Each of the 100 contexts takes every 100th line and reports its 10
	// lines when it takes the 10th (over the limit of 9): every line is
	// reported once, by n/10 children.
	want := map[string]int{"ran": n, "piped": 10, "reported": n}
	for k, v := range counts {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected output %q × %d", k, v)
		}
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s: %d lines, want %d (stderr: %.500s)", k, counts[k], v, stderr.String())
		}
	}
}
