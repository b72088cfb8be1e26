package query

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Case-insensitive comparison in this package is Unicode simple case
// folding (unicode.SimpleFold, what strings.EqualFold uses) with one
// restriction: an ASCII character only ever equals an ASCII character. So
// "k" does not match the Kelvin sign U+212A and "s" does not match the long
// s U+017F, as in grep -i under the C locale. The restriction keeps an
// ASCII needle a byte-level search and makes the ASCII trigram index of the
// store sound: the ASCII letters of a match are the needle's ASCII letters
// in some case.

// needle is a precompiled case-insensitive substring search.
type needle struct {
	lower string // needle with ASCII letters lowered
	ascii bool
	// anchor is the byte offset in lower that candidates are located by:
	// a rare byte, so the SIMD IndexByte skips most of the line.
	anchor int
	orig   string // the needle as given, for non-ASCII needles
	// run is the longest ASCII run of a non-ASCII needle: a cheap
	// prefilter, as ASCII bytes match only ASCII bytes.
	run *needle
}

func newNeedle(s string) needle {
	n := needle{lower: lowerASCII(s), ascii: isASCII(s)}
	if !n.ascii {
		n.orig = s
		if r := longestASCIIRun(s); len(r) >= 2 {
			sub := newNeedle(r)
			n.run = &sub
		}
		return n
	}
	best := -1
	for i := 0; i < len(n.lower); i++ {
		if best < 0 || byteRank(n.lower[i]) < byteRank(n.lower[best]) {
			best = i
		}
	}
	n.anchor = max(best, 0)
	return n
}

// in reports whether the needle occurs in s.
func (n *needle) in(s string) bool {
	if n.ascii {
		return n.indexASCII(s) >= 0
	}
	if n.run != nil && n.run.indexASCII(s) < 0 {
		return false
	}
	return indexFold(s, n.orig) >= 0
}

// indexASCII finds an ASCII needle in s, folding ASCII case.
func (n *needle) indexASCII(s string) int {
	m := len(n.lower)
	if m == 0 {
		return 0
	}
	if m > len(s) {
		return -1
	}
	a := n.lower[n.anchor]
	if !isLetter(a) {
		// One IndexByte scan suffices.
		for from := n.anchor; from <= len(s)-(m-n.anchor); {
			i := strings.IndexByte(s[from:len(s)-(m-n.anchor)+1], a)
			if i < 0 {
				return -1
			}
			p := from + i - n.anchor
			if equalASCIIFold(s[p:p+m], n.lower) {
				return p
			}
			from += i + 1
		}
		return -1
	}
	// A letter: walk the positions of both cases in order.
	upper := a - 32
	hi := len(s) - (m - n.anchor) + 1 // anchor positions are < hi
	lo, up := -2, -2                  // next position of each case; -2: not yet searched
	for from := n.anchor; from < hi; {
		if lo != -1 && lo < from {
			if lo = strings.IndexByte(s[from:hi], a); lo >= 0 {
				lo += from
			}
		}
		if up != -1 && up < from {
			if up = strings.IndexByte(s[from:hi], upper); up >= 0 {
				up += from
			}
		}
		var i int
		switch {
		case lo < 0 && up < 0:
			return -1
		case lo < 0:
			i = up
		case up < 0:
			i = lo
		default:
			i = min(lo, up)
		}
		p := i - n.anchor
		if equalASCIIFold(s[p:p+m], n.lower) {
			return p
		}
		from = i + 1
	}
	return -1
}

// equalASCIIFold compares s with lower, a string with ASCII letters
// lowered, folding the ASCII letters of s.
func equalASCIIFold(s, lower string) bool {
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if c-'A' < 26 {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// indexFold finds the needle nd in s character by character; it is the
// slow path for needles with non-ASCII characters.
func indexFold(s, nd string) int {
	for i := 0; i < len(s); {
		if hasPrefixFold(s[i:], nd) {
			return i
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return -1
}

// hasPrefixFold reports whether s starts with nd under the package's
// folding. An invalid byte equals only the same invalid byte.
func hasPrefixFold(s, nd string) bool {
	for nd != "" {
		if s == "" {
			return false
		}
		r, wa := utf8.DecodeRuneInString(s)
		n, wb := utf8.DecodeRuneInString(nd)
		if r == utf8.RuneError && wa == 1 || n == utf8.RuneError && wb == 1 {
			if wa != wb || s[0] != nd[0] {
				return false
			}
		} else if !runeFoldEq(r, n) {
			return false
		}
		s, nd = s[wa:], nd[wb:]
	}
	return true
}

// runeFoldEq compares two runes under the package's folding.
func runeFoldEq(r, n rune) bool {
	if r == n {
		return true
	}
	if r < utf8.RuneSelf || n < utf8.RuneSelf {
		if r >= utf8.RuneSelf || n >= utf8.RuneSelf {
			return false
		}
		return r|0x20 == n|0x20 && r|0x20 >= 'a' && r|0x20 <= 'z'
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f == n {
			return true
		}
	}
	return false
}

// equalFold compares two strings under the package's folding.
func equalFold(a, b string) bool {
	for a != "" && b != "" {
		if a[0] < utf8.RuneSelf && b[0] < utf8.RuneSelf {
			x, y := a[0], b[0]
			if x-'A' < 26 {
				x += 'a' - 'A'
			}
			if y-'A' < 26 {
				y += 'a' - 'A'
			}
			if x != y {
				return false
			}
			a, b = a[1:], b[1:]
			continue
		}
		r, wa := utf8.DecodeRuneInString(a)
		n, wb := utf8.DecodeRuneInString(b)
		if r == utf8.RuneError && wa == 1 || n == utf8.RuneError && wb == 1 {
			if wa != wb || a[0] != b[0] {
				return false
			}
		} else if !runeFoldEq(r, n) {
			return false
		}
		a, b = a[wa:], b[wb:]
	}
	return a == b
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i]-'A' < 26 {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j]-'A' < 26 {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func longestASCIIRun(s string) string {
	best, start := "", -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] < utf8.RuneSelf {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start > len(best) {
			best = s[start:i]
		}
		start = -1
	}
	return best
}

// byteRank estimates how common a (lowered) byte is in log lines; lower is
// rarer. Letters follow English frequency, digits and separators are
// common in logs, other punctuation is rare.
func byteRank(c byte) int {
	const letters = "zqjxkvbpgywfmculdhrsnioate" // rarest first
	if i := strings.IndexByte(letters, c); i >= 0 {
		return 10 + i*3
	}
	switch {
	case c >= '0' && c <= '9':
		return 60
	case c == ' ':
		return 100
	case c == '.' || c == ':' || c == '-' || c == '/' || c == '=' || c == '[' || c == ']':
		return 50
	}
	return 5
}
