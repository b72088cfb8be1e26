package rules

import (
	"regexp"
	"regexp/syntax"
	"strings"
)

// A rule whose action uses $1..$9 fires on a line, and Go's backtracker
// then spends a microsecond or more walking the whole line for the
// submatches. Two cheaper steps come first here:
//
//   - Only the groups the action refers to are captured: the others are
//     compiled as (?:...), which leaves every match and the priority of
//     its paths unchanged, and a regex with fewer captures runs faster.
//     An action that needs only $1 (the whole match) runs no regexp at all.
//   - Two DFA scans find the leftmost-longest match [s,e): a reverse scan
//     gives the leftmost start, an anchored forward one the longest end
//     from there. The regexp then runs on line[s:e] only. With no
//     empty-width assertion the paths that match exactly [s,e) read only
//     those bytes, so the one chosen (the highest-priority one) is the same.
//     ^ and $ (\A, \z) read the position, not the bytes around it: they are
//     only trusted when the span starts at 0 (^) and ends at the line's end
//     ($). Word operators never reach this path (newSpanDFAs refuses them).
//
// Anything undecided (DFA over its state cap, a regex with word operators)
// takes the whole-line path.

// groupSet says which groups $k needs: bit g for group g (1..8, as $2..$9),
// or all of them.
type groupSet struct {
	bits uint16
	all  bool
}

// groupsUsed lists the groups that texts substitute with $2..$9 ($1 is the
// whole match, always computed). Any "$k" counts, quoted or not: keeping a
// group too many is only slower. "$\2" reads as "$2" once the backslash is
// gone, and a command line is expanded a second time: every group then.
func groupsUsed(texts ...string) groupSet {
	var g groupSet
	for _, s := range texts {
		if strings.Contains(s, "$\\") {
			g.all = true
		}
		for i := 0; i+1 < len(s); i++ {
			if s[i] == '$' && s[i+1] >= '2' && s[i+1] <= '9' {
				g.bits |= 1 << (s[i+1] - '1')
			}
		}
	}
	return g
}

// subRE is the capture form of a regex for one groupSet.
type subRE struct {
	keep groupSet
	prog *syntax.Prog   // nil: no group kept, the span is all there is
	re   *regexp.Regexp // Go's regexp for ASCII text; nil: the VM only
	v    *vm
	gmap []int      // kept group j+1 is group gmap[j] of the original
	idx  []int      // the result handed out; valid until the next call
	walk *capWalker // nil when prog is nil
	caps []int      // walk's and find's scratch, 2*(len(gmap)+1)
}

// find runs the capture form on s: offsets of the kept groups, or nil.
// The slice is reused by the next call.
func (sr *subRE) find(s string) []int {
	if sr.re != nil && isASCII(s) {
		return sr.re.FindStringSubmatchIndex(s)
	}
	if sr.v == nil {
		sr.v = newVM(sr.prog, len(sr.gmap))
	}
	if !sr.v.find(s, sr.caps) {
		return nil
	}
	return sr.caps
}

// spanDFAs finds the leftmost-longest match span.
type spanDFAs struct {
	revTree   *syntax.Regexp // for rev, built when first needed
	revTry    bool
	rev       *dfa   // the reversed regex, unanchored: where matches start
	fwd       *dfa   // the regex anchored at the start: where they end
	prefix    string // every match starts with it
	beginText bool   // the regex has ^ or \A somewhere
	endText   bool   // the regex has $ or \z somewhere
}

// reverseTree returns a regex that matches the reversed strings of t.
func reverseTree(t *syntax.Regexp) *syntax.Regexp {
	c := *t
	c.Sub = nil
	switch t.Op {
	case syntax.OpLiteral:
		c.Rune = make([]rune, len(t.Rune))
		for i, r := range t.Rune {
			c.Rune[len(t.Rune)-1-i] = r
		}
	case syntax.OpBeginText:
		c.Op = syntax.OpEndText
	case syntax.OpEndText:
		c.Op = syntax.OpBeginText
	case syntax.OpBeginLine:
		c.Op = syntax.OpEndLine
	case syntax.OpEndLine:
		c.Op = syntax.OpBeginLine
	}
	for i := range t.Sub {
		c.Sub = append(c.Sub, reverseTree(t.Sub[i]))
	}
	if t.Op == syntax.OpConcat {
		for i, j := 0, len(c.Sub)-1; i < j; i, j = i+1, j-1 {
			c.Sub[i], c.Sub[j] = c.Sub[j], c.Sub[i]
		}
	}
	return &c
}

// newSpanDFAs returns nil when a DFA cannot be built for tree.
func newSpanDFAs(tree *syntax.Regexp) *spanDFAs {
	fwd := newDFA(tree)
	if fwd == nil || fwd.word {
		// Word operators read the bytes around the span: the whole line
		// is matched instead.
		return nil
	}
	// The start states are the same sets either way; only the steps
	// differ: anchored, none adds a new thread.
	fwd.anchored = true
	sd := &spanDFAs{revTree: reverseTree(tree), fwd: fwd, prefix: fwd.prefix}
	fwd.prefix = ""
	for _, in := range fwd.prog.Inst {
		if in.Op == syntax.InstEmptyWidth {
			op := syntax.EmptyOp(in.Arg)
			sd.beginText = sd.beginText || op&syntax.EmptyBeginText != 0
			sd.endText = sd.endText || op&syntax.EmptyEndText != 0
		}
	}
	return sd
}

// span returns the leftmost-longest match [s,e) (s < 0: no match), and
// false when it cannot decide.
func (sd *spanDFAs) span(line string) (int, int, bool) {
	if sd.prefix != "" {
		// Matches start only where the prefix does: the first of those
		// with a match is the leftmost start. Usually there is one.
		off := 0
		for tries := 0; tries < 8; tries++ {
			j := strings.Index(line[off:], sd.prefix)
			if j < 0 {
				return -1, -1, true
			}
			p := off + j
			e, ok := sd.fwd.longestEnd(line, p)
			if !ok {
				return -1, -1, false
			}
			if e >= 0 {
				return p, e, true
			}
			off = p + 1
		}
	}
	if !sd.revTry {
		sd.revTry = true
		sd.rev = newDFA(sd.revTree)
		sd.revTree = nil
	}
	if sd.rev == nil {
		return -1, -1, false
	}
	s, ok := sd.rev.leftmostStart(line)
	if !ok || s < 0 {
		return -1, -1, ok
	}
	e, ok := sd.fwd.longestEnd(line, s)
	if !ok || e < 0 {
		// The reverse scan saw a match start at s: the forward one must
		// find it. Not deciding keeps the whole-line path in charge.
		return -1, -1, false
	}
	return s, e, true
}

// leftmostStart scans line backwards with the reversed regex: a match state
// after reading line[p:] means a match starts at p.
func (d *dfa) leftmostStart(line string) (int, bool) {
	if d.failed {
		return -1, false
	}
	st := d.begin
	best := -1
	if len(line) == 0 {
		if d.matchesAtEnd(st) {
			best = 0
		}
		return best, true
	}
	if st.match {
		best = len(line)
	}
	for i := len(line) - 1; i >= 0; i-- {
		c := line[i]
		ns := st.next[c]
		if ns == nil {
			if ns = d.step(st, c); ns == nil {
				return -1, false
			}
		}
		st = ns
		if i == 0 {
			if d.matchesAtEnd(st) {
				best = 0
			}
		} else if st.match {
			best = i
		}
	}
	return best, true
}

// longestEnd runs the anchored DFA from s and returns the end of the
// longest match starting there (-1: none).
func (d *dfa) longestEnd(line string, s int) (int, bool) {
	if d.failed {
		return -1, false
	}
	st := d.mid
	if s == 0 {
		st = d.begin
	}
	best := -1
	if s == len(line) {
		if d.matchesAtEnd(st) {
			best = s
		}
		return best, true
	}
	if st.match {
		best = s
	}
	for i := s; i < len(line); i++ {
		c := line[i]
		ns := st.next[c]
		if ns == nil {
			if ns = d.step(st, c); ns == nil {
				return -1, false
			}
		}
		st = ns
		if i+1 == len(line) {
			if d.matchesAtEnd(st) {
				best = i + 1
			}
		} else if st.match {
			best = i + 1
		}
		if st.dead {
			break
		}
	}
	return best, true
}

// compileSub builds the capture form of r for keep.
func (r *regex) compileSub(keep groupSet) *subRE {
	sr := &subRE{keep: keep, idx: make([]int, 2*(r.nsub+1))}
	for g := 1; g <= r.nsub; g++ {
		if keep.all || (g <= 8 && keep.bits&(1<<g) != 0) {
			sr.gmap = append(sr.gmap, g)
		}
	}
	if len(sr.gmap) == 0 {
		return sr
	}
	tree, _, goOK, err := parseERE(r.src)
	if err != nil {
		return &subRE{keep: keep, idx: sr.idx} // cannot happen: it compiled before
	}
	renum := map[int]int{}
	for j, g := range sr.gmap {
		renum[g] = j + 1
	}
	tree = keepGroups(tree, renum).Simplify()
	prog, err := syntax.Compile(tree)
	if err != nil {
		return &subRE{keep: keep, idx: sr.idx}
	}
	sr.prog = prog
	sr.caps = make([]int, 2*(len(sr.gmap)+1))
	if goOK {
		if re, err := regexp.Compile(tree.String()); err == nil && re.NumSubexp() == len(sr.gmap) {
			re.Longest()
			sr.re = re
		}
	}
	if !hasWordOps(prog) {
		sr.walk = newCapWalker(prog, len(sr.caps))
	}
	return sr
}

// keepGroups copies t with the groups in renum renumbered and the others
// made non-capturing: the same matches and the same priority of paths.
func keepGroups(t *syntax.Regexp, renum map[int]int) *syntax.Regexp {
	if t.Op == syntax.OpCapture {
		if n, ok := renum[t.Cap]; ok {
			c := *t
			c.Cap = n
			c.Sub = []*syntax.Regexp{keepGroups(t.Sub[0], renum)}
			return &c
		}
		return keepGroups(t.Sub[0], renum)
	}
	c := *t
	c.Sub = nil
	for _, s := range t.Sub {
		c.Sub = append(c.Sub, keepGroups(s, renum))
	}
	return &c
}

// hasWordOps reports whether prog uses an empty-width operator that looks
// at the bytes around it (\<, \>, \b, \B).
func hasWordOps(prog *syntax.Prog) bool {
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth && syntax.EmptyOp(in.Arg)&wordOps != 0 {
			return true
		}
	}
	return false
}

const wordOps = syntax.EmptyBeginLine | syntax.EmptyEndLine | syntax.EmptyWordBoundary | syntax.EmptyNoWordBoundary

// spread maps the capture form's offsets (relative to off) onto the
// original group numbers; sub == nil with a span means no group was kept.
func (sr *subRE) spread(sub []int, s, e, off int) []int {
	idx := sr.idx
	for i := range idx {
		idx[i] = -1
	}
	if sub == nil {
		idx[0], idx[1] = s, e
		return idx
	}
	idx[0], idx[1] = sub[0]+off, sub[1]+off
	for j, g := range sr.gmap {
		if a := sub[2*(j+1)]; a >= 0 {
			idx[2*g], idx[2*g+1] = a+off, sub[2*(j+1)+1]+off
		}
	}
	return idx
}
