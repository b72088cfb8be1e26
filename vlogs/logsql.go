package vlogs

import (
	"math"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/watchpost/watchpost/internal/jsonstr"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/query"
)

// LogsQL translation of the query language.
//
// The translation is sound, not always exact: every line the query
// matches is selected, and where LogsQL cannot say exactly what the
// matcher means, more is selected, never less. The searcher tests each row
// VictoriaLogs returns with the query's own matcher, so results equal the
// SQLite store's either way; exactness saves transfer.
//
// How the terms map:
//
//	word, "phrase"   wp_lc:~"word"  (a plain substring of the line with its
//	                 ASCII letters lowered; LogsQL's own word filters match
//	                 whole words, case-sensitively, while a bare word here
//	                 is a case-insensitive substring as grep -i -F finds
//	                 it; a non-ASCII letter becomes the class of its case
//	                 folding, so "k" never matches the Kelvin sign as (?i)
//	                 would)
//	f=v              "f":="v"; host and program ignore ASCII case:
//	                 "host":~"^(?:[wW][eE][bB]1)$"
//	f!=v, -term      -(...): LogsQL's negation also selects rows without
//	                 the field, as the query language wants
//	f~re             "f":~"re" (both are Go's RE2)
//	f>N ...          "f":>=N-ε; severity<=err: "severity":in(emerg,alert,crit,err)
//
// Values VictoriaLogs would give back in another form (numbers such as
// 1.0, empty values) travel in wp_exact too; field terms also select the
// rows that hold their field there. Field names are always quoted, values
// quoted with Go escapes.

// Filter returns the LogsQL filter of q (all terms ANDed) without a time
// bound; "*" when it selects everything.
func Filter(q *query.Query) string {
	var parts []string
	if q != nil {
		for _, t := range q.Terms {
			if s := termFilter(t); s != "" {
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

// notPlainNumber matches values VictoriaLogs reads as numbers and the
// query language does not (10ms, 1KB, 0x1f, 1_000).
const notPlainNumber = `[^0-9.eE+-]`

// termFilter translates one term into a filter that selects every row the
// term holds for (and perhaps more). VictoriaLogs stores a value such as
// "1.0" or "0.6" as a number and gives it back in another form, and drops
// empty values: the line keeps the originals of those in wp_exact, so a
// field term also selects the rows whose field is there ("unsure" rows),
// and the matcher decides for them.
func termFilter(t query.Term) string {
	switch t.Kind {
	case query.Word, query.Phrase:
		re, ok := lowerRegex(t.Value)
		if !ok {
			return ""
		}
		f := fieldLower + ":~" + strconv.Quote(re)
		if t.Negate {
			f = "-" + f
		}
		if strings.Trim(t.Value, "0123456789._-") == "" {
			// A line that is only a number may be stored in another form.
			return "(" + f + " OR " + unsure("_msg") + ")"
		}
		return f
	case query.FieldEq, query.FieldNe:
		neg := t.Negate != (t.Kind == query.FieldNe)
		if t.Field == "message" {
			return messageEqual(t.Value, neg)
		}
		if t.Value == "" || mangled(t.Value) {
			// Only the original in wp_exact can say: exact.
			f := fieldName(t.Field) + `:=""`
			if t.Field != "message" {
				f = exactHas(t.Field, t.Value)
			}
			if neg {
				return "-" + f
			}
			return f
		}
		f := equalFilter(t.Field, t.Value)
		if f == "" {
			return ""
		}
		if neg {
			f = "-" + f
		}
		return orUnsure(f, t.Field)
	case query.FieldRe:
		expr := t.Value
		if t.Field == "host" || t.Field == "program" {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return ""
		}
		f := fieldName(t.Field) + ":~" + strconv.Quote(expr)
		if t.Field == "message" {
			return messageRegex(f, expr, t.Negate)
		}
		if !t.Negate {
			return orUnsure(f, t.Field)
		}
		f = "-" + f
		if re.MatchString("") && !alwaysPresent(t.Field) {
			// LogsQL reads a missing field as "", which this regex
			// matches: rows without the field are selected apart.
			f += " OR " + fieldName(t.Field) + `:=""`
		}
		return orUnsure(f, t.Field)
	case query.FieldGt, query.FieldLt, query.FieldGe, query.FieldLe:
		if t.Field == "severity" {
			f := severityRange(t)
			switch {
			case !t.Negate:
				return f
			case f == falseFilter:
				return ""
			}
			return "-" + f
		}
		x, err := strconv.ParseFloat(t.Value, 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return ""
		}
		// VictoriaLogs reads "0.6" as 0.6000000000000001: bounds are
		// widened a little (narrowed under a negation) and the matcher
		// decides.
		eps := math.Abs(x)*1e-9 + 1e-300
		up := t.Kind == query.FieldGt || t.Kind == query.FieldGe
		if t.Negate {
			eps = -eps
		}
		var f string
		if up {
			f = fieldName(t.Field) + ":>=" + strconv.FormatFloat(x-eps, 'g', -1, 64)
		} else {
			f = fieldName(t.Field) + ":<=" + strconv.FormatFloat(x+eps, 'g', -1, 64)
		}
		if !t.Negate {
			return f
		}
		// Values VictoriaLogs reads as numbers and the matcher does not
		// satisfy the negation.
		return "(-" + f + " OR " + fieldName(t.Field) + ":~" + strconv.Quote(notPlainNumber) + ")"
	}
	return ""
}

// The message is stored only when it is not the end of the line (see
// fieldMsgAt): a row without "message" has its message in _msg.
const derivedMessage = `"message":=""`

// messageEqual is the filter of message=v (negated: message!=v).
func messageEqual(v string, neg bool) string {
	if neg {
		return "(-" + `"message":=` + strconv.Quote(v) + " OR " + derivedMessage + " OR " + unsure("message") + ")"
	}
	if v == "" {
		return "(" + derivedMessage + " OR " + unsure("message") + ")"
	}
	return `("message":=` + strconv.Quote(v) + " OR _msg:~" + strconv.Quote(regexp.QuoteMeta(v)+"$") + " OR " + unsure("message") + ")"
}

// messageRegex is the filter of message~re. Where the message is the end
// of the line, a regex that matches it matches the line too, unless it
// looks at where the message begins (^, \A, \b, \B).
func messageRegex(f, expr string, neg bool) string {
	if neg {
		return "(-" + f + " OR " + derivedMessage + " OR " + unsure("message") + ")"
	}
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return "(" + f + " OR " + derivedMessage + " OR " + unsure("message") + ")"
	}
	// Without those assertions the regex matches more strings, and
	// where it matches the message it matches the line.
	loosen(re)
	return "(" + f + " OR _msg:~" + strconv.Quote(re.String()) + " OR " + unsure("message") + ")"
}

// loosen replaces the assertions that look at where a match begins with
// empty matches.
func loosen(re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		re.Op = syntax.OpEmptyMatch
	}
	for _, sub := range re.Sub {
		loosen(sub)
	}
}

// unsure selects the rows whose field's original is in wp_exact.
func unsure(field string) string {
	return fieldExact + ":~" + strconv.Quote(regexp.QuoteMeta(string(jsonstr.Append(nil, exactKey(field)))+":"))
}

// exactHas selects the rows whose wp_exact holds field = value.
func exactHas(field, value string) string {
	kv := jsonstr.Append(nil, exactKey(field))
	kv = append(kv, ':')
	kv = jsonstr.Append(kv, value)
	return fieldExact + ":~" + strconv.Quote(regexp.QuoteMeta(string(kv)))
}

// exactKey is a field's key in wp_exact.
func exactKey(field string) string {
	if standardFields[field] || field == "_msg" {
		return field
	}
	return storedName(field)
}

func orUnsure(f, field string) string {
	if field == fieldSeq || field == "severity" || field == "facility" {
		return f // written by the loghost: never in another form
	}
	return "(" + f + " OR " + unsure(field) + ")"
}

// alwaysPresent reports whether a field is set on every stored line, so
// that LogsQL's "missing means empty" cannot differ from the matcher.
func alwaysPresent(field string) bool {
	return field == "host" || field == "message" || field == fieldSeq
}

// equalFilter is the filter of field=value, value neither empty nor
// mangled.
func equalFilter(field, value string) string {
	switch field {
	case "host", "program":
		re, ok := foldRegex(value, true)
		if !ok {
			return ""
		}
		return fieldName(field) + ":~" + strconv.Quote("^(?:"+re+")$")
	}
	return fieldName(field) + ":=" + strconv.Quote(value)
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
