package logparse

import (
	"bytes"
	"strings"
	"testing"
)

func TestRedactDefaults(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, want string }{
		{"fetch https://deploy:s3cr3t@git.example.org/repo.git failed", "fetch https://deploy:***@git.example.org/repo.git failed"},
		{"mysql://root:p%40ss@db:3306/x and ftp://u:v@h", "mysql://root:***@db:3306/x and ftp://u:***@h"},
		{`GET /login?user=bob&password=hunter2&next=/ HTTP/1.1`, `GET /login?user=bob&password=***&next=/ HTTP/1.1`},
		{`PASSWD=abc def`, `PASSWD=*** def`},
		{`{"user":"bob","password":"a\"b"}`, `{"user":"bob","password":"***"}`},
		{"Authorization: Bearer eyJhbGciOi.eyJzdWIi.SflKxw", "Authorization: Bearer ***"},
		{"authorization: basic dXNlcjpwYXNz, next", "authorization: basic ***, next"},
		{"https://example.org/path@foo no password here", "https://example.org/path@foo no password here"},
		{"PWD=/home/alice ; USER=root", "PWD=/home/alice ; USER=root"},
	}
	for _, tt := range tests {
		if got := string(r.Redact([]byte(tt.in))); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := r.RedactString(tt.in); got != tt.want {
			t.Errorf("RedactString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactCustom(t *testing.T) {
	r, err := NewRedactor([]string{`\b\d{4}-\d{4}-\d{4}-\d{4}\b`, `(?i)token=(\w+)&sig=(\w+)`})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(r.Redact([]byte("card 1234-5678-9012-3456 token=abc&sig=def"))); got != "card *** token=***&sig=***" {
		t.Errorf("got %q", got)
	}
	if _, err := NewRedactor([]string{"ok", "(unclosed"}); err == nil || !strings.Contains(err.Error(), "pattern 2") {
		t.Errorf("bad pattern: err = %v", err)
	}
	var nilR *Redactor
	if got := nilR.Redact([]byte("password=x")); string(got) != "password=x" {
		t.Errorf("nil redactor changed the line: %q", got)
	}
}

func TestRedactNoMatchNoAlloc(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(`192.0.2.1 - - [22/Nov/2026:10:00:00 +0100] "GET /index.php?title=Main HTTP/1.1" 200 12 "-" "curl/8"`)
	if n := testing.AllocsPerRun(100, func() { r.Redact(line) }); n != 0 {
		t.Errorf("%v allocations for a line without secrets", n)
	}
	if out := r.Redact(line); &out[0] != &line[0] {
		t.Error("a line without secrets was copied")
	}
	secret := []byte("x password=y")
	orig := bytes.Clone(secret)
	r.Redact(secret)
	if !bytes.Equal(secret, orig) {
		t.Error("Redact wrote into the caller's buffer")
	}
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{"a://b:c@d", "password=", "Authorization: Bearer x", `"password":"\`, "://:@", "password=a password=b"} {
		f.Add(s)
	}
	r, err := NewRedactor(nil)
	if err != nil {
		f.Fatal(err)
	}
	// The same patterns without the literal prefilter: must agree.
	plain := &Redactor{pats: make([]redactPattern, len(r.pats))}
	for i, p := range r.pats {
		plain.pats[i] = redactPattern{re: p.re}
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := r.Redact([]byte(s))
		if want := plain.Redact([]byte(s)); !bytes.Equal(out, want) {
			t.Fatalf("prefilter changed the result: %q -> %q, want %q", s, out, want)
		}
		if again := r.Redact(out); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}
