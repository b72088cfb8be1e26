package vlogs

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/query"
)

// LogsQL translation of the query language.
//
// The translation is sound, not always exact: every line the query
// matches is selected, and a term LogsQL cannot express exactly selects
// more, never less. The searcher tests each row VictoriaLogs returns with
// the query's own matcher, so results equal the SQLite store's either way;
// exactness only saves transfer.
//
// How the terms map (LogsQL's own word filters are not used for bare
// words: they match whole words and are case-sensitive, while a bare word
// here is a case-insensitive substring, as grep -i -F finds it):
//
//	word, "phrase"   _msg:~"[wW][oO][rR][dD]"  (a regex of the substring with
//	                 the package's folding spelled out, so "k" never
//	                 matches the Kelvin sign as (?i) would)
//	f=v              "f":="v"; host and program ignore ASCII case:
//	                 "host":~"^(?:[wW][eE][bB]1)$"
//	f!=v, -term      -(...) : LogsQL's negation also selects rows without
//	                 the field, as the query language wants
//	f~re             "f":~"re" (both are Go's RE2)
//	f>N ...          "f":>N; severity<=err: "severity":in(emerg,alert,crit,err)
//
// Field names are always quoted, values always quoted with Go escapes.

// Filter returns the LogsQL filter of q (all terms ANDed) without a time
// bound; "*" when it selects everything.
func Filter(q *query.Query) string {
	var parts []string
	if q != nil {
		for _, t := range q.Terms {
			if s, _ := termFilter(t); s != "" {
				parts = append(parts, s)
			}
		}
	}
	if len(parts) == 0 {
		return "*"
	}
	return strings.Join(parts, " ")
}

// TimeFilter returns the LogsQL time filter of [since, until); "" when
// both are zero.
func TimeFilter(since, until time.Time) string {
	switch {
	case since.IsZero() && until.IsZero():
		return ""
	case until.IsZero():
		return "_time:>=" + logsqlTime(since)
	case since.IsZero():
		return "_time:<" + logsqlTime(until)
	}
	return "_time:[" + logsqlTime(since) + ", " + logsqlTime(until) + ")"
}

func logsqlTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// falseFilter selects nothing.
const falseFilter = `"severity":in()`

// numRender matches the way VictoriaLogs writes back a value it stored
// as a number (see mangled): such a row may hold an original value the
// filter cannot see, so filters that could miss it also select it.
const numRender = `^-?[0-9][0-9.e+-]*$`

// termFilter translates one term. A filter that cannot be exact selects
// more than the term; its negation would then select less, so a negated
// inexact term is left out (selecting everything) unless it is built as
// a superset of its own.
func termFilter(t query.Term) (string, bool) {
	switch t.Kind {
	case query.Word, query.Phrase:
		re, ok := lowerRegex(t.Value)
		if !ok {
			return "", false
		}
		f := fieldLower + ":~" + strconv.Quote(re)
		if numeric(strings.ReplaceAll(t.Value, "-", "")) || t.Value == "-" || t.Value == "." {
			// A line that is only a number may be stored in another form.
			return orNumber(f, fieldLower, t.Negate), false
		}
		if t.Negate {
			return "-" + f, true
		}
		return f, true
	case query.FieldRe:
		expr := t.Value
		if t.Field == "host" || t.Field == "program" {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return "", false
		}
		f := fieldName(t.Field) + ":~" + strconv.Quote(expr)
		// LogsQL tests a missing field as the empty string: a regex that
		// matches "" also selects rows without the field, which the query
		// language does not (the message is always there).
		empty := re.MatchString("") && !alwaysPresent(t.Field)
		if maybeNumber(t.Field) && !(empty && t.Negate) {
			return orNumber(f, t.Field, t.Negate), false
		}
		if empty {
			if t.Negate {
				return "", false
			}
			return f, false
		}
		if t.Negate {
			return "-" + f, true
		}
		return f, true
	}
	f, exact := positiveFilter(t)
	if !t.Negate {
		return f, exact
	}
	if !exact || f == "" {
		return "", false
	}
	if f == falseFilter {
		return "", true // NOT nothing: everything
	}
	return "-" + f, true
}

// orNumber is filter f on field, or its negation, widened to the rows
// whose field VictoriaLogs holds as a number.
func orNumber(f, field string, negate bool) string {
	num := fieldName(field) + ":~" + strconv.Quote(numRender)
	if field == fieldLower {
		num = fieldLower + ":~" + strconv.Quote(numRender)
	}
	if negate {
		return "(-" + f + " OR " + num + ")"
	}
	return "(" + f + " OR " + num + ")"
}

// maybeNumber reports whether a field's values may be stored as numbers
// by VictoriaLogs: parser fields and the pid.
func maybeNumber(field string) bool {
	return field == "pid" || !standardFields[field]
}

// positiveFilter translates an equality or ordering term without its
// negation.
func positiveFilter(t query.Term) (string, bool) {
	switch t.Kind {
	case query.FieldEq, query.FieldNe:
		f, exact := equalFilter(t.Field, t.Value)
		if t.Kind == query.FieldEq {
			return f, exact
		}
		// f!=v is the negation of f=v (a missing field satisfies it).
		if !exact || f == "" {
			return "", false
		}
		return "-" + f, true
	case query.FieldGt, query.FieldLt, query.FieldGe, query.FieldLe:
		if t.Field == "severity" {
			return severityRange(t), true
		}
		x, err := strconv.ParseFloat(t.Value, 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return "", false
		}
		// VictoriaLogs reads "0.6" as 0.6000000000000001 and more values
		// as numbers (durations, sizes, hex) than the query language
		// does: the bound is widened a little and the filter is not
		// exact.
		eps := math.Abs(x)*1e-9 + 1e-300
		switch t.Kind {
		case query.FieldGt, query.FieldGe:
			return fieldName(t.Field) + ":>=" + strconv.FormatFloat(x-eps, 'g', -1, 64), false
		default:
			return fieldName(t.Field) + ":<=" + strconv.FormatFloat(x+eps, 'g', -1, 64), false
		}
	}
	return "", false
}

// alwaysPresent reports whether a field is set on every stored line, so
// that LogsQL's "missing means empty" cannot differ from the matcher.
func alwaysPresent(field string) bool {
	return field == "host" || field == "message" || field == fieldSeq
}

// equalFilter is the filter of field=value.
func equalFilter(field, value string) (string, bool) {
	if value == "" {
		// LogsQL cannot tell a missing field from an empty one: select
		// both, the matcher decides.
		if field == "message" {
			return `"message":=""`, true
		}
		return fieldName(field) + `:=""`, false
	}
	switch field {
	case "host", "program":
		re, ok := foldRegex(value, true)
		if !ok {
			return "", false
		}
		return fieldName(field) + ":~" + strconv.Quote("^(?:"+re+")$"), true
	}
	if numeric(value) {
		// Stored as a number, "1.0" is 1 and 0.6 is 0.6000000000000001
		// there: select the numbers around it.
		x, err := strconv.ParseFloat(strings.ReplaceAll(value, "_", ""), 64)
		if err != nil {
			return "", false
		}
		eps := math.Abs(x)*1e-9 + 1e-300
		return fmt.Sprintf("(%s:=%s OR %s:range[%s, %s])", fieldName(field), strconv.Quote(value), fieldName(field),
			strconv.FormatFloat(x-eps, 'g', -1, 64), strconv.FormatFloat(x+eps, 'g', -1, 64)), false
	}
	return fieldName(field) + ":=" + strconv.Quote(value), true
}

// severityRange lists the severities that satisfy an ordering term
// (values are normalized keywords).
func severityRange(t query.Term) string {
	bound := indexOf(logparse.SeverityNames[:], t.Value)
	if bound < 0 {
		return ""
	}
	var in []string
	for c := range logparse.SeverityNames {
		ok := false
		switch t.Kind {
		case query.FieldGt:
			ok = c > bound
		case query.FieldLt:
			ok = c < bound
		case query.FieldGe:
			ok = c >= bound
		case query.FieldLe:
			ok = c <= bound
		}
		if ok {
			in = append(in, strconv.Quote(logparse.SeverityNames[c]))
		}
	}
	if len(in) == 0 {
		return falseFilter
	}
	return `"severity":in(` + strings.Join(in, ",") + ")"
}

// fieldName is the quoted stored name of a query field: the standard
// fields as they are, parser fields as storedName files them.
func fieldName(f string) string {
	if standardFields[f] {
		return strconv.Quote(f)
	}
	return strconv.Quote(storedName(f))
}

// lowerRegex is the regex of needle s against the line with its ASCII
// letters lowered (wp_lc): an ASCII needle is a plain substring there,
// which VictoriaLogs searches fast (and with its bloom filters for the
// whole words inside a longer needle); a non-ASCII character matches its
// folding orbit as foldRegex spells it.
func lowerRegex(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteString(regexp.QuoteMeta(string(r)))
			continue
		}
		re, _ := foldRegex(string(r), false)
		b.WriteString(re)
	}
	return b.String(), true
}

// foldRegex spells out the query package's case folding as an RE2 regex
// matching s: an ASCII letter matches both its cases and nothing else; a
// non-ASCII character matches the non-ASCII characters of its simple
// folding orbit (asciiOnly: only itself, as host and program compare). It
// fails on invalid UTF-8, which LogsQL cannot see (lines are sent as
// valid UTF-8).
func foldRegex(s string, asciiOnly bool) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && (r|0x20 >= 'a' && r|0x20 <= 'z'):
			b.WriteByte('[')
			b.WriteRune(r | 0x20)
			b.WriteRune(r &^ 0x20)
			b.WriteByte(']')
		case r < utf8.RuneSelf || asciiOnly:
			b.WriteString(regexp.QuoteMeta(string(r)))
		default:
			orbit := []rune{r}
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				if f >= utf8.RuneSelf {
					orbit = append(orbit, f)
				}
			}
			if len(orbit) == 1 {
				b.WriteString(regexp.QuoteMeta(string(r)))
				continue
			}
			b.WriteByte('[')
			for _, o := range orbit {
				b.WriteString(regexp.QuoteMeta(string(o)))
			}
			b.WriteByte(']')
		}
	}
	return b.String(), true
}
