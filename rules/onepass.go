package rules

import (
	"regexp/syntax"
	"slices"
)

// capWalker extracts submatches from a known match span [s,e) of a line
// (its bytes read as Latin-1 runes), for the common log regex where the
// next byte always decides the path: sshd\[[0-9]+\]: Accepted (password|publickey) for ([^ ]+) — each
// repetition ends at a byte it cannot take. Go's onepass and backtracking
// matchers cost 20-35 ns a byte here; this costs a table lookup.
//
// It follows the program from s, byte by byte. When a byte leaves exactly
// one way on (one empty-transition route to one instruction that consumes
// it), only that path can be part of a match, and at e exactly one route
// must reach Match. Then exactly one path matches [s,e), and whichever
// rule Go uses to pick among matching paths, it picks that one. Where two
// routes remain, or an empty loop, the caller asks regexp instead.
type capWalker struct {
	prog   *syntax.Prog
	ncap   int
	states map[uint32]*cwState // by the pc the closure starts from
	start0 *cwState            // prog.Start at position 0 (^ holds)
	memo   []cwMemo
	onStk  []bool
	// capSets are the distinct capture lists of the edges; 0 is empty.
	capSets [][]int
}

type cwState struct {
	pc   uint32
	at0  bool
	next [256]cwEdge // inline: one dependent load a byte
	end  [2]*cwTrans // at e < len(line), at e == len(line)
}

// cwEdge is a cached step; next is nil until computed, cwStuck when the
// byte leaves no single way on. caps indexes capWalker.capSets (16 bytes
// an edge: a state costs 2 KB).
type cwEdge struct {
	next *cwState
	caps int
}

var cwStuck = &cwState{}

// cwTrans is one step: set caps to the position, then continue from next.
type cwTrans struct {
	ok   bool // exactly one route
	next *cwState
	caps []int
}

const cwMaxStates = 1024

func newCapWalker(prog *syntax.Prog, ncap int) *capWalker {
	return &capWalker{prog: prog, ncap: ncap, states: map[uint32]*cwState{},
		memo: make([]cwMemo, len(prog.Inst)), onStk: make([]bool, len(prog.Inst)),
		capSets: [][]int{nil}}
}

// cwMemo is what the closure from a pc reaches: n routes (capped at 2), and
// for n == 1 the consuming instruction (or -1 for Match) and the captures
// on the way.
type cwMemo struct {
	done   bool
	n      int
	target int
	caps   []int
}

func (w *capWalker) state(pc uint32, at0 bool) *cwState {
	if at0 {
		if w.start0 == nil {
			w.start0 = &cwState{pc: pc, at0: true}
		}
		return w.start0
	}
	st := w.states[pc]
	if st == nil {
		if len(w.states) >= cwMaxStates {
			return nil
		}
		st = &cwState{pc: pc}
		w.states[pc] = st
	}
	return st
}

// trans computes the step from st on byte c (c < 0: the end, atEnd says
// whether it is the line's end).
func (w *capWalker) trans(st *cwState, c int, atEnd bool) *cwTrans {
	var ctx syntax.EmptyOp
	if st.at0 {
		ctx |= syntax.EmptyBeginText
	}
	if c < 0 && atEnd {
		ctx |= syntax.EmptyEndText
	}
	clear(w.memo)
	clear(w.onStk)
	m := w.route(st.pc, ctx, c)
	t := &cwTrans{}
	if m.n != 1 {
		return t
	}
	t.caps = m.caps
	if c < 0 {
		t.ok = m.target == -1
		return t
	}
	if m.target < 0 {
		return t
	}
	t.next = w.state(w.prog.Inst[m.target].Out, false)
	t.ok = t.next != nil
	return t
}

// route counts the empty-transition routes from pc to an instruction that
// consumes c (to Match when c < 0).
func (w *capWalker) route(pc uint32, ctx syntax.EmptyOp, c int) cwMemo {
	if w.memo[pc].done {
		return w.memo[pc]
	}
	if w.onStk[pc] {
		return cwMemo{n: 2} // an empty loop: more than one way round
	}
	w.onStk[pc] = true
	var m cwMemo
	in := &w.prog.Inst[pc]
	switch in.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		a := w.route(in.Out, ctx, c)
		b := w.route(in.Arg, ctx, c)
		m.n = min(a.n+b.n, 2)
		if a.n == 1 && b.n == 0 {
			m.target, m.caps = a.target, a.caps
		} else if b.n == 1 && a.n == 0 {
			m.target, m.caps = b.target, b.caps
		}
	case syntax.InstCapture:
		m = w.route(in.Out, ctx, c)
		if m.n == 1 && int(in.Arg) < w.ncap {
			m.caps = append([]int{int(in.Arg)}, m.caps...)
		}
	case syntax.InstNop:
		m = w.route(in.Out, ctx, c)
	case syntax.InstEmptyWidth:
		if syntax.EmptyOp(in.Arg)&^ctx == 0 {
			m = w.route(in.Out, ctx, c)
		}
	case syntax.InstMatch:
		if c < 0 {
			m = cwMemo{n: 1, target: -1}
		}
	case syntax.InstFail:
	default:
		if c >= 0 && consumes(in, byte(c)) {
			m = cwMemo{n: 1, target: int(pc)}
		}
	}
	w.onStk[pc] = false
	m.done = true
	w.memo[pc] = m
	return m
}

func consumes(in *syntax.Inst, c byte) bool {
	r := rune(c)
	switch in.Op {
	case syntax.InstRune1:
		return r == in.Rune[0] || (syntax.Flags(in.Arg)&syntax.FoldCase != 0 && in.MatchRune(r))
	case syntax.InstRune:
		return in.MatchRune(r)
	case syntax.InstRuneAny:
		return true
	case syntax.InstRuneAnyNotNL:
		return r != '\n'
	}
	return false
}

// walk fills cap (len ncap, the whole match in cap[0:2]) for the match
// line[s:e], or reports false when the path is not unique.
func (w *capWalker) walk(line string, s, e int, cap []int) bool {
	for i := range cap {
		cap[i] = -1
	}
	st := w.state(uint32(w.prog.Start), s == 0)
	for i := s; i < e; i++ {
		c := line[i]
		ed := &st.next[c]
		if ed.next == nil {
			w.fillEdge(st, ed, c)
		}
		if ed.next == cwStuck {
			return false
		}
		if ed.caps != 0 {
			for _, k := range w.capSets[ed.caps] {
				cap[k] = i
			}
		}
		st = ed.next
	}
	atEnd := 0
	if e == len(line) {
		atEnd = 1
	}
	t := st.end[atEnd]
	if t == nil {
		t = w.trans(st, -1, atEnd == 1)
		st.end[atEnd] = t
	}
	if !t.ok {
		return false
	}
	for _, k := range t.caps {
		cap[k] = e
	}
	cap[0], cap[1] = s, e
	return true
}

func (w *capWalker) fillEdge(st *cwState, ed *cwEdge, c byte) {
	t := w.trans(st, int(c), false)
	if !t.ok {
		ed.next = cwStuck
		return
	}
	ed.next = t.next
	if len(t.caps) == 0 {
		return
	}
	for i, cs := range w.capSets {
		if slices.Equal(cs, t.caps) {
			ed.caps = i
			return
		}
	}
	w.capSets = append(w.capSets, t.caps)
	ed.caps = len(w.capSets) - 1
}
