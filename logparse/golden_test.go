package logparse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the goldens use Europe/Berlin whatever the machine has
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenCase is one line of a testdata/syslog/*.txt file with its results.
type goldenCase struct {
	Line  string      `json:"line"`
	Now   string      `json:"now"`
	Error string      `json:"error,omitempty"` // from the strict parser of the file's format
	Event goldenEvent `json:"event"`           // from Parse
}

type goldenEvent struct {
	Time     string  `json:"time,omitempty"`
	Host     string  `json:"host,omitempty"`
	Program  string  `json:"program,omitempty"`
	PID      string  `json:"pid,omitempty"`
	Severity int     `json:"severity"`
	Facility int     `json:"facility"`
	Message  string  `json:"message"`
	Fields   []Field `json:"fields,omitempty"`
}

func toGolden(ev Event) goldenEvent {
	g := goldenEvent{Host: ev.Host, Program: ev.Program, PID: ev.PID, Severity: ev.Severity,
		Facility: ev.Facility, Message: ev.Message, Fields: ev.Fields}
	if !ev.Time.IsZero() {
		g.Time = ev.Time.Format(time.RFC3339Nano)
	}
	return g
}

func berlin(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestGolden runs every line of testdata/syslog/*.txt through the parser
// named by the file's "# format:" comment and through Parse, and compares
// with the .json golden next to it. "# now: RFC3339" comments set the
// receive time for the lines after them. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	loc := berlin(t)
	files, err := filepath.Glob("testdata/syslog/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
			format := "auto"
			var got []goldenCase
			sc := bufio.NewScanner(bytes.NewReader(in))
			for sc.Scan() {
				line := sc.Text()
				if v, ok := strings.CutPrefix(line, "# format: "); ok {
					format = strings.TrimSpace(v)
					continue
				}
				if v, ok := strings.CutPrefix(line, "# now: "); ok {
					if now, err = time.Parse(time.RFC3339, strings.Fields(v)[0]); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				c := goldenCase{Line: line, Now: now.Format(time.RFC3339), Event: toGolden(Parse(format, []byte(line), now, loc))}
				var perr error
				switch format {
				case "rfc3164":
					_, perr = ParseRFC3164([]byte(line), now, loc)
				case "rfc5424":
					_, perr = ParseRFC5424([]byte(line), now, loc)
				default:
					_, perr = ParseSyslog([]byte(line), now, loc)
				}
				if perr != nil {
					c.Error = perr.Error()
				}
				got = append(got, c)
			}
			out, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, '\n')
			golden := strings.TrimSuffix(file, ".txt") + ".json"
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
				t.Errorf("%s differs from the parser output; run `go test ./logparse -run TestGolden -update` and review the diff", golden)
			}
		})
	}
}
