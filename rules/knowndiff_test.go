package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/watchpost/watchpost/internal/peers"
)

// knownDiffs are the README's table of differences from GNU regex 0.12:
// what logsurfer 1.8 prints for $1 and $2 and what Watchpost prints, each
// checked against the real logsurfer, and each a class the differential
// test counts instead of reporting (knownGNUDifference).
var knownDiffs = []struct {
	re, line        string
	logsurfer, ours string // "-": no match
	class           string
}{
	{`foo|foobar`, "foobar baz", "[foo] [$2]", "[foobar] [$2]", "top-level alternation"},
	{`(a|)*`, "ab", "[a] []", "[a] [a]", "a repetition of something that can match the empty string"},
	{`(a*){2,}b`, "aab", "-", "[aab] []", "a repetition of something that can match the empty string"},
	{`(a(b)c|abd)`, "abd", "[abd] [abd] [b]", "[abd] [abd] []", "a group in an alternative"},
	{`(a.?)*`, "aaxa", "[aa] [aa]", "[aaxa] [a]", "a loop over something of varying length"},
}

func TestKnownDifferences(t *testing.T) {
	ls := peers.Logsurfer(t, true)
	for _, kd := range knownDiffs {
		echo := "M [$1] [$2]"
		if strings.Count(kd.logsurfer, "[") == 3 {
			echo += " [$3]"
		}
		c := diffCase{Conf: fmt.Sprintf("'%s' - - - 0 echo \"%s\"\n'.' - - - 0 echo \"-\"\n", kd.re, echo), Log: kd.line + "\n"}
		want := func(s string) string {
			if s == "-" {
				return "-\n"
			}
			return "M " + s + "\n"
		}
		got, err := runLogsurfer(ls, c)
		if err != nil {
			t.Fatal(err)
		}
		if got.out != want(kd.logsurfer) {
			t.Errorf("%q on %q: logsurfer printed %q, the README says %q", kd.re, kd.line, got.out, want(kd.logsurfer))
		}
		ours, stderr, err := runOurs(c, false)
		if err != nil || ours.rc != 0 {
			t.Fatalf("%q: %v %s", kd.re, err, stderr)
		}
		if ours.out != want(kd.ours) {
			t.Errorf("%q on %q: we print %q, the README says %q", kd.re, kd.line, ours.out, want(kd.ours))
		}
		if why := knownGNUDifference(kd.re); !strings.HasPrefix(why, kd.class) {
			t.Errorf("%q: classified %q, want %q", kd.re, why, kd.class)
		}
	}
}
