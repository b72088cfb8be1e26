package rules

import (
	"slices"
	"testing"
)

// FuzzRegex compiles arbitrary GNU EREs: never a panic, the DFA agrees
// with the VM on whether a line matches, the VM with Go's regexp on ASCII
// lines (match and groups), the span DFAs on where the leftmost-longest
// match is, and the fast submatch path (span, capture walker, unreferenced
// groups dropped) gives the slow path's groups.
func FuzzRegex(f *testing.F) {
	for _, s := range [][2]string{
		{`x(a|ab)`, "xab"}, {`^a.*b$`, "a--b"}, {`[[:digit:]]{2,3}`, "1"}, {`(a|b)*c+`, "ababcc"},
		{`$`, ""}, {`^`, "x"}, {`\<w`, "a w"}, {`a{,3}?b`, "aab"}, {`[^]x]+$`, "x]yy"},
		{`sshd\[[0-9]+\]: Failed`, "Nov 1 sshd[1]: Failed"}, {`é+`, "ééé"},
		{`sshd\[[0-9]+\]: Accepted (password|publickey) for ([^ ]+) from ([0-9.]+)`,
			"Nov 22 sshd[7]: Accepted password for bob from 10.0.0.1 port 2"},
		{`(a|ab)(c|bcd)(d*)`, "xabcd"}, {`^(a+)(b*)$`, "aab"}, {`(x)(y)?$`, "xy x"},
		{`\<(ab)\>`, "ab abc"}, {`(a*)*(b)`, "aab"}, {`x(.)\'`, "xax"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, line string) {
		checkPlainERE(t, pattern)
		re, err := compileERE(pattern)
		if err != nil {
			return
		}
		got := re.matchString(line)
		if re.isLit {
			return
		}
		v := newVM(re.prog, re.nsub)
		vcaps := make([]int, v.ncap)
		if want := v.find(line, vcaps); got != want {
			t.Fatalf("%q on %q: engine says %v, VM %v", pattern, line, got, want)
		}
		if !got {
			vcaps = nil
		}
		if re.re != nil && isASCII(line) {
			if want := re.re.FindStringSubmatchIndex(line); !slices.Equal(want, vcaps) {
				t.Fatalf("%q on %q: regexp %v, VM %v", pattern, line, want, vcaps)
			}
		}
		if idx := re.submatch(line); (idx != nil) != got {
			t.Fatalf("%q on %q: submatch %v, match %v", pattern, line, idx, got)
		}
		fresh, _ := compileERE(pattern) // matchString dropped re's tree
		if sd := newSpanDFAs(fresh.tree); sd != nil {
			s, e, ok := sd.span(line)
			var loc []int
			if vcaps != nil {
				loc = vcaps[:2]
			}
			if ok && (loc == nil) != (s < 0) || ok && loc != nil && (s != loc[0] || e != loc[1]) {
				t.Fatalf("%q on %q: span [%d,%d), regexp %v", pattern, line, s, e, loc)
			}
		}
		mask := uint16(len(pattern)*37+len(line)*11) & 0x1fe
		for _, keep := range []groupSet{{all: true}, {}, {bits: mask}} {
			checkFastSub(t, pattern, line, keep)
		}
	})
}
