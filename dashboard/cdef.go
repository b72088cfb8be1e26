package dashboard

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// cdef is a compiled munin `cdef`: an rrdtool RPN expression over the
// graph's fields ("in,8,*"). Munin hands it to rrdtool; we evaluate it per
// point when the graph data is built, so the browser only draws.
type cdef struct {
	ops []rpnOp
}

type rpnOp struct {
	num   float64
	field string // a field reference, or "" for num / an operator
	op    string // an operator, or ""
}

// rpnArity is what each supported operator pops; the common ones in
// munin plugins (arithmetic, UN/IF for gaps, comparisons, MIN/MAX).
var rpnArity = map[string]int{
	"+": 2, "-": 2, "*": 2, "/": 2, "%": 2, "ADDNAN": 2,
	"LT": 2, "LE": 2, "GT": 2, "GE": 2, "EQ": 2, "NE": 2, "MIN": 2, "MAX": 2,
	"UN": 1, "ISINF": 1, "ABS": 1, "SQRT": 1, "FLOOR": 1, "CEIL": 1,
	"IF": 3, "LIMIT": 3,
	"UNKN": 0, "INF": 0, "NEGINF": 0,
	"DUP": 1, "POP": 1, "EXC": 2,
}

// compileCdef checks the expression once: unknown words and stack
// underflow are errors, so evaluation cannot fail half-way.
func compileCdef(expr string, fields map[string]bool) (*cdef, error) {
	var c cdef
	depth := 0
	for _, w := range strings.Split(expr, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			return nil, fmt.Errorf("cdef %q: empty term", expr)
		}
		if n, err := strconv.ParseFloat(w, 64); err == nil {
			c.ops = append(c.ops, rpnOp{num: n})
			depth++
			continue
		}
		if a, ok := rpnArity[w]; ok {
			if depth < a {
				return nil, fmt.Errorf("cdef %q: %s needs %d values", expr, w, a)
			}
			push := 1
			switch w {
			case "DUP":
				push = 2
			case "POP":
				push = 0
			case "EXC":
				push = 2
			}
			depth += push - a
			c.ops = append(c.ops, rpnOp{op: w})
			continue
		}
		if fields[w] {
			c.ops = append(c.ops, rpnOp{field: w})
			depth++
			continue
		}
		return nil, fmt.Errorf("cdef %q: unknown term %q", expr, w)
	}
	if depth != 1 {
		return nil, fmt.Errorf("cdef %q: leaves %d values, want 1", expr, depth)
	}
	return &c, nil
}

// eval computes the expression with get giving each field's value at the
// point (NaN when unknown). stack is scratch space, reused across points.
func (c *cdef) eval(get func(field string) float64, stack []float64) (float64, []float64) {
	st := stack[:0]
	for _, o := range c.ops {
		switch {
		case o.field != "":
			st = append(st, get(o.field))
		case o.op == "":
			st = append(st, o.num)
		default:
			st = applyRPN(o.op, st)
		}
	}
	return st[len(st)-1], st
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func applyRPN(op string, st []float64) []float64 {
	nan := math.NaN()
	switch rpnArity[op] {
	case 0:
		switch op {
		case "UNKN":
			return append(st, nan)
		case "INF":
			return append(st, math.Inf(1))
		default:
			return append(st, math.Inf(-1))
		}
	}
	switch op {
	case "UN", "ISINF", "ABS", "SQRT", "FLOOR", "CEIL", "DUP", "POP":
		a := st[len(st)-1]
		st = st[:len(st)-1]
		switch op {
		case "UN":
			return append(st, b2f(math.IsNaN(a)))
		case "ISINF":
			return append(st, b2f(math.IsInf(a, 0)))
		case "ABS":
			return append(st, math.Abs(a))
		case "SQRT":
			return append(st, math.Sqrt(a))
		case "FLOOR":
			return append(st, math.Floor(a))
		case "CEIL":
			return append(st, math.Ceil(a))
		case "DUP":
			return append(st, a, a)
		default:
			return st
		}
	case "IF", "LIMIT":
		c, b, a := st[len(st)-1], st[len(st)-2], st[len(st)-3]
		st = st[:len(st)-3]
		if op == "IF" {
			// rrdtool: A,B,C,IF is B when A is true (non-zero, known).
			if a != 0 && !math.IsNaN(a) {
				return append(st, b)
			}
			return append(st, c)
		}
		if math.IsNaN(a) || math.IsNaN(b) || math.IsNaN(c) || a < b || a > c {
			return append(st, nan)
		}
		return append(st, a)
	}
	b, a := st[len(st)-1], st[len(st)-2]
	st = st[:len(st)-2]
	switch op {
	case "+":
		return append(st, a+b)
	case "-":
		return append(st, a-b)
	case "*":
		return append(st, a*b)
	case "/":
		return append(st, a/b)
	case "%":
		return append(st, math.Mod(a, b))
	case "ADDNAN":
		switch {
		case math.IsNaN(a):
			return append(st, b)
		case math.IsNaN(b):
			return append(st, a)
		}
		return append(st, a+b)
	case "EXC":
		return append(st, b, a)
	case "MIN", "MAX":
		if math.IsNaN(a) || math.IsNaN(b) {
			return append(st, nan)
		}
		if op == "MIN" {
			return append(st, math.Min(a, b))
		}
		return append(st, math.Max(a, b))
	}
	if math.IsNaN(a) || math.IsNaN(b) {
		return append(st, 0)
	}
	switch op {
	case "LT":
		return append(st, b2f(a < b))
	case "LE":
		return append(st, b2f(a <= b))
	case "GT":
		return append(st, b2f(a > b))
	case "GE":
		return append(st, b2f(a >= b))
	case "EQ":
		return append(st, b2f(a == b))
	default:
		return append(st, b2f(a != b))
	}
}
