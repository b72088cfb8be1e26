package logparse

import (
	"fmt"
	"regexp"
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
	any  *regexp.Regexp // all patterns as one alternation: the no-match fast path
	each []*regexp.Regexp
}

// NewRedactor compiles patterns; an empty list means
// DefaultRedactPatterns. Errors name the pattern that does not compile.
func NewRedactor(patterns []string) (*Redactor, error) {
	if len(patterns) == 0 {
		patterns = DefaultRedactPatterns()
	}
	r := &Redactor{each: make([]*regexp.Regexp, 0, len(patterns))}
	alts := make([]string, 0, len(patterns))
	for i, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("redact pattern %d %q: %w", i+1, p, err)
		}
		r.each = append(r.each, re)
		// Flags such as (?i) stay inside their own group.
		alts = append(alts, "(?:"+p+")")
	}
	re, err := regexp.Compile(strings.Join(alts, "|"))
	if err != nil {
		return nil, fmt.Errorf("redact patterns: %w", err)
	}
	r.any = re
	return r, nil
}

// Redact returns line with every match masked. When nothing matches it
// returns line itself, without allocating; otherwise a new slice, so the
// caller's buffer is never written.
func (r *Redactor) Redact(line []byte) []byte {
	if r == nil || len(line) == 0 || !r.any.Match(line) {
		return line
	}
	out := line
	for _, re := range r.each {
		locs := re.FindAllSubmatchIndex(out, -1)
		if locs == nil {
			continue
		}
		var b []byte
		b = make([]byte, 0, len(out)+8)
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
	if r == nil || s == "" || !r.any.MatchString(s) {
		return s
	}
	return string(r.Redact([]byte(s)))
}
