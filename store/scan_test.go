package store

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// containsFoldASCII reports whether s contains lower (ASCII, lowercase)
// with ASCII letters of s compared case-insensitively.
func containsFoldASCII(s, lower string) bool {
	f := newFoldFinder(lower)
	return f.in(s)
}

// TestContainsFoldASCII against the obvious definition, on fixed cases
// and on random strings over a small alphabet (so that near-matches and
// both cases of the first letter are common).
func TestContainsFoldASCII(t *testing.T) {
	cases := []struct {
		s, lower string
		want     bool
	}{
		{"", "", true},
		{"abc", "", true},
		{"", "a", false},
		{"Failed password for root", "failed password", true},
		{"for from of FAILED", "failed", true},
		{"for from of faile", "failed", false},
		{"fffffF", "ff", true},
		{"fFfF", "fff", true},
		{"x1.2", "1.2", true},
		{"ab", "abc", false},
		{"from 10.2. from 10.1.", " from 10.1.", true},
		{"FROM 10.1.", " from 10.1.", false},
		{"x FROM 10.1.", " from 10.1.", true},
		{"10.1.", "10.1.", true},
		{"10.1", "10.1.", false},
		{"a 10.1.10.1.", ".1.1", true},
	}
	for _, c := range cases {
		if got := containsFoldASCII(c.s, c.lower); got != c.want {
			t.Errorf("containsFoldASCII(%q, %q) = %v", c.s, c.lower, got)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	const alpha = "fFoO1.r "
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		return string(b)
	}
	for range 20000 {
		s, lower := word(r.IntN(40)), strings.ToLower(word(1+r.IntN(4)))
		if got, want := containsFoldASCII(s, lower), strings.Contains(strings.ToLower(s), lower); got != want {
			t.Fatalf("containsFoldASCII(%q, %q) = %v, want %v", s, lower, got, want)
		}
	}
}
