package query

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a query the parser rejects. Arg is the 1-based command-line
// argument (0 for Parse), Col the 1-based column in characters (0 when the
// error concerns a whole term given to New).
type Error struct {
	Arg int
	Col int
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("query: ")
	if e.Arg > 0 {
		fmt.Fprintf(&b, "arg %d: ", e.Arg)
	}
	if e.Col > 0 {
		fmt.Fprintf(&b, "col %d: ", e.Col)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Parse reads a query in the query language (see the package doc). An empty
// query matches everything.
func Parse(s string) (*Query, error) {
	var b builder
	if err := b.parse(s, 0); err != nil {
		return nil, err
	}
	return b.query(), nil
}

// ParseArgs reads a query given as command-line arguments, as in
// `watchpost grep "connection refused" host=web1`. The shell has already
// removed one level of quotes, so an argument holding whitespace is taken
// as one term: a field term when it starts with `field` and an operator
// (the rest of the argument is the value, spaces included), else a phrase;
// a leading `-` negates it. Such an argument is read with the query syntax
// instead when the phrase or value begins with a double quote, so that
// `watchpost grep '"a b" host=x'` works too. Any other argument is read
// with the query syntax and may hold several terms.
func ParseArgs(args []string) (*Query, error) {
	var b builder
	for i, a := range args {
		if !hasSpace(a) || quotedArg(a) {
			if err := b.parse(a, i+1); err != nil {
				return nil, err
			}
			continue
		}
		t := Term{Kind: Phrase, Value: a}
		rest := a
		if rest[0] == '-' {
			t.Negate, rest = true, rest[1:]
			t.Value = rest
		}
		if n, k, neg, ok := fieldPrefix(rest); ok {
			t.Kind, t.Field, t.Value = k, rest[:n], rest[n+len(opText(k, neg)):]
			t.Negate = t.Negate != neg
			if t.Value == "" {
				return nil, &Error{Arg: i + 1, Msg: fmt.Sprintf("missing value after %s", quoteForError(rest))}
			}
		}
		if msg := b.add(t); msg != "" {
			return nil, &Error{Arg: i + 1, Msg: msg}
		}
	}
	return b.query(), nil
}

// quotedArg reports whether a command-line argument with whitespace asks
// to be read in the query syntax: its phrase or value starts with a quote.
func quotedArg(a string) bool {
	a = strings.TrimPrefix(a, "-")
	if n, k, neg, ok := fieldPrefix(a); ok {
		a = a[n+len(opText(k, neg)):]
	}
	return strings.HasPrefix(a, `"`)
}

// New builds a query from terms, checking and normalizing them as Parse
// does. It is for back ends and tools that construct queries.
func New(terms ...Term) (*Query, error) {
	var b builder
	for i, t := range terms {
		var msg string
		switch {
		case t.Kind < Word || t.Kind > FieldLe:
			msg = fmt.Sprintf("unknown term kind %d", t.Kind)
		case t.Kind.isField() && !validField(t.Field):
			msg = fmt.Sprintf("bad field name %s", quoteForError(t.Field))
		case !t.Kind.isField() && t.Field != "":
			msg = fmt.Sprintf("%s term with a field", t.Kind)
		case !t.Kind.isField() && t.Value == "":
			msg = "empty " + t.Kind.String()
		default:
			msg = b.add(t)
		}
		if msg != "" {
			return nil, &Error{Msg: fmt.Sprintf("term %d: %s", i+1, msg)}
		}
	}
	return b.query(), nil
}

// builder collects checked terms and their matchers.
type builder struct {
	terms []Term
	plan  []matcher
}

// add checks, normalizes and compiles t; it returns an error message.
func (b *builder) add(t Term) string {
	nt, m, msg := compile(t)
	if msg != "" {
		return msg
	}
	b.terms = append(b.terms, nt)
	b.plan = append(b.plan, m)
	return ""
}

func (b *builder) query() *Query {
	// Cheap field comparisons first: most lines fail on host or program
	// before any substring search of the line runs.
	slices.SortStableFunc(b.plan, func(x, y matcher) int { return cmp.Compare(x.cost, y.cost) })
	return &Query{Terms: b.terms, plan: b.plan}
}

// parse adds the terms of s. arg is used in errors only.
func (b *builder) parse(s string, arg int) error {
	fail := func(pos int, format string, a ...any) error {
		return &Error{Arg: arg, Col: utf8.RuneCountInString(s[:pos]) + 1, Msg: fmt.Sprintf(format, a...)}
	}
	pos := 0
	for {
		for pos < len(s) && isSpace(s[pos]) {
			pos++
		}
		if pos == len(s) {
			return nil
		}
		start := pos
		var t Term
		if s[pos] == '-' {
			t.Negate = true
			pos++
			if pos == len(s) || isSpace(s[pos]) {
				return fail(start, `nothing after "-" (quote a lone dash: "-")`)
			}
		}
		if s[pos] == '"' {
			v, end, ok := unquote(s, pos)
			if !ok {
				return fail(pos, "unterminated quote")
			}
			if v == "" {
				return fail(pos, "empty phrase")
			}
			if end < len(s) && !isSpace(s[end]) {
				return fail(end, "missing space after closing quote")
			}
			t.Kind, t.Value, pos = Phrase, v, end
		} else if n, k, neg, ok := fieldPrefix(s[pos:]); ok {
			t.Kind, t.Field = k, s[pos:pos+n]
			t.Negate = t.Negate != neg
			opEnd := pos + n + len(opText(k, neg))
			switch {
			case opEnd == len(s) || isSpace(s[opEnd]):
				return fail(start, "missing value after %s", quoteForError(s[start:opEnd]))
			case s[opEnd] == '"':
				v, end, ok := unquote(s, opEnd)
				if !ok {
					return fail(opEnd, "unterminated quote")
				}
				if end < len(s) && !isSpace(s[end]) {
					return fail(end, "missing space after closing quote")
				}
				t.Value, pos = v, end
			default:
				end := opEnd
				for end < len(s) && !isSpace(s[end]) {
					if s[end] == '"' {
						return fail(end, "stray quote; put the whole value in quotes")
					}
					end++
				}
				t.Value, pos = s[opEnd:end], end
				if terms, ok, msg := rangeTerms(t); ok {
					if msg != "" {
						return fail(start, "%s", msg)
					}
					for _, rt := range terms {
						if msg := b.add(rt); msg != "" {
							return fail(start, "%s", msg)
						}
					}
					continue
				}
			}
		} else {
			end := pos
			for end < len(s) && !isSpace(s[end]) {
				if s[end] == '"' {
					return fail(end, "stray quote; put the whole word in quotes")
				}
				end++
			}
			t.Kind, t.Value, pos = Word, s[pos:end], end
		}
		if msg := b.add(t); msg != "" {
			return fail(start, "%s", msg)
		}
	}
}

// unquote reads the quoted string starting at s[pos] == '"'. Inside it, \"
// and \\ stand for " and \; any other backslash is kept, so regexes such as
// "\d+ ms" need no doubling. It returns the value and the index after the
// closing quote.
func unquote(s string, pos int) (string, int, bool) {
	i := pos + 1
	// Fast path: no escapes, the value is a substring.
	j := i
	for j < len(s) && s[j] != '"' && s[j] != '\\' {
		j++
	}
	if j < len(s) && s[j] == '"' {
		return s[i:j], j + 1, true
	}
	var b strings.Builder
	b.WriteString(s[i:j])
	for j < len(s) {
		switch c := s[j]; {
		case c == '"':
			return b.String(), j + 1, true
		case c == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\'):
			b.WriteByte(s[j+1])
			j += 2
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, false
}

// fieldPrefix reports whether s starts with a field name followed by an
// operator. It returns the name's length, the kind, and whether the
// operator was the negated-regex shorthand "!~".
func fieldPrefix(s string) (n int, k Kind, neg, ok bool) {
	if s == "" || !(isLetter(s[0]) || s[0] == '_') {
		return 0, 0, false, false
	}
	n = 1
	for n < len(s) && isNameByte(s[n]) {
		n++
	}
	rest := s[n:]
	switch {
	case strings.HasPrefix(rest, "!="):
		return n, FieldNe, false, true
	case strings.HasPrefix(rest, "!~"):
		return n, FieldRe, true, true
	case strings.HasPrefix(rest, ">="):
		return n, FieldGe, false, true
	case strings.HasPrefix(rest, "<="):
		return n, FieldLe, false, true
	case strings.HasPrefix(rest, "="):
		return n, FieldEq, false, true
	case strings.HasPrefix(rest, "~"):
		return n, FieldRe, false, true
	case strings.HasPrefix(rest, ">"):
		return n, FieldGt, false, true
	case strings.HasPrefix(rest, "<"):
		return n, FieldLt, false, true
	}
	return 0, 0, false, false
}

func opText(k Kind, negRe bool) string {
	if negRe {
		return "!~"
	}
	return k.op()
}

func validField(s string) bool {
	if s == "" || !(isLetter(s[0]) || s[0] == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isNameByte(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// isSpace is ASCII whitespace: other Unicode spaces are part of words.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func hasSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			return true
		}
	}
	return false
}

// quoteForError shows user input in an error message safely.
func quoteForError(s string) string {
	const max = 60
	if len(s) > max {
		s = s[:max] + "..."
	}
	return `"` + EscapeControl(s) + `"`
}

// rangeTerms reads an unquoted `field=A..B` (or `field!=A..B`) as a range,
// the form that needs no shell quoting: status=500.. is status>=500,
// status=..499 is status<=499, status=500..599 both, severity=..err is
// emerg through err (journalctl -p emerg..err). It is a range only when
// each side is empty or a number (for severity a keyword or 0-7) and not
// both are empty; anything else (path=/a/../b) stays a plain value. ok
// reports a range; msg is an error message for a range that cannot hold.
func rangeTerms(t Term) (terms []Term, ok bool, msg string) {
	if t.Kind != FieldEq && t.Kind != FieldNe {
		return nil, false, ""
	}
	lo, hi, found := strings.Cut(t.Value, "..")
	if !found || lo == "" && hi == "" {
		return nil, false, ""
	}
	side := func(v string) (float64, bool) {
		if v == "" {
			return 0, true
		}
		if t.Field == "severity" {
			c, ok := codeOf("severity", v)
			return float64(c), ok
		}
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	l, okL := side(lo)
	h, okH := side(hi)
	if !okL || !okH {
		return nil, false, ""
	}
	if lo != "" && hi != "" && l > h {
		if t.Field != "severity" {
			return nil, true, fmt.Sprintf("empty range %s: the lower bound comes first", quoteForError(t.Field+"="+t.Value))
		}
		lo, hi = hi, lo // severities read either way: err..emerg is emerg..err
	}
	negate := t.Negate != (t.Kind == FieldNe)
	if negate && lo != "" && hi != "" {
		return nil, true, fmt.Sprintf("a range with two bounds cannot be negated (%s): write the two sides as separate terms", quoteForError(t.Field+"="+t.Value))
	}
	if lo != "" {
		terms = append(terms, Term{Kind: FieldGe, Field: t.Field, Value: lo, Negate: negate})
	}
	if hi != "" {
		terms = append(terms, Term{Kind: FieldLe, Field: t.Field, Value: hi, Negate: negate})
	}
	return terms, true, ""
}
