package rules

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// chanWriter hands each write to a channel.
type chanWriter chan string

func (c chanWriter) Write(p []byte) (int, error) { c <- string(p); return len(p), nil }

// TestFollowedInputIsNotHeldBack: rules test buffers its output, but what a
// line printed is written before the next line is waited for (tail -f |
// watchpost rules test -rules x.conf -).
func TestFollowedInputIsNotHeldBack(t *testing.T) {
	out := make(chanWriter, 10)
	bw := bufio.NewWriterSize(out, 64*1024)
	e, err := New(Config{Files: []File{{Name: "s.conf", Data: []byte(`'.' - - - 0 echo "got $0"` + "\n")}}, Stdout: bw})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- feedReader(context.Background(), e, pr, false) }()
	for _, l := range []string{"one", "two"} {
		pw.Write([]byte(l + "\n"))
		select {
		case got := <-out:
			if got != "got "+l+"\n" {
				t.Fatalf("printed %q", got)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%q was not printed while the input waited", l)
		}
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
