package logparse

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestGoldenFormats runs every line of testdata/<format>/*.log through
// Parse with the format named by the folder (or by a "# format:" line;
// "# now: RFC3339" sets the receive time) and compares with the .golden
// file beside it: one block per line, the event's header values and then
// its fields in order, values Go-quoted. Run with -update to rewrite.
func TestGoldenFormats(t *testing.T) {
	loc := berlin(t)
	files, err := filepath.Glob("testdata/*/*.log")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimPrefix(file, "testdata/"), func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			out := renderGolden(t, in, filepath.Base(filepath.Dir(file)), loc)
			golden := strings.TrimSuffix(file, ".log") + ".golden"
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("%s differs from the parser output; run `go test ./logparse -run TestGoldenFormats -update` and review the diff\n%s", golden, firstDiff(out, want))
			}
		})
	}
}

func renderGolden(t *testing.T, in []byte, format string, loc *time.Location) []byte {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(in))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "# format: "); ok {
			format = strings.TrimSpace(v)
			continue
		}
		if v, ok := strings.CutPrefix(line, "# now: "); ok {
			var err error
			if now, err = time.Parse(time.RFC3339, strings.Fields(v)[0]); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ev := Parse(format, []byte(line), now, loc)
		fmt.Fprintf(&b, "> %s\n", line)
		if !ev.Time.IsZero() {
			fmt.Fprintf(&b, "  time=%s\n", ev.Time.Format(time.RFC3339Nano))
		}
		for _, kv := range [][2]string{{"host", ev.Host}, {"program", ev.Program}, {"pid", ev.PID}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, "  %s=%s\n", kv[0], strconv.Quote(kv[1]))
			}
		}
		if ev.Severity != Unknown || ev.Facility != Unknown {
			fmt.Fprintf(&b, "  severity=%d facility=%d\n", ev.Severity, ev.Facility)
		}
		if ev.Message == line {
			b.WriteString("  message=<line>\n")
		} else {
			fmt.Fprintf(&b, "  message=%s\n", strconv.Quote(ev.Message))
		}
		for _, f := range ev.Fields {
			fmt.Fprintf(&b, "  .%s=%s\n", f.Key, strconv.Quote(f.Value))
		}
	}
	return b.Bytes()
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
	return ""
}
