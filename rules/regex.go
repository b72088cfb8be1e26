package rules

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// regex is one compiled GNU extended regular expression (the syntax
// logsurfer compiles with RE_SYNTAX_POSIX_EGREP), matched leftmost-longest.
type regex struct {
	src  string
	re   *regexp.Regexp // nil when the whole expression is one literal
	lit  string         // the literal, when re is nil
	need []string       // literals every match contains, longest first
	nsub int
	tree *syntax.Regexp // for the DFAs, built on first use
	d    *dfa
	dTry bool
	// forSub: a rule's first regex whose action uses $1..$9; its tree is
	// kept for the span DFAs (see span.go).
	forSub  bool
	sub     *subRE
	spans   *spanDFAs
	spanTry bool
}

// compileERE translates a GNU ERE into Go syntax and compiles it.
func compileERE(src string) (*regex, error) {
	if lit, ok := plainERE(src); ok {
		// Most context names: log data escaped into a literal. Parsing
		// them was an eighth of the time of opening one per address.
		return &regex{src: src, lit: lit}, nil
	}
	goSrc, err := translateERE(src)
	if err != nil {
		return nil, err
	}
	tree, err := syntax.Parse(goSrc, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", src, err)
	}
	tree = tree.Simplify()
	r := &regex{src: src}
	if tree.Op == syntax.OpLiteral && tree.Flags&syntax.FoldCase == 0 {
		// A plain string (the usual context name once data is escaped):
		// strings.Contains is all the matching it needs.
		r.lit = string(tree.Rune)
		return r, nil
	}
	re, err := regexp.Compile(goSrc)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", src, err)
	}
	re.Longest()
	r.re = re
	r.nsub = re.NumSubexp()
	r.need = requiredLiterals(tree)
	r.tree = tree
	return r, nil
}

// matchString reports whether the line matches, checking the literals every
// match must contain before running the automaton.
func (r *regex) matchString(s string) bool {
	if r.re == nil {
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

// automaton runs the DFA when it can decide, regexp otherwise.
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
	return r.re.MatchString(s)
}

// submatchFor returns the offsets of the groups in keep (the others are
// -1), or nil when the line does not match: the same offsets submatch
// gives for those groups, found faster (span.go). The slice is reused by
// the next call.
func (r *regex) submatchFor(s string, keep groupSet) []int {
	if r.re == nil {
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
			if r.sub.re == nil {
				return r.sub.spread(nil, st, e, 0)
			}
			// The walker reads ^ and $ at their true positions in the line.
			if w := r.sub.walk; w != nil && w.walk(s, st, e, r.sub.caps) {
				return r.sub.spread(r.sub.caps, st, e, 0)
			}
			if (!sd.beginText || st == 0) && (!sd.endText || e == len(s)) {
				sub := r.sub.re.FindStringSubmatchIndex(s[st:e])
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
	if r.sub.re == nil {
		loc := r.re.FindStringIndex(s)
		if loc == nil {
			return nil
		}
		return r.sub.spread(nil, loc[0], loc[1], 0)
	}
	sub := r.sub.re.FindStringSubmatchIndex(s)
	if sub == nil {
		return nil
	}
	return r.sub.spread(sub, 0, 0, 0)
}

// submatch returns the submatch offsets, or nil when the line does not
// match: every group, from the whole line (the reference for submatchFor).
func (r *regex) submatch(s string) []int {
	if r.re == nil {
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
	return r.re.FindStringSubmatchIndex(s)
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
				out = append(out, string(t.Rune))
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

var posixClasses = map[string]bool{
	"alnum": true, "alpha": true, "blank": true, "cntrl": true, "digit": true, "graph": true,
	"lower": true, "print": true, "punct": true, "space": true, "upper": true, "xdigit": true,
}

// translateERE rewrites GNU ERE syntax as Go (RE2) syntax: backslash is
// literal inside brackets, \< \> \w \W \` \' are GNU operators, other
// escaped characters are themselves (\d is d), an operator with nothing
// before it is ignored, stacked operators (a+?) repeat the repetition, and an
// invalid interval brace is a literal.
func translateERE(p string) (string, error) { return translateEREGroups(p, nil) }

// translateEREGroups is translateERE with the groups keep refuses (numbered
// from 1 by their opening parenthesis) made non-capturing.
func translateEREGroups(p string, keep func(group int) bool) (string, error) {
	var out strings.Builder
	group := 0
	out.WriteString("(?s)")
	atomStart := -1 // where the last atom (with its operators) begins in out
	lastOp := false
	depth := 0
	type frame struct{ start int }
	var stack []frame
	emitAtom := func(s string) {
		atomStart = out.Len()
		out.WriteString(s)
		lastOp = false
	}
	emitOp := func(op string) {
		if atomStart < 0 {
			return // "*" applied to nothing is nothing
		}
		if lastOp {
			cur := out.String()
			out.Reset()
			out.WriteString(cur[:atomStart])
			out.WriteString("(?:")
			out.WriteString(cur[atomStart:])
			out.WriteString(")")
		}
		out.WriteString(op)
		lastOp = true
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch c {
		case '\\':
			if i+1 >= len(p) {
				return "", fmt.Errorf("regex %q: trailing backslash", p)
			}
			n := p[i+1]
			switch {
			case n == 'w':
				emitAtom(`[0-9A-Za-z_]`)
			case n == 'W':
				emitAtom(`[^0-9A-Za-z_]`)
			case n == '<' || n == '>' || n == 'b':
				out.WriteString(`\b`)
				atomStart, lastOp = -1, false
			case n == 'B':
				out.WriteString(`\B`)
				atomStart, lastOp = -1, false
			case n == '`':
				out.WriteString(`\A`)
				atomStart, lastOp = -1, false
			case n == '\'':
				out.WriteString(`\z`)
				atomStart, lastOp = -1, false
			case n >= '1' && n <= '9':
				return "", fmt.Errorf("regex %q: back-references (\\%c) are not supported", p, n)
			default:
				r, size := utf8.DecodeRuneInString(p[i+1:])
				emitAtom(regexp.QuoteMeta(string(r)))
				i += size - 1
			}
			i += 2
		case '[':
			cls, n, err := translateBracket(p, i)
			if err != nil {
				return "", err
			}
			emitAtom(cls)
			i = n
		case '(':
			stack = append(stack, frame{start: out.Len()})
			depth++
			group++
			if keep != nil && !keep(group) {
				out.WriteString("(?:")
			} else {
				out.WriteByte('(')
			}
			atomStart, lastOp = -1, false
			i++
		case ')':
			if depth == 0 {
				return "", fmt.Errorf("regex %q: unmatched )", p)
			}
			depth--
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			out.WriteByte(')')
			atomStart, lastOp = f.start, false
			i++
		case '|':
			out.WriteByte('|')
			atomStart, lastOp = -1, false
			i++
		case '*', '+', '?':
			emitOp(string(c))
			i++
		case '{':
			if iv, n, ok := interval(p, i); ok {
				emitOp(iv)
				i = n
			} else {
				emitAtom(`\{`)
				i++
			}
		case '^', '$':
			out.WriteByte(c)
			atomStart, lastOp = -1, false
			i++
		case '.':
			emitAtom(".")
			i++
		default:
			r, size := utf8.DecodeRuneInString(p[i:])
			if r == utf8.RuneError && size == 1 {
				emitAtom(fmt.Sprintf(`\x{%x}`, c))
			} else {
				emitAtom(regexp.QuoteMeta(p[i : i+size]))
			}
			i += size
		}
	}
	if depth != 0 {
		return "", fmt.Errorf("regex %q: unmatched (", p)
	}
	return out.String(), nil
}

// interval reads {m}, {m,}, {m,n} or {,n} at p[i].
func interval(p string, i int) (string, int, bool) {
	j := i + 1
	num := func() (string, bool) {
		k := j
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		return p[k:j], j > k
	}
	lo, okLo := num()
	if !okLo {
		lo = "0"
	}
	if j < len(p) && p[j] == '}' {
		if !okLo {
			return "", 0, false
		}
		return "{" + lo + "}", j + 1, true
	}
	if j >= len(p) || p[j] != ',' {
		return "", 0, false
	}
	j++
	hi, okHi := num()
	if j >= len(p) || p[j] != '}' {
		return "", 0, false
	}
	if !okHi {
		if !okLo {
			return "", 0, false
		}
		return "{" + lo + ",}", j + 1, true
	}
	return "{" + lo + "," + hi + "}", j + 1, true
}

// translateBracket reads a POSIX bracket expression starting at p[i] and
// returns it as a Go character class and the index after it.
func translateBracket(p string, i int) (string, int, error) {
	j := i + 1
	var b strings.Builder
	b.WriteByte('[')
	if j < len(p) && p[j] == '^' {
		b.WriteByte('^')
		j++
	}
	first := true
	for {
		if j >= len(p) {
			return "", 0, fmt.Errorf("regex %q: unmatched [", p)
		}
		c := p[j]
		if c == ']' && !first {
			b.WriteByte(']')
			return b.String(), j + 1, nil
		}
		first = false
		if c == '[' && j+1 < len(p) && (p[j+1] == ':' || p[j+1] == '=' || p[j+1] == '.') {
			kind := p[j+1]
			end := strings.Index(p[j+2:], string(kind)+"]")
			if end < 0 {
				return "", 0, fmt.Errorf("regex %q: unterminated [%c", p, kind)
			}
			name := p[j+2 : j+2+end]
			j = j + 2 + end + 2
			if kind == ':' {
				if !posixClasses[name] {
					return "", 0, fmt.Errorf("regex %q: unknown class [:%s:]", p, name)
				}
				b.WriteString("[:" + name + ":]")
				continue
			}
			if utf8.RuneCountInString(name) != 1 {
				return "", 0, fmt.Errorf("regex %q: unsupported collating element [%c%s%c]", p, kind, name, kind)
			}
			b.WriteString(classChar(name))
			continue
		}
		r, size := utf8.DecodeRuneInString(p[j:])
		ch := p[j : j+size]
		if r == utf8.RuneError && size == 1 {
			ch = fmt.Sprintf(`\x{%x}`, c)
		} else {
			ch = classChar(ch)
		}
		j += size
		// A range a-z; a '-' last (before ']') is a literal.
		if j+1 < len(p) && p[j] == '-' && p[j+1] != ']' {
			r2, size2 := utf8.DecodeRuneInString(p[j+1:])
			if r2 < r {
				return "", 0, fmt.Errorf("regex %q: invalid range end", p)
			}
			b.WriteString(ch + "-" + classChar(p[j+1:j+1+size2]))
			j += 1 + size2
			continue
		}
		b.WriteString(ch)
	}
}

func classChar(s string) string {
	if len(s) == 1 && strings.IndexByte(`\[]^-`, s[0]) >= 0 {
		return `\` + s
	}
	return s
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
