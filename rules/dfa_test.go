package rules

import "testing"

// FuzzRegex compiles arbitrary GNU EREs: never a panic, and the DFA agrees
// with Go's regexp on whether a line matches.
func FuzzRegex(f *testing.F) {
	for _, s := range [][2]string{
		{`x(a|ab)`, "xab"}, {`^a.*b$`, "a--b"}, {`[[:digit:]]{2,3}`, "1"}, {`(a|b)*c+`, "ababcc"},
		{`$`, ""}, {`^`, "x"}, {`\<w`, "a w"}, {`a{,3}?b`, "aab"}, {`[^]x]+$`, "x]yy"},
		{`sshd\[[0-9]+\]: Failed`, "Nov 1 sshd[1]: Failed"}, {`é+`, "ééé"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, line string) {
		re, err := compileERE(pattern)
		if err != nil {
			return
		}
		got := re.matchString(line)
		if re.re == nil {
			return
		}
		if want := re.re.MatchString(line); got != want {
			t.Fatalf("%q on %q: engine says %v, regexp %v", pattern, line, got, want)
		}
		if idx := re.submatch(line); (idx != nil) != got {
			t.Fatalf("%q on %q: submatch %v, match %v", pattern, line, idx, got)
		}
	})
}
