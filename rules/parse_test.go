package rules

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"unknown action", "'x' - - - 0 frobnicate\n", "r.conf:1: unknown action \"frobnicate\""},
		{"missing timeout", "'x' - - -\n", "r.conf:1: missing timeout"},
		{"bad timeout", "'x' - - - soon ignore\n", "r.conf:1: timeout \"soon\" is not a number of seconds"},
		{"unterminated", "\n'x\n", "r.conf:2: match regex: unterminated quote"},
		{"bad regex", "'(x' - - - 0 ignore\n", "r.conf:1: match regex: regex \"(x\": unmatched ("},
		{"backref", "'(x)\\1' - - - 0 ignore\n", "back-references"},
		{"relative exec", "'x' - - - 0 exec \"mail root\"\n", "r.conf:1: exec: command \"mail\" must be an absolute path"},
		{"echo without text", "'x' - - - 0 echo\n", "r.conf:1: echo without string"},
		{"echo file without text", "'x' - - - 0 echo >/tmp/f\n", "echo >/tmp/f without text"},
		{"syslog level", "'x' - - - 0 syslog auth:loud \"x\"\n", "unknown level"},
		{"open bad action", "'x' - - - 0 open \"x\" - 0 0 0 shout\n", "r.conf:1: open: unknown default action: shout"},
		{"open bad number", "'x' - - - 0 open \"x\" - many 0 0 ignore\n", "line_limit \"many\" is not a number"},
		{"rule position", "'x' - - - 0 rule aside 'y' - - - 0 ignore\n", "position \"aside\""},
		{"rule nested", "'x' - - - 0 rule top 'y' - - - 0 explode\n", "rule: unknown action"},
		{"continuation names first line", "# c\n'x' - - - 0\n\techo\n", "r.conf:2: echo without string"},
		{"threshold count", "'x' - - - 0 threshold lots 1m ignore\n", "threshold: count"},
		{"threshold window", "'x' - - - 0 threshold 3 soon ignore\n", "threshold: duration"},
		{"alert severity", "'x' - - - 0 alert loud \"t\"\n", "severity \"loud\""},
		{"alert label", "'x' - - - 0 alert warning \"t\" nolabel\n", "label \"nolabel\""},
		{"directive", "#!watchpost frob\n", "r.conf:1: unknown directive"},
		{"clock", "clock sometimes\n", "unknown directive"},
		// logsurfer ran /usr/bin/logger alone and dropped the rest unsaid.
		{"exec extra tokens", "'x' - - - 0 exec \"/usr/bin/logger\" -t x \"y\"\n", "r.conf:1: exec: \"-t\" after the command would be ignored"},
		{"pipe extra tokens", "'x' - - - 0 pipe \"/usr/bin/mail root\" extra\n", "r.conf:1: pipe: \"extra\" after the command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(File{Name: "r.conf", Data: []byte(tc.file)})
			if err == nil {
				t.Fatalf("accepted %q", tc.file)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a ParseError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// Every bad rule of a file is reported in one run, each at its line.
func TestParseErrorsAll(t *testing.T) {
	err := Check(File{Name: "r.conf", Data: []byte("'x' - - - 0 bogus\n'y' - - - 0 ignore\n'(' - - - 0 ignore\n'z' - - - 0 exec \"/bin/true\" x\n")})
	if err == nil {
		t.Fatal("accepted")
	}
	got := err.Error()
	for _, want := range []string{"r.conf:1: unknown action", "r.conf:3: match regex", "r.conf:4: exec"} {
		if !strings.Contains(got, want) {
			t.Errorf("errors %q lack %q", got, want)
		}
	}
	if strings.Contains(got, "r.conf:2") {
		t.Errorf("a good rule reported: %q", got)
	}
}

func TestParseAccepts(t *testing.T) {
	good := []string{
		"'x' - - - 0 ignore\n",
		"'x' 'y' 'z' 'w' 10 continue echo \"$0\"\n",
		"'x' - - - 0 IGNORE\n",
		"'x' - - - 0 Echo hi\n",
		"'x' - - - 0 exec \"/usr/bin/logger -t x $2\"\n",
		"'x' - - - 0 rule before \"a($2)\" - '.*' - 0 echo \"x $2\"\n",
		"'x' - - - 0 open \"ctx $2\" - 10 60 30 2 report \"/bin/cat\" -\n",
		"'x' - - - 0 syslog auth:warning \"hi $0\"\n",
		"'x' - - - 0 threshold 5 60s by $2 alert warning \"brute force from $2\" team=ops\n",
		"#!watchpost compat unsafe-substitution\n#!watchpost clock log\n'x' - - - 0 ignore\n",
		"clock log\n'x' - - - 0 ignore\n",
	}
	for _, f := range good {
		if err := Check(File{Name: "ok.conf", Data: []byte(f)}); err != nil {
			t.Errorf("%q: %v", f, err)
		}
	}
}

func TestGetWord(t *testing.T) {
	m := &match{line: "the line", idx: []int{0, 3, 0, 3, -1, -1}, nsub: 2}
	tests := []struct{ in, want, rest string }{
		{`plain rest`, "plain", " rest"},
		{`'single $1 \x'`, `single $1 \x`, ""},
		{`"double $1 \"q\" \\ \$1"`, `double the "q" \ $1`, ""},
		{`un$1quoted`, "untheQuoted", ""},
		{`$2$3$4`, "the$4", ""},
		{`$10`, "the0", ""},
		{`$0`, "the line", ""},
		{`a\ b`, "a b", ""},
	}
	tests[3].want = "unthequoted"
	for _, tc := range tests {
		w, rest, ok := getWord(tc.in, m, substPlain)
		if !ok || w.String() != tc.want || rest != tc.rest {
			t.Errorf("getWord(%q) = %q, %q, %v; want %q, %q", tc.in, w.String(), rest, ok, tc.want, tc.rest)
		}
	}
	if _, _, ok := getWord(`"open`, m, substPlain); ok {
		t.Error("unterminated double quote accepted")
	}
	if w, _, _ := getWord(`"a.b $1"`, &match{line: "x.y", idx: []int{0, 3}}, substRegex); w.String() != `a.b x\.y` {
		t.Errorf("regex mode: %q", w.String())
	}
}

// TestSplitCommandSafety shows the hazard logsurfer has and the fix: a log
// line that carries quotes or spaces re-splits the command line only in
// compat mode.
func TestSplitCommandSafety(t *testing.T) {
	line := `user "x" -o /etc/passwd 'y z'`
	m := &match{line: line, idx: []int{0, len(line), 5, len(line)}, nsub: 1}
	toks, ok := collectTokens(`"/usr/bin/logger -t rules $2"`, m, substPlain)
	if !ok {
		t.Fatal("collect")
	}
	safe, _ := splitCommand(toks[0], m, false)
	if want := []string{"/usr/bin/logger", "-t", "rules", `"x" -o /etc/passwd 'y z'`}; strings.Join(safe, "|") != strings.Join(want, "|") {
		t.Errorf("safe argv %q, want %q", safe, want)
	}
	compat, _ := splitCommand(toks[0], m, true)
	if want := []string{"/usr/bin/logger", "-t", "rules", "x", "-o", "/etc/passwd", "y z"}; strings.Join(compat, "|") != strings.Join(want, "|") {
		t.Errorf("compat argv %q, want %q", compat, want)
	}
	// An empty value stays an (empty) argument in safe mode.
	m2 := &match{line: "ab", idx: []int{0, 2, 1, 1}, nsub: 1}
	toks, _ = collectTokens(`"/bin/x $2 end"`, m2, substPlain)
	if argv, _ := splitCommand(toks[0], m2, false); len(argv) != 3 || argv[1] != "" {
		t.Errorf("empty value: %q", argv)
	}
	// Quotes written in the rule file still group words.
	toks, _ = collectTokens(`"/bin/x \"two words\" 'and more'"`, m2, substPlain)
	if argv, _ := splitCommand(toks[0], m2, false); len(argv) != 3 || argv[1] != "two words" || argv[2] != "and more" {
		t.Errorf("template quotes: %q", argv)
	}
}

func TestRegexTranslation(t *testing.T) {
	tests := []struct {
		re, line string
		want     []string // whole match and groups; nil: no match
	}{
		{`x(a|ab)`, "xab", []string{"xab", "ab"}},
		{`(foo|foobar)(bar)?`, "foobar", []string{"foobar", "foo", "bar"}},
		{`(.*)=(.*)`, "a=b=c", []string{"a=b=c", "a=b", "c"}},
		{`[[:digit:]]{2,3}`, "12345", []string{"123"}},
		{`\<word\>`, "a word here", []string{"word"}},
		{`\<word\>`, "swordfish", nil},
		{`\d`, "d", []string{"d"}},
		{`\w+`, "__ab9!", []string{"__ab9"}},
		{`[\]]`, `a\]`, []string{`\]`}},
		{`[]a]+`, "]a]", []string{"]a]"}},
		{`[^]a]`, "]b", []string{"b"}},
		{`a{,2}b`, "aab", nil}, // GNU: {,2} is not an interval but text
		{`a{,2}b`, "a{,2}b", []string{"a{,2}b"}},
		{`a{x`, "a{x", []string{"a{x"}},
		{`*a`, "a", []string{"a"}},
		{`a+?`, "aaa", []string{"aaa"}},
		{`a**`, "aa", []string{"aa"}},
		{`sshd\[[0-9]+\]: Failed`, "sshd[1]: Failed", []string{"sshd[1]: Failed"}},
		{`[a-c-]+`, "ab-c", []string{"ab-c"}},
		{`x.y`, "x\ny", nil}, // GNU's POSIX_EGREP syntax: . never takes a newline
		// Bytes, as logsurfer matches them (each case checked against
		// logsurfer 1.8).
		{`user (.)`, "user élise", []string{"user \xc3", "\xc3"}},
		{`subject=(.{0,6})`, "subject=ééééé", []string{"subject=ééé", "ééé"}},
		{`x[^a]y`, "xéy", nil},
		{`\W(.)`, "é", []string{"é", "\xa9"}},
		{`[é]`, "é", []string{"\xc3"}},
		// \< and \> are a word's start and end, not any boundary.
		{`\<(on)`, "cron on", []string{"on", "on"}},
		{`\<on`, "cron", nil},
		{`on\>`, "onto", nil},
		{`(on)\>`, "onto on", []string{"on", "on"}},
		// \b holds at the line's edges, even beside a non-word byte; \B
		// never does.
		{`\b\[error\]`, "[error] disk full", []string{"[error]"}},
		{`x\B`, "x", nil},
		{`x\B`, "xy", []string{"x"}},
		// Accepted as GNU accepts them: an empty range, a count over 1000.
		{`x[c-a]?y`, "xy", []string{"xy"}},
		{`a{1001}`, strings.Repeat("a", 1002), []string{strings.Repeat("a", 1001)}},
		{`a{1001}`, strings.Repeat("a", 1000), nil},
		// [. and [= are plain characters in GNU regex 0.12.
		{`x[[.a.]]`, "x.]", []string{"x.]"}},
		{`x[[.a.]]`, "xa", nil},
		// An operator's operand is GNU's "last start": ab$* repeats ab$.
		{`^xab$*`, "x", []string{""}},
		{`^xab$*`, "xab", []string{"xab"}},
	}
	for _, tc := range tests {
		re, err := compileERE(tc.re)
		if err != nil {
			t.Errorf("%q: %v", tc.re, err)
			continue
		}
		idx := re.submatch(tc.line)
		if tc.want == nil {
			if idx != nil || re.matchString(tc.line) {
				t.Errorf("%q matched %q", tc.re, tc.line)
			}
			continue
		}
		if idx == nil || !re.matchString(tc.line) {
			t.Errorf("%q did not match %q", tc.re, tc.line)
			continue
		}
		var got []string
		for i := 0; i+1 < len(idx); i += 2 {
			if idx[i] < 0 {
				got = append(got, "")
				continue
			}
			got = append(got, tc.line[idx[i]:idx[i+1]])
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q on %q: %q, want %q", tc.re, tc.line, got, tc.want)
		}
	}
}

// FuzzRuleFile feeds arbitrary rule files to the reader: never a panic, and
// an accepted file runs over a few lines without one either.
func FuzzRuleFile(f *testing.F) {
	f.Add([]byte("'x' - - - 0 ignore\n"))
	f.Add([]byte("'sshd\\[([0-9]+)\\]: (.*)' - - - 0 continue\n\techo \"$2 $3\"\n"))
	f.Add([]byte("'a(b)' - - - 0 open \"ctx $2\" - 2 0 0 echo \"n=$lines\"\n'.*' - - - 0 ignore\n"))
	f.Add([]byte("'q(.)' - - - 0 rule top \"z($2)\" - '.*' - 0 echo \"$0\"\n"))
	f.Add([]byte("'(.)' - - - 0 threshold 2 10s by $2 alert warning \"t $2\" k=$2\n"))
	f.Add([]byte("#!watchpost compat unsafe-substitution\n'x' - - - 0 exec \"/bin/true $0\"\n"))
	f.Add([]byte("[[:alpha:]{1,2}\\<\\> \"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := New(Config{Files: []File{{Name: "f", Data: data}}, DryRun: true, Trace: func(Action) {}})
		if err != nil {
			return
		}
		for _, l := range []string{"abq1 x", "sshd[12]: hello", "", "a(b) ctx b", "zq1"} {
			e.Feed(context.Background(), l, timeZero)
		}
		if _, err := e.MarshalState(); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}
