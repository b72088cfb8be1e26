package query

import (
	"fmt"
	"strings"
)

// Kind tells what a term tests.
type Kind uint8

// The term kinds. Word and Phrase test the raw line; the others test the
// field named in Term.Field.
const (
	Word    Kind = iota + 1 // the line contains Value (case-insensitive)
	Phrase                  // like Word, but Value may hold spaces
	FieldEq                 // Field equals Value
	FieldNe                 // Field is missing or differs from Value
	FieldRe                 // Field matches the RE2 regex Value (unanchored)
	FieldGt                 // Field > Value (numbers, or severity keywords)
	FieldLt                 // Field < Value
	FieldGe                 // Field >= Value
	FieldLe                 // Field <= Value
)

var kindNames = [...]string{
	Word: "word", Phrase: "phrase", FieldEq: "=", FieldNe: "!=", FieldRe: "~",
	FieldGt: ">", FieldLt: "<", FieldGe: ">=", FieldLe: "<=",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// op returns the operator a field term is written with.
func (k Kind) op() string {
	if k >= FieldEq && k <= FieldLe {
		return kindNames[k]
	}
	return ""
}

// isField reports whether the kind tests a named field.
func (k Kind) isField() bool { return k >= FieldEq && k <= FieldLe }

// isNumeric reports whether the kind is an ordering comparison.
func (k Kind) isNumeric() bool { return k >= FieldGt && k <= FieldLe }

// Term is one condition of a query. All terms of a query must hold.
//
// Values are stored normalized: severity values as their RFC 5424 keyword
// (severity=error is kept as severity=err), facility values as their
// lower-case keyword. Negate inverts the whole term: a negated field term
// holds when the field is missing.
type Term struct {
	Kind   Kind
	Field  string // empty for Word and Phrase
	Value  string
	Negate bool
}

// String returns the term in the query syntax; Parse reads it back to an
// equal term.
func (t Term) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t Term) write(b *strings.Builder) {
	if t.Negate {
		b.WriteByte('-')
	}
	switch {
	case t.Kind == Word && bareWord(t.Value, t.Negate):
		b.WriteString(t.Value)
	case t.Kind == Word || t.Kind == Phrase:
		writeQuoted(b, t.Value)
	default:
		b.WriteString(t.Field)
		b.WriteString(t.Kind.op())
		if _, isRange, _ := rangeTerms(t); bareValue(t.Value) && !isRange {
			b.WriteString(t.Value)
		} else {
			writeQuoted(b, t.Value)
		}
	}
}

// bareWord reports whether a word can be written without quotes and still
// parse back as the same word.
func bareWord(s string, negated bool) bool {
	if !bareValue(s) {
		return false
	}
	if !negated && s[0] == '-' {
		return false
	}
	_, _, _, ok := fieldPrefix(s)
	return !ok
}

// bareValue reports whether s can be written unquoted after an operator.
func bareValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) || s[i] == '"' {
			return false
		}
	}
	return true
}

func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// Query is a compiled query. Its Terms are read-only: build a changed query
// with New.
type Query struct {
	Terms []Term
	plan  []matcher // Terms compiled, cheapest first
}

// String returns the canonical form of the query: terms separated by one
// space, quoted only where needed. Parse(q.String()) yields an equal query.
func (q *Query) String() string {
	if q == nil {
		return ""
	}
	var b strings.Builder
	for i, t := range q.Terms {
		if i > 0 {
			b.WriteByte(' ')
		}
		t.write(&b)
	}
	return b.String()
}

// Equal reports whether two queries have the same terms in the same order.
func (q *Query) Equal(o *Query) bool {
	if q == nil || o == nil {
		return q.Len() == o.Len()
	}
	if len(q.Terms) != len(o.Terms) {
		return false
	}
	for i := range q.Terms {
		if q.Terms[i] != o.Terms[i] {
			return false
		}
	}
	return true
}

// Len returns the number of terms; a nil or empty query matches everything.
func (q *Query) Len() int {
	if q == nil {
		return 0
	}
	return len(q.Terms)
}
