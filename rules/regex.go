package rules

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// regex is one compiled GNU extended regular expression (the syntax
// logsurfer compiles with RE_SYNTAX_POSIX_EGREP, see ere.go), matched
// leftmost-longest on the line's bytes.
type regex struct {
	src   string
	isLit bool           // the whole expression is the literal lit
	lit   string         // the literal (bytes), when isLit
	re    *regexp.Regexp // Go's regexp, for ASCII lines; nil when it would read the regex differently
	need  []string       // literals every match contains, longest first
	nsub  int
	tree  *syntax.Regexp // for the DFAs, built on first use
	prog  *syntax.Prog   // for the VM
	v     *vm
	d     *dfa
	dTry  bool
	// forSub: a rule's first regex whose action uses $1..$9; its tree is
	// kept for the span DFAs (see span.go).
	forSub  bool
	sub     *subRE
	spans   *spanDFAs
	spanTry bool
}

// compileERE reads a GNU ERE and compiles it.
func compileERE(src string) (*regex, error) {
	if lit, ok := plainERE(src); ok {
		// Most context names: log data escaped into a literal. Parsing
		// them was an eighth of the time of opening one per address.
		return &regex{src: src, isLit: true, lit: lit}, nil
	}
	tree, nsub, goOK, err := parseERE(src)
	if err != nil {
		return nil, err
	}
	tree = tree.Simplify()
	r := &regex{src: src, nsub: nsub}
	if tree.Op == syntax.OpLiteral && tree.Flags&syntax.FoldCase == 0 {
		// A plain string (the usual context name once data is escaped):
		// strings.Contains is all the matching it needs.
		r.isLit, r.lit = true, latin1(tree.Rune)
		return r, nil
	}
	prog, err := syntax.Compile(tree)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", src, err)
	}
	r.prog = prog
	if goOK {
		// Go's regexp may refuse what GNU takes (a{1001}): the VM runs it.
		if re, err := regexp.Compile(tree.String()); err == nil && re.NumSubexp() == nsub {
			re.Longest()
			r.re = re
		}
	}
	r.need = requiredLiterals(tree)
	r.tree = tree
	return r, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// matchString reports whether the line matches, checking the literals every
// match must contain before running the automaton.
func (r *regex) matchString(s string) bool {
	if r.isLit {
		return strings.Contains(s, r.lit)
	}
	if !r.literalsIn(s) {
		return false
	}
	return r.automaton(s)
}

// literalsIn checks the required literals: only the most selective one
// when the DFA will scan the line anyway.
func (r *regex) literalsIn(s string) bool {
	for i, l := range r.need {
		if i > 0 && r.d != nil {
			break
		}
		if !strings.Contains(s, l) {
			return false
		}
	}
	return true
}

// automaton runs the DFA when it can decide, a matcher otherwise.
func (r *regex) automaton(s string) bool {
	if !r.dTry {
		r.dTry = true
		r.d = newDFA(r.tree)
		if !r.forSub || r.spanTry {
			r.tree = nil
		}
	}
	if r.d != nil {
		if m, ok := r.d.match(s); ok {
			return m
		}
	}
	if r.re != nil && isASCII(s) {
		return r.re.MatchString(s)
	}
	return r.vm().find(s, nil)
}

func (r *regex) vm() *vm {
	if r.v == nil {
		r.v = newVM(r.prog, r.nsub)
	}
	return r.v
}

// submatchFor returns the offsets of the groups in keep (the others are
// -1), or nil when the line does not match: the same offsets submatch
// gives for those groups, found faster (span.go). The slice is reused by
// the next call.
func (r *regex) submatchFor(s string, keep groupSet) []int {
	if r.isLit {
		return r.submatch(s)
	}
	if r.sub == nil || r.sub.keep != keep {
		r.sub = r.compileSub(keep)
	}
	if !r.spanTry {
		r.spanTry = true
		if r.tree != nil {
			r.spans = newSpanDFAs(r.tree)
		}
		if r.dTry {
			r.tree = nil
		}
	}
	if sd := r.spans; sd != nil {
		// The span scans decide the match: one literal is enough.
		if len(r.need) > 0 && !strings.Contains(s, r.need[0]) {
			return nil
		}
		st, e, ok := sd.span(s)
		if ok && st < 0 {
			return nil
		}
		if ok {
			if r.sub.prog == nil {
				return r.sub.spread(nil, st, e, 0)
			}
			// The walker reads ^ and $ at their true positions in the line.
			if w := r.sub.walk; w != nil && w.walk(s, st, e, r.sub.caps) {
				return r.sub.spread(r.sub.caps, st, e, 0)
			}
			if (!sd.beginText || st == 0) && (!sd.endText || e == len(s)) {
				sub := r.sub.find(s[st:e])
				if sub != nil && sub[0] == 0 && sub[1] == e-st {
					return r.sub.spread(sub, st, e, st)
				}
			}
		}
	}
	for _, l := range r.need {
		if !strings.Contains(s, l) {
			return nil
		}
	}
	if r.sub.prog == nil {
		loc := r.find(s)
		if loc == nil {
			return nil
		}
		return r.sub.spread(nil, loc[0], loc[1], 0)
	}
	sub := r.sub.find(s)
	if sub == nil {
		return nil
	}
	return r.sub.spread(sub, 0, 0, 0)
}

// find returns the whole match's offsets (nil: no match).
func (r *regex) find(s string) []int {
	if r.re != nil && isASCII(s) {
		return r.re.FindStringIndex(s)
	}
	v := r.vm()
	caps := make([]int, v.ncap)
	if !v.find(s, caps) {
		return nil
	}
	return caps[:2]
}

// submatch returns the submatch offsets, or nil when the line does not
// match: every group, from the whole line (the reference for submatchFor).
func (r *regex) submatch(s string) []int {
	if r.isLit {
		i := strings.Index(s, r.lit)
		if i < 0 {
			return nil
		}
		return []int{i, i + len(r.lit)}
	}
	// Once the literals are there the line nearly always matches, and the
	// DFA would only scan it twice: straight to the submatch search.
	for _, l := range r.need {
		if !strings.Contains(s, l) {
			return nil
		}
	}
	if r.re != nil && isASCII(s) {
		return r.re.FindStringSubmatchIndex(s)
	}
	v := r.vm()
	caps := make([]int, v.ncap)
	if !v.find(s, caps) {
		return nil
	}
	return caps
}

// plainERE returns the string an ASCII ERE matches when it has no operator:
// plain characters and escaped punctuation (\. is a dot). Anything else,
// a brace or a GNU backslash operator included, goes the long way.
func plainERE(src string) (string, bool) {
	if src == "" {
		return "", false
	}
	var b []byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c >= 0x80 {
			return "", false
		}
		if strings.IndexByte(`.[]()*+?{}|^$`, c) >= 0 {
			return "", false
		}
		if c == '\\' {
			if i+1 >= len(src) {
				return "", false
			}
			n := src[i+1]
			if n >= 0x80 || n >= '0' && n <= '9' || n >= 'A' && n <= 'Z' || n >= 'a' && n <= 'z' ||
				n == '<' || n == '>' || n == '`' || n == '\'' {
				return "", false
			}
			if b == nil {
				b = append(make([]byte, 0, len(src)), src[:i]...)
			}
			b = append(b, n)
			i++
			continue
		}
		if b != nil {
			b = append(b, c)
		}
	}
	if b == nil {
		return src, true
	}
	return string(b), true
}

// requiredLiterals lists literal strings found in every match of tree.
func requiredLiterals(tree *syntax.Regexp) []string {
	var out []string
	var walk func(t *syntax.Regexp)
	walk = func(t *syntax.Regexp) {
		switch t.Op {
		case syntax.OpLiteral:
			if t.Flags&syntax.FoldCase == 0 && len(t.Rune) > 0 {
				out = append(out, latin1(t.Rune))
			}
		case syntax.OpConcat:
			for _, c := range t.Sub {
				walk(c)
			}
		case syntax.OpCapture, syntax.OpPlus:
			walk(t.Sub[0])
		case syntax.OpRepeat:
			if t.Min >= 1 {
				walk(t.Sub[0])
			}
		}
	}
	walk(tree)
	// Longest first: the most selective test runs first. Keep two; more
	// rarely pays for the extra scans.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j]) > len(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if len(out) > 2 {
		out = out[:2]
	}
	return out
}

// quoteERE escapes s so that it matches itself in a GNU ERE.
func quoteERE(s string) string {
	special := false
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`\.+*?()|[]{}^$`, s[i]) >= 0 {
			special = true
			break
		}
	}
	if !special {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(`\.+*?()|[]{}^$`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
