package query

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// doc is a fake Doc: a line and fields.
type doc struct {
	line   string
	fields map[string]string
}

func (d doc) Line() string { return d.line }

func (d doc) Get(f string) (string, bool) {
	v, ok := d.fields[f]
	return v, ok
}

func TestMatch(t *testing.T) {
	sshd := doc{
		line: "Nov 22 10:00:01 web1 sshd[811]: Failed password for root from 203.0.113.9 port 22 ssh2",
		fields: map[string]string{
			"host": "Web1", "program": "sshd", "pid": "811", "severity": "info", "facility": "authpriv",
			"message": "Failed password for root from 203.0.113.9 port 22 ssh2", "user": "root",
		},
	}
	web := doc{
		line: `203.0.113.9 - - [22/Nov/2026:10:00:01 +0000] "GET /api/v2/items?id=7 HTTP/1.1" 503 1234 "-" "curl/8.5"`,
		fields: map[string]string{
			"host": "web2", "program": "nginx", "severity": "err", "status": "503", "bytes": "1234",
			"path": "/api/v2/items", "method": "GET", "rt": "0.250",
		},
	}
	uni := doc{line: "Größe: ΣΊΣΥΦΟΣ STRASSE \xff end ſ \u212a", fields: map[string]string{"host": "ñandú"}}
	tests := []struct {
		q    string
		d    doc
		want bool
	}{
		{"", sshd, true},
		{"failed PASSWORD", sshd, true},
		{"failed nope", sshd, false},
		{`"password for root"`, sshd, true},
		{`"password  for root"`, sshd, false},
		{"-cron", sshd, true},
		{"-ROOT", sshd, false},
		{`-"for root"`, sshd, false},
		{"host=web1 program=SSHD", sshd, true},
		{"host=web2", sshd, false},
		{"host!=web1", sshd, false},
		{"-host=web1", sshd, false},
		{"user=root user!=admin", sshd, true},
		{"user=ROOT", sshd, false}, // other fields are case-sensitive
		{"queue_id!=x", sshd, true},
		{"queue_id=x", sshd, false},
		{"queue_id~.", sshd, false},
		{"queue_id!~.", sshd, true},
		{"status>0", sshd, false},
		{"status<=0", sshd, false},
		{"severity=info severity=6 severity=INFORMATIONAL", sshd, true},
		{"severity<=err", sshd, false},
		{"severity>=notice", sshd, true},
		{"severity<=err", web, true},
		{"severity<=error severity>=err severity<warning severity>crit", web, true},
		{"severity=error", web, true},
		{"facility=authpriv facility=10 facility!=auth", sshd, true},
		{"status>=500 status<600 bytes>1000 rt<0.3 rt>0.24e0", web, true},
		{"status>503", web, false},
		{"status>=503.0", web, true},
		{"method>1", web, false}, // not a number
		{`path~^/api/v\d+/`, web, true},
		{`path~^/API/`, web, false},
		{`host~^WEB\d$`, web, true}, // host regex ignores case
		{`program~^NGI`, web, true},
		{`path~"items$" -path~\.css$ path!~\.js$`, web, true},
		{`path~items/`, web, false},
		{`"get /api/v2/items?id=7 http/1.1" 503`, web, true},
		{"größe σίσυφος", uni, true}, // Greek final sigma and accents fold
		{"grösse", uni, false},
		{"strasse", uni, true},
		{`"end s"`, uni, false}, // ASCII s never matches ſ
		{`"end ſ"`, uni, true},
		{`"ſ k"`, uni, false}, // nor k the Kelvin sign
		{"\"ſ \u212a\"", uni, true},
		{"\xff", uni, true},
		{"\xfe", uni, false},
		{"\ufffd", uni, false}, // an invalid byte is not U+FFFD
		{"host=ñandú", uni, true},
		{"host=ÑANDÚ", uni, false}, // hostnames fold ASCII only
		{"host=nandu", uni, false},
	}
	for _, tt := range tests {
		q, err := Parse(tt.q)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.q, err)
		}
		if got := q.Match(tt.d); got != tt.want {
			t.Errorf("Parse(%q).Match(%q) = %v, want %v", tt.q, tt.d.line, got, tt.want)
		}
	}
}

// refContains is the obvious, slow definition of the package's
// case-insensitive substring test: matches start at character boundaries,
// so an invalid byte in a needle never matches inside a valid character.
func refContains(line, nd string) bool {
	if nd == "" {
		return true
	}
	for i := 0; i < len(line); {
		if hasPrefixFold(line[i:], nd) {
			return true
		}
		_, w := utf8.DecodeRuneInString(line[i:])
		i += w
	}
	return false
}

func TestNeedle(t *testing.T) {
	lines := []string{
		"", "a", "A", "ab", "xxABCxx", "aaaaab", "abababac", "Zzz", "-=-=x", "k K ſ s S",
		"héllo HÉLLO", "ΣΊΣΥΦΟΣ σίσυφος", "\xff\xfe", "tail end ABC", "ABC at start",
	}
	needles := []string{
		"a", "b", "ab", "abc", "ABC", "aab", "abac", "z", "=-=x", "-", "k", "s", "ſ", "K", "héllo",
		"Héllo", "σίσυφοσ", "ς", "\xff", "\xfe", "end abc", "start", "t a",
	}
	for _, l := range lines {
		for _, n := range needles {
			nd := newNeedle(n)
			if got, want := nd.in(l), refContains(l, n); got != want {
				t.Errorf("needle %q in %q = %v, want %v", n, l, got, want)
			}
		}
	}
}

func TestEqualFold(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true}, {"Web1", "wEB1", true}, {"web1", "web", false}, {"k", "\u212a", false}, {"\u212a", "\u212a", true},
		{"ñ", "Ñ", true}, {"\xff", "\xff", true}, {"\xff", "\xfe", false}, {"\xff", "\ufffd", false},
		{"[", "{", false}, {"@", "`", false},
	}
	for _, tt := range tests {
		if got := equalFold(tt.a, tt.b); got != tt.want {
			t.Errorf("equalFold(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		s    string
		want float64
		ok   bool
	}{
		{"0", 0, true}, {"-12", -12, true}, {"+7", 7, true}, {"1.5", 1.5, true}, {"2e3", 2000, true},
		{"123456789012345678", 123456789012345678, true}, {"", 0, false}, {"-", 0, false},
		{"12ms", 0, false}, {"0x10", 0, false}, {"Inf", 0, false}, {"1e", 0, false}, {"..", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseNumber(tt.s)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("parseNumber(%q) = %v, %v", tt.s, got, ok)
		}
	}
}

func TestRequiredLiterals(t *testing.T) {
	tests := []struct {
		re   string
		want string
	}{
		{`foo`, "foo"},
		{`^/api/v\d+/items`, "/api/v|/items"},
		{`(?i)foo`, ""},
		{`a|b`, ""},
		{`x(abc)+y*`, "abc|x"},
		{`(timeout){2,}`, "timeout"},
		{`(ab)?c`, "c"},
	}
	for _, tt := range tests {
		if got := strings.Join(requiredLiterals(tt.re), "|"); got != tt.want {
			t.Errorf("requiredLiterals(%q) = %q, want %q", tt.re, got, tt.want)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	d := doc{line: "Nov 22 10:00:01 web1 sshd[811]: Failed password for root", fields: map[string]string{"host": "web1", "status": "404", "severity": "err"}}
	q, err := Parse(`host=WEB1 failed "FOR ROOT" -cron status>=400 severity<=err path!~x ünï`)
	if err != nil {
		t.Fatal(err)
	}
	var dd Doc = d
	if n := testing.AllocsPerRun(100, func() { q.Match(dd) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}

func TestRegexLiteralsForTheIndex(t *testing.T) {
	tests := []struct {
		q    string
		want []string
	}{
		{`message~"Killed process 4242[0-9] "`, []string{"killed process 4242"}},
		{`sshd message~"status=sent"`, []string{"sshd", "status=sent"}},
		{`host~"^web[0-9]+$"`, nil},                   // not the line's text
		{`-message~"timeout"`, nil},                   // negated
		{`message~"GET /index.php"`, []string{"php"}}, // the part with / is left out: JSON may write \/
		{`message~"a.b"`, nil},                        // no literal of three bytes
		{`message~"say \"hi\" there"`, nil},           // a quote may be escaped in the stored line
	}
	for _, tt := range tests {
		q, err := Parse(tt.q)
		if err != nil {
			t.Fatalf("%s: %v", tt.q, err)
		}
		got := q.Literals()
		if fmt.Sprint(got) != fmt.Sprint(tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
			t.Errorf("%s: literals %q, want %q", tt.q, got, tt.want)
		}
	}
}
