package query

import (
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	w := func(v string) Term { return Term{Kind: Word, Value: v} }
	ph := func(v string) Term { return Term{Kind: Phrase, Value: v} }
	f := func(k Kind, field, v string) Term { return Term{Kind: k, Field: field, Value: v} }
	not := func(t Term) Term { t.Negate = true; return t }
	tests := []struct {
		in   string
		want []Term
	}{
		{"", nil},
		{"   \t ", nil},
		{"error", []Term{w("error")}},
		{"connection refused", []Term{w("connection"), w("refused")}},
		{`"connection refused"`, []Term{ph("connection refused")}},
		{`"say \"hi\" \\ \d"`, []Term{ph(`say "hi" \ \d`)}},
		{"host=web1", []Term{f(FieldEq, "host", "web1")}},
		{"host!=web1", []Term{f(FieldNe, "host", "web1")}},
		{`path~^/api/v\d+/`, []Term{f(FieldRe, "path", `^/api/v\d+/`)}},
		{`msg~"timed? out"`, []Term{f(FieldRe, "msg", "timed? out")}},
		{`path!~\.css$`, []Term{not(f(FieldRe, "path", `\.css$`))}},
		{"status>499 status<600 bytes>=1.5e3 rt<=-2", []Term{
			f(FieldGt, "status", "499"), f(FieldLt, "status", "600"),
			f(FieldGe, "bytes", "1.5e3"), f(FieldLe, "rt", "-2")}},
		{"severity<=error", []Term{f(FieldLe, "severity", "err")}},
		{"severity=WARN severity!=3 severity>Panic", []Term{
			f(FieldEq, "severity", "warning"), f(FieldNe, "severity", "err"), f(FieldGt, "severity", "emerg")}},
		{"facility=LOCAL3 facility=4", []Term{f(FieldEq, "facility", "local3"), f(FieldEq, "facility", "auth")}},
		{"sd.origin.ip=10.0.0.1 queue_id=4F2A x-forwarded-for=1.2.3.4 _t=1", []Term{
			f(FieldEq, "sd.origin.ip", "10.0.0.1"), f(FieldEq, "queue_id", "4F2A"),
			f(FieldEq, "x-forwarded-for", "1.2.3.4"), f(FieldEq, "_t", "1")}},
		{"-cron -\"health check\" -host=web1", []Term{not(w("cron")), not(ph("health check")), not(f(FieldEq, "host", "web1"))}},
		{"--verbose", []Term{not(w("-verbose"))}},
		{`"-v" "user=root"`, []Term{ph("-v"), ph("user=root")}},
		{"<html> => 10.0.0.1:22 a+b=c 1=2 NOT", []Term{w("<html>"), w("=>"), w("10.0.0.1:22"), w("a+b=c"), w("1=2"), w("NOT")}},
		{`user=""`, []Term{f(FieldEq, "user", "")}},
		{"a=b=c a~x y", []Term{f(FieldEq, "a", "b=c"), f(FieldRe, "a", "x"), w("y")}},
		{"grüße ünïcödé", []Term{w("grüße"), w("ünïcödé")}},
		{"a\nb\r\nc", []Term{w("a"), w("b"), w("c")}},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !slices.Equal(q.Terms, tt.want) {
			t.Errorf("Parse(%q) =\n  %+v\nwant\n  %+v", tt.in, q.Terms, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`error "connection refused`, `query: col 7: unterminated quote`},
		{`host="web1`, `query: col 6: unterminated quote`},
		{`a -`, `query: col 3: nothing after "-" (quote a lone dash: "-")`},
		{`- a`, `query: col 1: nothing after "-" (quote a lone dash: "-")`},
		{`""`, `query: col 1: empty phrase`},
		{`x -""`, `query: col 4: empty phrase`},
		{`"a"b`, `query: col 4: missing space after closing quote`},
		{`host="a"b`, `query: col 9: missing space after closing quote`},
		{`foo"bar`, `query: col 4: stray quote; put the whole word in quotes`},
		{`user=ro"ot`, `query: col 8: stray quote; put the whole value in quotes`},
		{`ok host=`, `query: col 4: missing value after "host="`},
		{`-path!~ x`, `query: col 1: missing value after "-path!~"`},
		{`path~(`, `query: col 1: bad regex in "path~(": missing closing )`},
		{`ä path~a**`, `query: col 3: bad regex in "path~a**": invalid nested repetition operator`},
		{`status>abc`, `query: col 1: "status>abc": not a number`},
		{`status<=NaN`, `query: col 1: "status<=NaN": not a number`},
		{`status>1e999`, `query: col 1: "status>1e999": not a number`},
		{`severity<=bad`, `query: col 1: unknown severity "bad" (want emerg, alert, crit, err, warning, notice, info, debug, or 0-7)`},
		{`severity=8`, `query: col 1: unknown severity "8" (want emerg, alert, crit, err, warning, notice, info, debug, or 0-7)`},
		{`facility=mail2`, `query: col 1: unknown facility "mail2" (want a keyword such as daemon or local0, or 0-23)`},
		{"x~\x1b(", `query: col 1: bad regex in "x~\x1b(": missing closing )`},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want error %q", tt.in, q, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q) error\n  %s\nwant\n  %s", tt.in, err, tt.want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		want string // canonical form
	}{
		{nil, ""},
		{[]string{"connection refused", "host=web1"}, `"connection refused" host=web1`},
		{[]string{"error", "-cron", "status>=500"}, `error -cron status>=500`},
		{[]string{"path~foo bar", "-msg~a b"}, `path~"foo bar" -msg~"a b"`},
		{[]string{"-health check"}, `-"health check"`},
		{[]string{`say "hi" now`}, `"say \"hi\" now"`},
		{[]string{`"a b" host=x`}, `"a b" host=x`},
		{[]string{`-"a b"`}, `-"a b"`},
		{[]string{`path~"a b" c`}, `path~"a b" c`},
		{[]string{"a=b c"}, `a="b c"`},
		{[]string{"<x> y"}, `"<x> y"`},
		{[]string{"a", "", "b"}, `a b`},
		{[]string{"host=web 1"}, `host="web 1"`},
	}
	for _, tt := range tests {
		q, err := ParseArgs(tt.args)
		if err != nil {
			t.Errorf("ParseArgs(%q): %v", tt.args, err)
			continue
		}
		if got := q.String(); got != tt.want {
			t.Errorf("ParseArgs(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

func TestParseArgsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ok", `"open`}, `query: arg 2: col 1: unterminated quote`},
		{[]string{"status>5 x"}, `query: arg 1: "status>5 x": not a number`},
		{[]string{"a", "path~( x"}, `query: arg 2: bad regex in "path~( x": missing closing )`},
		{[]string{"severity<=error x"}, `query: arg 1: unknown severity "error x" (want emerg, alert, crit, err, warning, notice, info, debug, or 0-7)`},
	}
	for _, tt := range tests {
		_, err := ParseArgs(tt.args)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseArgs(%q) error %v, want %s", tt.args, err, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	q, err := New(Term{Kind: FieldLe, Field: "severity", Value: "warn"}, Term{Kind: Word, Value: "-x"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.String(), `severity<=warning "-x"`; got != want {
		t.Errorf("String = %s, want %s", got, want)
	}
	bad := []struct {
		t    Term
		want string
	}{
		{Term{Kind: 0}, "query: term 1: unknown term kind 0"},
		{Term{Kind: FieldEq, Field: "a b", Value: "x"}, `query: term 1: bad field name "a b"`},
		{Term{Kind: Word, Field: "a", Value: "x"}, "query: term 1: word term with a field"},
		{Term{Kind: Phrase}, "query: term 1: empty phrase"},
		{Term{Kind: FieldRe, Field: "a", Value: "("}, `query: term 1: bad regex in "a~(": missing closing )`},
	}
	for _, b := range bad {
		if _, err := New(b.t); err == nil || err.Error() != b.want {
			t.Errorf("New(%+v) error %v, want %s", b.t, err, b.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	inputs := []string{
		"error",
		`"connection refused" host=web1`,
		`"say \"hi\" \\"`,
		`path~"a b" path~\d+ -path!~x`,
		"--v -\"-\" -a=b",
		"severity<=error facility=LOCAL0 status>=5e2",
		`user="" a=b=c`,
		"ünï \x00\xff weird=\x01",
		`"a\b" x~"\\d"`,
	}
	for _, in := range inputs {
		q, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		s := q.String()
		q2, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(String(%q) = %q): %v", in, s, err)
		}
		if !q.Equal(q2) {
			t.Errorf("round trip of %q via %q: %+v != %+v", in, s, q.Terms, q2.Terms)
		}
		if s2 := q2.String(); s2 != s {
			t.Errorf("String not canonical: %q then %q", s, s2)
		}
	}
}

func TestCanonicalString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  a   b  ", "a b"},
		{`"single"`, `"single"`},
		{"severity<=error", "severity<=err"},
		{`path!~x`, `-path~x`},
		{`msg~"a b"`, `msg~"a b"`},
		{`x="y"`, `x=y`},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLiteralsAndFieldEquals(t *testing.T) {
	tests := []struct {
		in   string
		lits []string
	}{
		{"", nil},
		{`Error "Connection REFUSED" -cron host=web1 path~foo error`, []string{"error", "connection refused"}},
		{`-a -"b c" x=y`, nil},
		{"ÜBER Straße", []string{"Über", "straße"}},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.Literals(); !slices.Equal(got, tt.lits) {
			t.Errorf("Literals(%q) = %q, want %q", tt.in, got, tt.lits)
		}
	}
	q, _ := Parse("-host=a host!=b Host=c host=WEB1 program=sshd severity=error")
	for _, c := range []struct {
		name, want string
		ok         bool
	}{{"host", "WEB1", true}, {"program", "sshd", true}, {"severity", "err", true}, {"pid", "", false}, {"Host", "c", true}} {
		v, ok := q.FieldEquals(c.name)
		if v != c.want || ok != c.ok {
			t.Errorf("FieldEquals(%q) = %q, %v; want %q, %v", c.name, v, ok, c.want, c.ok)
		}
	}
	var nilq *Query
	if _, ok := nilq.FieldEquals("host"); ok || nilq.Literals() != nil || !nilq.Match(doc{}) || nilq.String() != "" {
		t.Error("nil query is not the match-all query")
	}
}
