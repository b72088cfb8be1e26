package query

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/watchpost/watchpost/logparse"
)

// Doc is what a query matches: a raw line for words and phrases, and named
// fields. store.Record implements it.
type Doc interface {
	Line() string
	Get(field string) (string, bool)
}

// Match reports whether d satisfies every term. A nil query matches all.
func (q *Query) Match(d Doc) bool {
	if q == nil {
		return true
	}
	for i := range q.plan {
		if q.plan[i].test(d) == q.plan[i].negate {
			return false
		}
	}
	return true
}

// valueMode tells how a field term compares values.
type valueMode uint8

const (
	modeExact    valueMode = iota // byte for byte
	modeFold                      // host and program: ASCII case-insensitive
	modeSeverity                  // keyword, alias or number, compared as 0..7
	modeFacility                  // keyword or number, compared as 0..23
)

// matcher is a compiled term.
type matcher struct {
	kind   Kind
	negate bool
	cost   int
	field  string
	mode   valueMode
	value  string
	lower  string  // value with ASCII letters lowered, for modeFold
	code   int     // severity or facility number for those modes
	num    float64 // bound of numeric comparisons
	needle needle
	re     *regexp.Regexp
	// reLits are substrings every value the regex matches contains: a
	// strings.Contains check is much cheaper than running the regex.
	reLits []string
}

// compile checks and normalizes a term and builds its matcher. It returns
// an error message, not an error, so the caller can add the position.
func compile(t Term) (Term, matcher, string) {
	m := matcher{kind: t.Kind, negate: t.Negate, field: t.Field}
	switch t.Kind {
	case Word, Phrase:
		m.needle = newNeedle(t.Value)
		// Longer needles are likelier to reject a line and are searched
		// as fast; negated ones rarely reject, so they go last.
		m.cost = 200 - min(len(t.Value), 50)
		if t.Negate {
			m.cost += 100
		}
	case FieldEq, FieldNe:
		m.cost = 10
		switch t.Field {
		case "severity", "facility":
			code, ok := codeOf(t.Field, t.Value)
			if !ok {
				return t, m, unknownCode(t.Field, t.Value)
			}
			t.Value = codeName(t.Field, code)
			m.code = code
			m.mode = modeSeverity
			if t.Field == "facility" {
				m.mode = modeFacility
			}
		case "host", "program":
			m.mode = modeFold
			m.lower = lowerASCII(t.Value)
		}
		m.value = t.Value
	case FieldRe:
		m.cost = 400
		expr := t.Value
		if t.Field == "host" || t.Field == "program" {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			msg := err.Error()
			var se *syntax.Error
			if errors.As(err, &se) {
				msg = se.Code.String()
			}
			return t, m, fmt.Sprintf("bad regex in %s: %s", quoteForError(t.Field+"~"+t.Value), msg)
		}
		m.re = re
		if t.Field != "host" && t.Field != "program" {
			m.reLits = requiredLiterals(expr)
		}
	case FieldGt, FieldLt, FieldGe, FieldLe:
		m.cost = 20
		if t.Field == "severity" {
			code, ok := codeOf(t.Field, t.Value)
			if !ok {
				return t, m, unknownCode(t.Field, t.Value)
			}
			t.Value = codeName(t.Field, code)
			m.mode = modeSeverity
			m.num = float64(code)
			break
		}
		f, err := strconv.ParseFloat(t.Value, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return t, m, fmt.Sprintf("%s: not a number", quoteForError(t.Field+t.Kind.op()+t.Value))
		}
		m.num = f
	}
	return t, m, ""
}

// test reports whether d satisfies the term before negation.
func (m *matcher) test(d Doc) bool {
	if m.kind == Word || m.kind == Phrase {
		return m.needle.in(d.Line())
	}
	v, ok := d.Get(m.field)
	if !ok {
		return m.kind == FieldNe
	}
	switch m.kind {
	case FieldEq:
		return m.equal(v)
	case FieldNe:
		return !m.equal(v)
	case FieldRe:
		for _, l := range m.reLits {
			if !strings.Contains(v, l) {
				return false
			}
		}
		return m.re.MatchString(v)
	}
	var x float64
	if m.mode == modeSeverity {
		c, ok := codeOf("severity", v)
		if !ok {
			return false
		}
		x = float64(c)
	} else if x, ok = parseNumber(v); !ok {
		return false
	}
	switch m.kind {
	case FieldGt:
		return x > m.num
	case FieldLt:
		return x < m.num
	case FieldGe:
		return x >= m.num
	default:
		return x <= m.num
	}
}

func (m *matcher) equal(v string) bool {
	switch m.mode {
	case modeFold:
		// ASCII only, as DNS compares names (RFC 4343) and as the store's
		// host and program indexes fold.
		return len(v) == len(m.value) && equalASCIIFold(v, m.lower)
	case modeSeverity, modeFacility:
		if v == m.value {
			return true
		}
		c, ok := codeOf(m.field, v)
		return ok && c == m.code
	}
	return v == m.value
}

// severityAliases are names syslog implementations use besides the
// RFC 5424 keywords.
var severityAliases = [...]struct {
	name string
	code int
}{
	{"panic", 0}, {"emergency", 0}, {"critical", 2}, {"error", 3},
	{"warn", 4}, {"informational", 6},
}

// codeOf reads a severity or facility keyword (any case, severity aliases
// too) or its number. It does not allocate.
func codeOf(field, s string) (int, bool) {
	names := logparse.FacilityNames[:]
	if field == "severity" {
		names = logparse.SeverityNames[:]
	}
	for i, n := range names {
		if equalFold(s, n) {
			return i, true
		}
	}
	if field == "severity" {
		for _, a := range severityAliases {
			if equalFold(s, a.name) {
				return a.code, true
			}
		}
	}
	if len(s) > 0 && len(s) <= 2 {
		c := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			c = c*10 + int(s[i]-'0')
		}
		if c < len(names) {
			return c, true
		}
	}
	return 0, false
}

func codeName(field string, code int) string {
	if field == "severity" {
		return logparse.SeverityNames[code]
	}
	return logparse.FacilityNames[code]
}

func unknownCode(field, v string) string {
	if field == "severity" {
		return fmt.Sprintf("unknown severity %s (want %s, or 0-7)", quoteForError(v), strings.Join(logparse.SeverityNames[:], ", "))
	}
	return fmt.Sprintf("unknown facility %s (want a keyword such as daemon or local0, or 0-23)", quoteForError(v))
}

// parseNumber reads a field value as a number without allocating: the
// common integer case by hand, anything else through ParseFloat only when
// it looks numeric (a failing ParseFloat allocates its error).
func parseNumber(s string) (float64, bool) {
	if s == "" || len(s) > 64 {
		return 0, false
	}
	i, neg := 0, false
	if s[0] == '-' || s[0] == '+' {
		neg, i = s[0] == '-', 1
	}
	if i < len(s) && len(s)-i <= 15 {
		n, j := int64(0), i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			n = n*10 + int64(s[j]-'0')
			j++
		}
		if j == len(s) && j > i {
			if neg {
				n = -n
			}
			return float64(n), true
		}
	}
	digits := false
	for k := 0; k < len(s); k++ {
		switch c := s[k]; {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return 0, false
		}
	}
	if !digits {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsNaN(f)
}

// requiredLiterals returns exact substrings that every string the regex
// matches contains, longest first.
func requiredLiterals(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	lits := collectLiterals(re.Simplify(), nil)
	slices.SortFunc(lits, func(a, b string) int {
		if c := len(b) - len(a); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	lits = slices.Compact(lits)
	return lits[:min(len(lits), 3)]
}

func collectLiterals(re *syntax.Regexp, dst []string) []string {
	switch re.Op {
	case syntax.OpLiteral:
		// Go's regexp matches an invalid input byte as U+FFFD, so a literal
		// holding U+FFFD is not a byte substring of every match.
		if re.Flags&syntax.FoldCase == 0 && !slices.Contains(re.Rune, utf8.RuneError) {
			dst = append(dst, string(re.Rune))
		}
	case syntax.OpCapture, syntax.OpPlus:
		dst = collectLiterals(re.Sub[0], dst)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			dst = collectLiterals(re.Sub[0], dst)
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			dst = collectLiterals(s, dst)
		}
	}
	return dst
}
