package rules

import (
	"regexp/syntax"
)

// vm is a Pike VM over a compiled syntax.Prog that reads the line's bytes
// as Latin-1 runes and the empty-width operators as GNU regex does (see
// gnuEmpty). It finds what Go's regexp finds in leftmost-longest mode —
// the leftmost start, the longest end from there, and the groups of the
// highest-priority path to that end — so a line gets the same groups
// whichever of the two runs. It is the matcher of last resort: for lines
// with a byte over 127 (Go's regexp would read UTF-8) and for regexes with
// \<, \> or \B (Go's regexp has none); DFAs decide most lines first.
type vm struct {
	prog   *syntax.Prog
	ncap   int
	q0, q1 vmQueue
	pool   []*vmThread
	cap    []int
	best   []int
}

type vmThread struct {
	inst *syntax.Inst
	cap  []int
}

type vmEntry struct {
	pc uint32
	t  *vmThread
}

type vmQueue struct {
	sparse []uint32
	dense  []vmEntry
}

func newVM(prog *syntax.Prog, nsub int) *vm {
	n := len(prog.Inst)
	v := &vm{prog: prog, ncap: 2 * (nsub + 1)}
	v.q0 = vmQueue{sparse: make([]uint32, n), dense: make([]vmEntry, 0, n)}
	v.q1 = vmQueue{sparse: make([]uint32, n), dense: make([]vmEntry, 0, n)}
	v.cap = make([]int, v.ncap)
	v.best = make([]int, v.ncap)
	return v
}

// gnuEmpty evaluates an empty-width operator between the bytes prev and
// next (-1 at the line's edges). The line anchors of Go's syntax carry
// GNU's word operators (the lines have no newline, ^ and $ are the text
// anchors): BeginLine is \< and EndLine is \>. WordBoundary is Go's \b
// (GNU's \b is \b or an edge, built into the tree); NoWordBoundary is
// GNU's \B, false at the edges.
func gnuEmpty(op syntax.EmptyOp, prev, next int) bool {
	pw := prev >= 0 && isWordByte(byte(prev))
	nw := next >= 0 && isWordByte(byte(next))
	if op&syntax.EmptyBeginText != 0 && prev >= 0 {
		return false
	}
	if op&syntax.EmptyEndText != 0 && next >= 0 {
		return false
	}
	if op&syntax.EmptyBeginLine != 0 && !(nw && !pw) {
		return false
	}
	if op&syntax.EmptyEndLine != 0 && !(pw && !nw) {
		return false
	}
	if op&syntax.EmptyWordBoundary != 0 && pw == nw {
		return false
	}
	if op&syntax.EmptyNoWordBoundary != 0 && (prev < 0 || next < 0 || pw != nw) {
		return false
	}
	return true
}

// find reports whether s matches; with caps it fills in (2*(nsub+1)
// offsets, -1 for a group that took no part) the leftmost-longest match.
func (v *vm) find(s string, caps []int) bool {
	ncap := 0
	if caps != nil {
		ncap = v.ncap
	}
	for i := range v.best {
		v.best[i] = -1
	}
	matched := false
	runq, nextq := &v.q0, &v.q1
	runq.dense, nextq.dense = runq.dense[:0], nextq.dense[:0]
	for pos := 0; ; pos++ {
		if len(runq.dense) == 0 && matched {
			break
		}
		prev := -1
		if pos > 0 {
			prev = int(s[pos-1])
		}
		next := -1
		if pos < len(s) {
			next = int(s[pos])
		}
		if !matched {
			for i := range v.cap[:ncap] {
				v.cap[i] = -1
			}
			if ncap > 0 {
				v.cap[0] = pos
			}
			v.add(runq, uint32(v.prog.Start), pos, v.cap[:ncap], prev, next, nil)
		}
		// step: run the threads over byte next.
		nprev, nnext := next, -1
		if pos+1 < len(s) {
			nnext = int(s[pos+1])
		}
		for j := 0; j < len(runq.dense); j++ {
			d := &runq.dense[j]
			t := d.t
			if t == nil {
				continue
			}
			if matched && ncap > 0 && v.best[0] < t.cap[0] {
				v.pool = append(v.pool, t)
				continue
			}
			in := t.inst
			ok := false
			switch in.Op {
			case syntax.InstMatch:
				if ncap > 0 && (!matched || v.best[1] < pos) {
					t.cap[1] = pos
					copy(v.best, t.cap)
				}
				matched = true
				if ncap == 0 {
					v.clear(runq)
					v.clear(nextq)
					return true
				}
			case syntax.InstRune1:
				ok = next >= 0 && rune(next) == in.Rune[0]
			case syntax.InstRune:
				ok = next >= 0 && in.MatchRune(rune(next))
			case syntax.InstRuneAny:
				ok = next >= 0
			case syntax.InstRuneAnyNotNL:
				ok = next >= 0 && next != '\n'
			}
			if ok {
				t = v.add(nextq, in.Out, pos+1, t.cap, nprev, nnext, t)
			}
			if t != nil {
				v.pool = append(v.pool, t)
			}
		}
		runq.dense = runq.dense[:0]
		if pos >= len(s) {
			break
		}
		runq, nextq = nextq, runq
	}
	v.clear(nextq)
	v.clear(runq)
	if matched && caps != nil {
		copy(caps, v.best)
	}
	return matched
}

func (v *vm) clear(q *vmQueue) {
	for _, d := range q.dense {
		if d.t != nil {
			v.pool = append(v.pool, d.t)
		}
	}
	q.dense = q.dense[:0]
}

func (v *vm) alloc(in *syntax.Inst, ncap int) *vmThread {
	var t *vmThread
	if n := len(v.pool); n > 0 {
		t = v.pool[n-1]
		v.pool = v.pool[:n-1]
	} else {
		t = &vmThread{cap: make([]int, v.ncap)}
	}
	t.cap = t.cap[:ncap]
	t.inst = in
	return t
}

// add follows the empty transitions from pc at pos (between bytes prev
// and next), queueing the threads that consume a byte or match, in
// priority order. t is a thread to reuse; the one left over is returned.
func (v *vm) add(q *vmQueue, pc uint32, pos int, cap []int, prev, next int, t *vmThread) *vmThread {
again:
	if pc == 0 {
		return t
	}
	if j := q.sparse[pc]; j < uint32(len(q.dense)) && q.dense[j].pc == pc {
		return t
	}
	j := len(q.dense)
	q.dense = q.dense[:j+1]
	d := &q.dense[j]
	d.t = nil
	d.pc = pc
	q.sparse[pc] = uint32(j)
	in := &v.prog.Inst[pc]
	switch in.Op {
	case syntax.InstFail:
	case syntax.InstAlt, syntax.InstAltMatch:
		t = v.add(q, in.Out, pos, cap, prev, next, t)
		pc = in.Arg
		goto again
	case syntax.InstEmptyWidth:
		if gnuEmpty(syntax.EmptyOp(in.Arg), prev, next) {
			pc = in.Out
			goto again
		}
	case syntax.InstNop:
		pc = in.Out
		goto again
	case syntax.InstCapture:
		if int(in.Arg) < len(cap) {
			old := cap[in.Arg]
			cap[in.Arg] = pos
			v.add(q, in.Out, pos, cap, prev, next, nil)
			cap[in.Arg] = old
		} else {
			pc = in.Out
			goto again
		}
	default: // Match and the consuming instructions
		if t == nil {
			t = v.alloc(in, len(cap))
		} else {
			t.inst = in
			t.cap = t.cap[:len(cap)]
		}
		if len(cap) > 0 && &t.cap[0] != &cap[0] {
			copy(t.cap, cap)
		}
		d.t = t
		t = nil
	}
	return t
}
