package rules

import (
	"regexp/syntax"
	"strings"
	"unsafe"
)

// dfa answers "does this regex match anywhere in the line" with a lazily
// built deterministic automaton over the line's bytes (read as Latin-1
// runes, as the trees of ere.go are built): Go's regexp has none, and its
// backtracker costs about a microsecond per matching log line, which caps a
// rule set near a million lines a second. States are built on first use
// and capped; past the cap the caller falls back to a matcher.
//
// Word operators (\<, \>, \b, \B) depend on the bytes around a position:
// a state then also knows whether the byte before it was a word byte, and a
// step that reaches Match before taking its byte goes to the accepting
// state (only match uses that; the span scans refuse such regexes).
type dfa struct {
	prog   *syntax.Prog
	prefix string // every match starts with it: scanning starts at it
	states map[string]*dstate
	begin  *dstate // at position 0
	mid    *dstate // the start set at a later position
	failed bool    // over the state cap: always fall back
	word   bool    // the regex has word operators
	accept *dstate // word regexes: a match was seen
	// anchored: no thread starts after position 0 of the scan (the
	// span's forward scan); otherwise one starts at every byte.
	anchored bool
	stack    []uint32
	seen     []bool
}

type dstate struct {
	pcs      []uint32 // unclosed thread set; the start pc is always in it
	begin    bool     // closure with begin-of-text context
	prevWord bool     // word regexes: the byte before was a word byte
	match    bool     // a match ends here, whatever the next byte
	dead     bool     // no thread left
	endMatch int8     // 0 unknown, 1 a match ends at end of text, -1 none
	next     [256]*dstate
}

const maxDFAStates = 512

// newDFA returns nil when the tree does not compile.
func newDFA(tree *syntax.Regexp) *dfa {
	prog, err := syntax.Compile(tree)
	if err != nil {
		return nil
	}
	d := &dfa{prog: prog, states: map[string]*dstate{}, seen: make([]bool, len(prog.Inst)), word: hasWordOps(prog)}
	if tree.Op == syntax.OpConcat && len(tree.Sub) > 0 && tree.Sub[0].Op == syntax.OpLiteral &&
		tree.Sub[0].Flags&syntax.FoldCase == 0 {
		d.prefix = latin1(tree.Sub[0].Rune)
	} else if tree.Op == syntax.OpLiteral && tree.Flags&syntax.FoldCase == 0 {
		d.prefix = latin1(tree.Rune)
	}
	if d.word {
		d.accept = &dstate{match: true, endMatch: 1}
		for i := range d.accept.next {
			d.accept.next[i] = d.accept
		}
	}
	d.begin = d.state([]uint32{uint32(prog.Start)}, true, false)
	d.mid = d.state([]uint32{uint32(prog.Start)}, false, false)
	return d
}

func pcsKey(pcs []uint32, begin, prevWord bool) string {
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(pcs))), len(pcs)*4)
	switch {
	case begin:
		return "B" + string(b)
	case prevWord:
		return "W" + string(b)
	}
	return "M" + string(b)
}

// emptyCtx is the set of empty-width operators true at a position (GNU's
// meanings, see gnuEmpty): at the text's start when begin, before byte
// next (-1 at the end), after a word byte when prevWord.
func emptyCtx(begin, prevWord bool, next int) syntax.EmptyOp {
	var op syntax.EmptyOp
	if begin {
		op |= syntax.EmptyBeginText
		prevWord = false
	}
	if next < 0 {
		op |= syntax.EmptyEndText
	}
	nw := next >= 0 && isWordByte(byte(next))
	if nw && !prevWord {
		op |= syntax.EmptyBeginLine
	}
	if prevWord && !nw {
		op |= syntax.EmptyEndLine
	}
	if prevWord != nw {
		op |= syntax.EmptyWordBoundary
	}
	if !begin && next >= 0 && prevWord == nw {
		op |= syntax.EmptyNoWordBoundary
	}
	return op
}

func (d *dfa) state(pcs []uint32, begin, prevWord bool) *dstate {
	k := pcsKey(pcs, begin, prevWord)
	if s, ok := d.states[k]; ok {
		return s
	}
	if len(d.states) >= maxDFAStates {
		d.failed = true
		return nil
	}
	s := &dstate{pcs: append([]uint32(nil), pcs...), begin: begin, prevWord: prevWord}
	var ctx syntax.EmptyOp
	if begin {
		ctx = syntax.EmptyBeginText
	}
	// Without the next byte, word operators stay closed: a match found
	// so is one whatever the next byte is.
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
	if d.word {
		ctx = emptyCtx(s.begin, s.prevWord, int(c))
	} else if s.begin {
		ctx = syntax.EmptyBeginText
	}
	consuming, matched := d.closure(s.pcs, ctx)
	if matched && d.word {
		s.next[c] = d.accept
		return d.accept
	}
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
	ns := d.state(uniq, false, d.word && isWordByte(c))
	if ns != nil {
		s.next[c] = ns
	}
	return ns
}

func (d *dfa) matchesAtEnd(s *dstate) bool {
	if s.endMatch == 0 {
		ctx := syntax.EmptyEndText
		if d.word {
			ctx = emptyCtx(s.begin, s.prevWord, -1)
		} else if s.begin {
			ctx |= syntax.EmptyBeginText
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
