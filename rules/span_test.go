package rules

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp/syntax"
	"slices"
	"strings"
	"testing"
)

// checkFastSub compares submatchFor (span DFAs, capture walker, fewer
// groups) with submatch (regexp over the whole line, every group) for the
// groups keep asks for; the others must be -1.
func checkFastSub(t *testing.T, pattern, line string, keep groupSet) {
	t.Helper()
	re, err := compileERE(pattern)
	if err != nil {
		t.Fatalf("%q: %v", pattern, err)
	}
	re.forSub = true
	want := re.submatch(line)
	got := slices.Clone(re.submatchFor(line, keep))
	// Twice: the second run takes the cached DFA and walker states.
	again := slices.Clone(re.submatchFor(line, keep))
	if !slices.Equal(got, again) {
		t.Fatalf("%q on %q: %v, then %v", pattern, line, got, again)
	}
	if (want == nil) != (got == nil) {
		t.Fatalf("%q on %q keep %+v: want %v, got %v", pattern, line, keep, want, got)
	}
	if want == nil {
		return
	}
	if re.isLit { // a plain literal: no groups
		if !slices.Equal(want, got) {
			t.Fatalf("%q on %q: want %v, got %v", pattern, line, want, got)
		}
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%q on %q: want %v, got %v", pattern, line, want, got)
	}
	for g := 0; 2*g < len(want); g++ {
		kept := g == 0 || keep.all || (g <= 8 && keep.bits&(1<<g) != 0)
		w := []int{-1, -1}
		if kept {
			w = want[2*g : 2*g+2]
		}
		if got[2*g] != w[0] || got[2*g+1] != w[1] {
			t.Fatalf("%q on %q keep %+v: group %d want %v, got %v (all: want %v got %v)",
				pattern, line, keep, g, w, got[2*g:2*g+2], want, got)
		}
	}
}

func TestFastSubmatchEqualsSlow(t *testing.T) {
	sshd := "Nov 22 03:04:05 web1 sshd[12345]: Accepted publickey for alice from 10.0.12.34 port 41234 ssh2"
	cases := []struct {
		pattern string
		lines   []string
	}{
		{`sshd\[[0-9]+\]: Accepted (password|publickey) for ([^ ]+) from ([0-9.]+)`,
			[]string{sshd, "sshd[1]: Accepted password for x from 1", "sshd[x]: sshd[1]: Accepted password for  from 1", "sshd[1]: Accepted pubkey"}},
		{`Failed password for (invalid user )?([^ ]+) from ([0-9.]+) port ([0-9]+)`,
			[]string{"Failed password for invalid user root from 10.0.0.1 port 22 ssh2", "Failed password for root from 1.2.3.4 port 5"}},
		{`Failed password for .* from ([0-9.]+) port`, // ambiguous: .* then a space
			[]string{"Failed password for invalid user x from 10.0.0.1 port 22 from 1.1.1.1 port 2"}},
		// Anchors at the span's edges: the span starts at 0 or not, ends at the line's end or not.
		{`^([a-z]+) ([0-9]+)`, []string{"abc 123 def", " abc 123", "abc 12"}},
		{`([a-z]+) ([0-9]+)$`, []string{"abc 123 def 45", "abc 123 x", "abc 123"}},
		{`^([a-z]+)$`, []string{"abc", "abc ", ""}},
		{`(^|x)([a-z])`, []string{"abc", "1xb", "1b"}},
		{`([a-z])($|,)`, []string{"ab", "a,b", "a b"}},
		{"\\`(a+)", []string{"aa", "baa"}},
		{`(a+)\'`, []string{"aa", "aab"}},
		// Word boundaries at the span's edges (no DFA: the slow path).
		{`\<(ab)`, []string{"ab", "xab ab", "x ab"}},
		{`(ab)\>`, []string{"abc ab", "ab"}},
		{`\b(a)\b`, []string{"ba a", "a"}},
		{`\B(b)`, []string{"ab", "b ab"}},
		// Leftmost-longest, not leftmost-first.
		{`x(a|ab)(c|bcd)(d*)`, []string{"xabcd", "xabcdd", "zxabcx"}},
		{`(a|ab)(c|bcd)?`, []string{"abcd", "ab"}},
		{`(wee|week)(knights|night)`, []string{"weeknights"}},
		{`(a*)+`, []string{"b", "aab"}},
		{`(a*)*(b)`, []string{"aab", "b"}},
		{`(a?)((ab)?)(b?)`, []string{"ab", "aab"}},
		{`((a)|b)+`, []string{"abab", "ba"}},
		{`(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)`, []string{"0123456789ab"}},
		{`([0-9]{2,3})([0-9]*)`, []string{"a12345", "1"}},
		{`(A+)(b)`, []string{"xAAb", "aab"}},
		{`[[:alpha:]]+([[:digit:]]+)`, []string{"ab12 cd34"}},
		{`é(x+)`, []string{"éxx", "aéxx", "xx"}},
		{`(x+)`, []string{"é xx", "xx é"}},
		{`(a|b)*c+`, []string{"ababcc", "c", ""}},
		{`()`, []string{"", "a"}},
		{`(a)|(b)`, []string{"b", "ab", "ba"}},
		{`plainliteral`, []string{"a plainliteral b", "none"}},
		{`(a)(b)(c)`, []string{"abc"}},
	}
	keeps := []groupSet{{all: true}, {}, {bits: 1 << 1}, {bits: 1 << 2}, {bits: 1<<1 | 1<<3}, {bits: 0x1fe}}
	for _, c := range cases {
		for _, l := range c.lines {
			for _, k := range keeps {
				t.Run(fmt.Sprintf("%s/%s/%v", c.pattern, l, k), func(t *testing.T) {
					checkFastSub(t, c.pattern, l, k)
				})
			}
		}
	}
}

func TestGroupsUsed(t *testing.T) {
	for _, c := range []struct {
		texts []string
		bits  uint16
	}{
		{[]string{`echo "login $3 from $4"`}, 1<<2 | 1<<3},
		{[]string{`echo "$0 $1"`}, 0},
		{[]string{`echo x`, `$2`}, 1 << 1},
		{[]string{`exec '/bin/x $9' \$5`}, 1<<8 | 1<<4},
		{[]string{`$`}, 0},
	} {
		if got := groupsUsed(c.texts...); got.bits != c.bits || got.all {
			t.Errorf("%q: %b, want %b", c.texts, got.bits, c.bits)
		}
	}
	if got := groupsUsed(`exec "/bin/x $3 $\2"`); !got.all {
		t.Errorf("$\\2: %+v, want every group", got)
	}
}

// TestEscapedDollarKeepsGroups: "$\2" in an exec becomes $2 on the second
// expansion, so the group must still be there although no "$2" is written.
func TestEscapedDollarKeepsGroups(t *testing.T) {
	var got []string
	e, err := New(Config{Files: []File{{Name: "f", Data: []byte(
		"'a(b)(c)' - - - 0 exec \"/bin/echo $3 $\\2\"\n")}}, DryRun: true,
		Trace: func(a Action) { got = append(got, a.Args) }})
	if err != nil {
		t.Fatal(err)
	}
	e.Feed(context.Background(), "xabc", timeZero)
	if want := []string{"/bin/echo c b"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// The walker must refuse what is not decided by the next byte, and take
// what is.
func TestCapWalkerTakes(t *testing.T) {
	for _, c := range []struct {
		pattern, line string
		takes         bool
	}{
		{`sshd\[[0-9]+\]: Accepted (password|publickey) for ([^ ]+) from ([0-9.]+)`,
			"x sshd[1]: Accepted publickey for bob from 10.1.2.3 port", true},
		{`for (.*) from ([0-9.]+)`, "for a from b from 1.2", false},
		{`(a|ab)(c|bcd)`, "abcd", false},
		{`^(a+)$`, "aaa", true},
	} {
		re, err := compileERE(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		re.forSub = true
		re.submatchFor(c.line, groupSet{all: true})
		s, e, ok := re.spans.span(c.line)
		if !ok || s < 0 {
			t.Fatalf("%q: no span", c.pattern)
		}
		if got := re.sub.walk.walk(c.line, s, e, re.sub.caps); got != c.takes {
			t.Errorf("%q on %q: walker takes it %v, want %v", c.pattern, c.line, got, c.takes)
		}
	}
}

// TestFastSubmatchRandom compares the fast and slow submatch paths on
// random small EREs and lines over a tiny alphabet, where ambiguous paths,
// empty loops, anchors and early-ending alternatives are common.
func TestFastSubmatchRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	atoms := []string{"a", "b", " ", ".", "[ab]", "[^a]", "[[:space:]]", "^", "$", "\\<", "\\b", "x"}
	ops := []string{"", "", "", "*", "+", "?", "{1,2}", "{2}"}
	var gen func(depth int) string
	gen = func(depth int) string {
		var b strings.Builder
		for n := 1 + rng.IntN(4); n > 0; n-- {
			if depth < 3 && rng.IntN(3) == 0 {
				b.WriteString("(" + gen(depth+1))
				if rng.IntN(2) == 0 {
					b.WriteString("|" + gen(depth+1))
				}
				b.WriteString(")")
			} else {
				b.WriteString(atoms[rng.IntN(len(atoms))])
			}
			b.WriteString(ops[rng.IntN(len(ops))])
		}
		return b.String()
	}
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		pattern := gen(0)
		if _, err := compileERE(pattern); err != nil {
			continue
		}
		for j := 0; j < 8; j++ {
			var lb strings.Builder
			for k := rng.IntN(12); k > 0; k-- {
				lb.WriteByte("ab x"[rng.IntN(4)])
			}
			keep := groupSet{bits: uint16(rng.IntN(1<<9)) &^ 1}
			if rng.IntN(3) == 0 {
				keep = groupSet{all: true}
			}
			checkFastSub(t, pattern, lb.String(), keep)
		}
	}
}

// checkPlainERE: when plainERE takes a pattern, the long way (translate,
// parse) must make the same single literal of it.
func checkPlainERE(t *testing.T, pattern string) {
	t.Helper()
	lit, ok := plainERE(pattern)
	if !ok {
		return
	}
	tree, _, _, err := parseERE(pattern)
	if err != nil {
		t.Fatalf("%q: plain %q, but parse: %v", pattern, lit, err)
	}
	tree = tree.Simplify()
	if tree.Op != syntax.OpLiteral || tree.Flags&syntax.FoldCase != 0 || latin1(tree.Rune) != lit {
		t.Fatalf("%q: plain %q, but the long way gives %v", pattern, lit, tree)
	}
}

func TestPlainERE(t *testing.T) {
	for _, c := range []struct {
		src, lit string
		ok       bool
	}{
		{`from 10\.1\.2\.3 port`, "from 10.1.2.3 port", true},
		{`pam_unix user bob`, "pam_unix user bob", true},
		{`a\\b \/ \- \"`, `a\b / - "`, true},
		{`a.b`, "", false}, {`a\<b`, "", false}, {`a\bc`, "", false}, {`\d`, "", false},
		{`a{2}`, "", false}, {`a{`, "", false}, {`*a`, "", false}, {`é`, "", false}, {``, "", false},
		{`a\`, "", false}, {`\1`, "", false}, {"a\\`", "", false}, {`x$`, "", false},
	} {
		lit, ok := plainERE(c.src)
		if ok != c.ok || lit != c.lit {
			t.Errorf("%q: %q %v, want %q %v", c.src, lit, ok, c.lit, c.ok)
		}
		checkPlainERE(t, c.src)
	}
}
