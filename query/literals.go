package query

import "slices"

// Literals returns substrings, with ASCII letters lowered, that every line
// the query matches contains: the words and phrases that are not negated,
// without repeats. A matching line contains each one under the package's
// case folding, so its ASCII bytes appear in the line with the line's ASCII
// letters lowered, byte for byte; that is what a trigram index may rely on.
//
// Field terms add nothing: a field value need not appear in the raw line
// as written (severity comes from the PRI number, parsers decode escapes),
// so a literal taken from them could wrongly exclude a line. The one
// exception is a regex on the message, which is the line's own text:
// its required literals count when they hold no byte an encoder escapes.
func (q *Query) Literals() []string {
	if q == nil {
		return nil
	}
	var out []string
	for _, t := range q.Terms {
		if t.Negate || t.Kind != Word && t.Kind != Phrase {
			continue
		}
		l := lowerASCII(t.Value)
		dup := false
		for _, o := range out {
			if o == l {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, l)
		}
	}
	// A regex on the message holds literals every match contains; they are
	// in the stored line too when no escaping can have changed them (JSON
	// and logfmt write quotes, backslashes, sometimes / and, from Go, <>&
	// escaped).
	for _, m := range q.plan {
		if m.kind != FieldRe || m.negate || m.field != "message" {
			continue
		}
		for _, l := range m.reLits {
			if len(l) < 3 || !lineSafe(l) {
				continue
			}
			l = lowerASCII(l)
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
	}
	return out
}

func lineSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '/' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// FieldEquals returns the value of the first term name=value that is not
// negated, so a store can skip whole blocks by host or program. Severity
// and facility values come back as their lower-case keywords (severity=error
// gives "err"); host and program values as written, to be compared
// case-insensitively.
func (q *Query) FieldEquals(name string) (value string, ok bool) {
	if q == nil {
		return "", false
	}
	for _, t := range q.Terms {
		if t.Kind == FieldEq && !t.Negate && t.Field == name {
			return t.Value, true
		}
	}
	return "", false
}
