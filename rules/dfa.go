package rules

import (
	"regexp/syntax"
	"strings"
	"unsafe"
)

// dfa answers "does this regex match anywhere in the line" for ASCII lines
// with a lazily built deterministic automaton: Go's regexp has none, and its
// backtracker costs about a microsecond per matching log line, which caps a
// rule set near a million lines a second. States are built on first use
// and capped; past the cap, or for a line with a non-ASCII byte, or for a
// regex with word-boundary assertions, the caller falls back to regexp.
type dfa struct {
	prog   *syntax.Prog
	prefix string // every match starts with it: scanning starts at it
	states map[string]*dstate
	begin  *dstate // at position 0
	mid    *dstate // the start set at a later position
	failed bool    // over the state cap: always fall back
	// anchored: no thread starts after position 0 of the scan (the
	// span's forward scan); otherwise one starts at every byte.
	anchored bool
	stack    []uint32
	seen     []bool
}

type dstate struct {
	pcs      []uint32 // unclosed thread set; the start pc is always in it
	begin    bool     // closure with begin-of-text context
	match    bool     // a match ends here (mid/begin context)
	dead     bool     // no thread left
	endMatch int8     // 0 unknown, 1 a match ends at end of text, -1 none
	next     [128]*dstate
}

const maxDFAStates = 512

// newDFA returns nil when the regex needs a context the DFA does not track.
func newDFA(tree *syntax.Regexp) *dfa {
	prog, err := syntax.Compile(tree)
	if err != nil {
		return nil
	}
	for _, in := range prog.Inst {
		if in.Op == syntax.InstEmptyWidth &&
			syntax.EmptyOp(in.Arg)&(syntax.EmptyWordBoundary|syntax.EmptyNoWordBoundary|syntax.EmptyBeginLine|syntax.EmptyEndLine) != 0 {
			return nil
		}
	}
	d := &dfa{prog: prog, states: map[string]*dstate{}, seen: make([]bool, len(prog.Inst))}
	if tree.Op == syntax.OpConcat && len(tree.Sub) > 0 && tree.Sub[0].Op == syntax.OpLiteral &&
		tree.Sub[0].Flags&syntax.FoldCase == 0 {
		d.prefix = string(tree.Sub[0].Rune)
	} else if tree.Op == syntax.OpLiteral && tree.Flags&syntax.FoldCase == 0 {
		d.prefix = string(tree.Rune)
	}
	d.begin = d.state([]uint32{uint32(prog.Start)}, true)
	d.mid = d.state([]uint32{uint32(prog.Start)}, false)
	return d
}

func pcsKey(pcs []uint32, begin bool) string {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(pcs))), len(pcs)*4)
	if begin {
		return "B" + string(b)
	}
	return "M" + string(b)
}

func (d *dfa) state(pcs []uint32, begin bool) *dstate {
	k := pcsKey(pcs, begin)
	if s, ok := d.states[k]; ok {
		return s
	}
	if len(d.states) >= maxDFAStates {
		d.failed = true
		return nil
	}
	s := &dstate{pcs: append([]uint32(nil), pcs...), begin: begin}
	var ctx syntax.EmptyOp
	if begin {
		ctx = syntax.EmptyBeginText | syntax.EmptyBeginLine
	}
	consuming, match := d.closure(s.pcs, ctx)
	s.match = match
	s.dead = len(consuming) == 0 && !match
	d.states[k] = s
	return s
}

// closure follows the empty transitions from pcs in the given context and
// returns the consuming instructions reached and whether Match is.
func (d *dfa) closure(pcs []uint32, ctx syntax.EmptyOp) ([]uint32, bool) {
	clear(d.seen)
	var out []uint32
	match := false
	d.stack = append(d.stack[:0], pcs...)
	for len(d.stack) > 0 {
		pc := d.stack[len(d.stack)-1]
		d.stack = d.stack[:len(d.stack)-1]
		if d.seen[pc] {
			continue
		}
		d.seen[pc] = true
		in := &d.prog.Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			d.stack = append(d.stack, in.Arg, in.Out)
		case syntax.InstCapture, syntax.InstNop:
			d.stack = append(d.stack, in.Out)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&^ctx == 0 {
				d.stack = append(d.stack, in.Out)
			}
		case syntax.InstMatch:
			match = true
		case syntax.InstFail:
		default:
			out = append(out, pc)
		}
	}
	return out, match
}

func (d *dfa) step(s *dstate, c byte) *dstate {
	var ctx syntax.EmptyOp
	if s.begin {
		ctx = syntax.EmptyBeginText | syntax.EmptyBeginLine
	}
	consuming, _ := d.closure(s.pcs, ctx)
	r := rune(c)
	next := make([]uint32, 0, len(consuming)+1)
	if !d.anchored {
		next = append(next, uint32(d.prog.Start))
	}
	for _, pc := range consuming {
		in := &d.prog.Inst[pc]
		ok := false
		switch in.Op {
		case syntax.InstRune1:
			ok = r == in.Rune[0] || (syntax.Flags(in.Arg)&syntax.FoldCase != 0 && in.MatchRune(r))
		case syntax.InstRune:
			ok = in.MatchRune(r)
		case syntax.InstRuneAny:
			ok = true
		case syntax.InstRuneAnyNotNL:
			ok = r != '\n'
		}
		if ok {
			next = append(next, in.Out)
		}
	}
	// Sort and deduplicate so equal sets share a state.
	for i := 1; i < len(next); i++ {
		for j := i; j > 0 && next[j] < next[j-1]; j-- {
			next[j], next[j-1] = next[j-1], next[j]
		}
	}
	uniq := next[:0]
	for i, pc := range next {
		if i == 0 || pc != uniq[len(uniq)-1] {
			uniq = append(uniq, pc)
		}
	}
	ns := d.state(uniq, false)
	if ns != nil {
		s.next[c] = ns
	}
	return ns
}

func (d *dfa) matchesAtEnd(s *dstate) bool {
	if s.endMatch == 0 {
		ctx := syntax.EmptyEndText | syntax.EmptyEndLine
		if s.begin {
			ctx |= syntax.EmptyBeginText | syntax.EmptyBeginLine
		}
		_, m := d.closure(s.pcs, ctx)
		s.endMatch = -1
		if m {
			s.endMatch = 1
		}
	}
	return s.endMatch == 1
}

// match reports (matched, decided); decided is false when the caller must
// ask regexp instead.
func (d *dfa) match(line string) (bool, bool) {
	if d.failed {
		return false, false
	}
	i := 0
	s := d.begin
	if d.prefix != "" {
		j := strings.Index(line, d.prefix)
		if j < 0 {
			return false, true
		}
		if j > 0 {
			i, s = j, d.mid
		}
	}
	if s.match {
		return true, true
	}
	for ; i < len(line); i++ {
		c := line[i]
		if c >= 0x80 {
			return false, false
		}
		ns := s.next[c]
		if ns == nil {
			if ns = d.step(s, c); ns == nil {
				return false, false
			}
		}
		s = ns
		if s.match {
			return true, true
		}
	}
	return d.matchesAtEnd(s), true
}
