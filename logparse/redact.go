package logparse

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// Mask replaces what a Redactor hides.
const Mask = "***"

// DefaultRedactPatterns returns the patterns NewRedactor uses when given
// none: passwords in URLs (scheme://user:PASSWORD@host), password= and
// passwd= parameters, "password": in JSON, and the credentials of
// Authorization: Bearer/Basic headers. It returns a new slice each time,
// so callers may append their own.
func DefaultRedactPatterns() []string {
	return []string{
		`://[^/\s:@"]*:([^/\s@"]+)@`,
		`(?i)\b(?:password|passwd)=([^\s&;,"']+)`,
		`(?i)"(?:password|passwd)"\s*:\s*"((?:[^"\\]|\\.)*)"`,
		`(?i)\bAuthorization:\s*(?:Bearer|Basic)\s+([^\s"',;]+)`,
	}
}

// Redactor masks secrets in raw lines before they are parsed or stored.
// Each pattern is a regular expression (Go RE2 syntax); where it has
// capture groups only the groups are masked, so the context that makes a
// line readable stays (":secret@" becomes ":***@"); without groups the
// whole match is. A nil *Redactor masks nothing. A Redactor is immutable
// and safe for concurrent use.
type Redactor struct {
	pats []redactPattern
}

type redactPattern struct {
	re *regexp.Regexp
	// lits holds literals one of which every match contains (lower case
	// when fold is set); nil when the pattern has none worth looking for.
	// Scanning for them is far cheaper than running the regexp, and most
	// lines contain none.
	lits [][]byte
	fold bool
}

// NewRedactor compiles patterns; an empty list means
// DefaultRedactPatterns. Errors name the pattern that does not compile.
func NewRedactor(patterns []string) (*Redactor, error) {
	if len(patterns) == 0 {
		patterns = DefaultRedactPatterns()
	}
	r := &Redactor{pats: make([]redactPattern, 0, len(patterns))}
	for i, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("redact pattern %d %q: %w", i+1, p, err)
		}
		rp := redactPattern{re: re}
		if tree, err := syntax.Parse(p, syntax.Perl); err == nil {
			lits, fold, ok := requiredLiterals(tree.Simplify())
			if ok {
				for _, l := range lits {
					if fold {
						l = strings.ToLower(l)
					}
					rp.lits = append(rp.lits, []byte(l))
				}
				rp.fold = fold
			}
		}
		r.pats = append(r.pats, rp)
	}
	return r, nil
}

// requiredLiterals returns strings one of which must occur in any match
// of re, or ok=false when it cannot tell. Literals shorter than two bytes
// or outside ASCII are not worth it and count as unknown.
func requiredLiterals(re *syntax.Regexp) (lits []string, fold, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		s := string(re.Rune)
		if len(s) < 2 || len(s) != len(re.Rune) {
			return nil, false, false
		}
		return []string{s}, re.Flags&syntax.FoldCase != 0, true
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return requiredLiterals(re.Sub[0])
		}
	case syntax.OpConcat:
		best := -1
		consider := func(l []string, f bool) {
			if len(l) == 0 {
				return
			}
			shortest := len(l[0])
			for _, x := range l {
				shortest = min(shortest, len(x))
			}
			if shortest >= 2 && shortest > best {
				best, lits, fold = shortest, l, f
			}
		}
		// Runs of subexpressions that match exact strings combine into
		// longer literals: `(?:password|passwd)=` needs "password=" or
		// "passwd=", which sshd's "Failed password for" does not have.
		var run []string
		runFold := false
		for _, sub := range re.Sub {
			if ex, f, ok := exactStrings(sub); ok && len(run)*len(ex) <= 64 {
				if run == nil {
					run = []string{""}
				}
				var next []string
				for _, a := range run {
					for _, b := range ex {
						next = append(next, a+b)
					}
				}
				run, runFold = next, runFold || f
				continue
			}
			consider(run, runFold)
			run, runFold = nil, false
			if l, f, ok := requiredLiterals(sub); ok {
				consider(l, f)
			}
		}
		consider(run, runFold)
		return lits, fold, best >= 0
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			l, f, ok := requiredLiterals(sub)
			if !ok {
				return nil, false, false
			}
			lits = append(lits, l...)
			fold = fold || f
		}
		return lits, fold, true
	}
	return nil, false, false
}

// exactStrings returns every string re matches when that set is small and
// exact (literals, alternations and concatenations of them, and
// zero-width assertions, which match ""); ok=false otherwise.
func exactStrings(re *syntax.Regexp) (out []string, fold, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if len(string(re.Rune)) != len(re.Rune) {
			return nil, false, false
		}
		return []string{string(re.Rune)}, re.Flags&syntax.FoldCase != 0, true
	case syntax.OpEmptyMatch, syntax.OpWordBoundary, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText:
		return []string{""}, false, true
	case syntax.OpCapture:
		return exactStrings(re.Sub[0])
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			l, f, ok := exactStrings(sub)
			if !ok || len(out)+len(l) > 64 {
				return nil, false, false
			}
			out, fold = append(out, l...), fold || f
		}
		return out, fold, true
	case syntax.OpConcat:
		out = []string{""}
		for _, sub := range re.Sub {
			l, f, ok := exactStrings(sub)
			if !ok || len(out)*len(l) > 64 {
				return nil, false, false
			}
			var next []string
			for _, a := range out {
				for _, b := range l {
					next = append(next, a+b)
				}
			}
			out, fold = next, fold || f
		}
		return out, fold, true
	}
	return nil, false, false
}

// maybe reports whether line can match: false only when none of the
// required literals occurs.
func maybe[T string | []byte](p *redactPattern, line T) bool {
	if p.lits == nil {
		return true
	}
	for _, l := range p.lits {
		if indexLit(line, l, p.fold) >= 0 {
			return true
		}
	}
	return false
}

// indexLit finds lit in s, ignoring ASCII case when fold is set (lit is
// then lower case). Candidates are found with IndexByte, which is
// vectorised, for the first byte in both cases.
func indexLit[T string | []byte](s T, lit []byte, fold bool) int {
	if len(lit) == 0 {
		return 0
	}
	lo, up := lit[0], lit[0]
	if fold && lo >= 'a' && lo <= 'z' {
		up = lo - 'a' + 'A'
	}
	for i := 0; i+len(lit) <= len(s); {
		k := indexByte(s[i:], lo)
		if up != lo {
			if k2 := indexByte(s[i:], up); k2 >= 0 && (k < 0 || k2 < k) {
				k = k2
			}
		}
		if k < 0 {
			return -1
		}
		i += k
		if i+len(lit) > len(s) {
			return -1
		}
		j := 1
		for ; j < len(lit); j++ {
			c := s[i+j]
			if fold && c >= 'A' && c <= 'Z' {
				c |= 0x20
			}
			if c != lit[j] {
				break
			}
		}
		if j == len(lit) {
			return i
		}
		i++
	}
	return -1
}

func indexByte[T string | []byte](s T, c byte) int {
	switch v := any(s).(type) {
	case string:
		return strings.IndexByte(v, c)
	case []byte:
		return bytes.IndexByte(v, c)
	}
	return -1
}

// Redact returns line with every match masked. When nothing matches it
// returns line itself, without allocating; otherwise a new slice, so the
// caller's buffer is never written.
func (r *Redactor) Redact(line []byte) []byte {
	if r == nil || len(line) == 0 {
		return line
	}
	first := -1
	for i := range r.pats {
		if p := &r.pats[i]; maybe(p, line) && p.re.Match(line) {
			first = i
			break
		}
	}
	if first < 0 {
		return line
	}
	out := line
	for i := first; i < len(r.pats); i++ {
		p := &r.pats[i]
		if !maybe(p, out) {
			continue
		}
		locs := p.re.FindAllSubmatchIndex(out, -1)
		if locs == nil {
			continue
		}
		b := make([]byte, 0, len(out)+8)
		last := 0
		for _, m := range locs {
			if len(m) == 2 {
				b = append(b, out[last:m[0]]...)
				b = append(b, Mask...)
				last = m[1]
				continue
			}
			for g := 2; g+1 < len(m); g += 2 {
				if m[g] < 0 || m[g] < last {
					continue
				}
				b = append(b, out[last:m[g]]...)
				b = append(b, Mask...)
				last = m[g+1]
			}
		}
		out = append(b, out[last:]...)
	}
	return out
}

// RedactString is Redact for strings; it returns s itself when nothing
// matches.
func (r *Redactor) RedactString(s string) string {
	if r == nil || s == "" {
		return s
	}
	for i := range r.pats {
		if p := &r.pats[i]; maybe(p, s) && p.re.MatchString(s) {
			return string(r.Redact([]byte(s)))
		}
	}
	return s
}
