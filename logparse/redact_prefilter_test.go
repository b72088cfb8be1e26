package logparse

import "testing"

// TestRedactPrefilterSkipsSSHD: sshd's "Failed password for" contains
// "password" but not "password=": the regexps must not even run on it,
// since every sshd failure line would pay for them.
func TestRedactPrefilterSkipsSSHD(t *testing.T) {
	r, err := NewRedactor(nil)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("Nov 22 09:59:58 web1 sshd[1]: Failed password for invalid user admin from 198.51.100.7 port 40000 ssh2")
	for i := range r.pats {
		if maybe(&r.pats[i], line) {
			t.Errorf("pattern %d (%s, literals %q) would run on an sshd line", i, r.pats[i].re, r.pats[i].lits)
		}
	}
	if got := string(r.Redact([]byte("login user=bob PASSWORD=hunter2 ok"))); got != "login user=bob PASSWORD=*** ok" {
		t.Errorf("case-folded literal missed: %q", got)
	}
}

// FuzzRedactPrefilter: the literal prefilter may let a line through that
// no pattern matches, but never hold back one that a pattern matches.
func FuzzRedactPrefilter(f *testing.F) {
	f.Add([]byte("https://u:p@h/ password=x PASSWD=y \"password\": \"z\" Authorization: Bearer t"), "(?i)x(?:ab|cd)=(y+)")
	f.Fuzz(func(t *testing.T, line []byte, extra string) {
		pats := DefaultRedactPatterns()
		if _, err := NewRedactor([]string{extra}); err == nil && len(extra) < 200 {
			pats = append(pats, extra)
		}
		r, err := NewRedactor(pats)
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.pats {
			if r.pats[i].re.Match(line) && !maybe(&r.pats[i], line) {
				t.Fatalf("pattern %s matches %q but its literals %q hold it back", r.pats[i].re, line, r.pats[i].lits)
			}
		}
	})
}
