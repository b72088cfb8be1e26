package store

import (
	"strings"
	"sync"
	"unsafe"

	"github.com/watchpost/watchpost/query"
)

// linePrefilter returns a cheap test every line a query matches passes:
// each ASCII literal of the query appears in the line, ASCII letters
// compared case-insensitively. It lets a scan skip decoding a record that
// cannot match; the query's own Match decides the rest.
func linePrefilter(q *query.Query) func(string) bool {
	fs := literalFinders(q, 1)
	if len(fs) == 0 {
		return nil
	}
	return func(line string) bool {
		for i := range fs {
			if !fs[i].in(line) {
				return false
			}
		}
		return true
	}
}

// blockPrefilter returns a test a decompressed block must pass to hold
// any match: each ASCII literal of the query appears somewhere in it.
// One pass over the block costs less than a test per line, and most
// blocks a signature lets through for a rare literal do not hold it.
func blockPrefilter(q *query.Query) func(raw []byte) bool {
	fs := literalFinders(q, 3)
	if len(fs) == 0 {
		return nil
	}
	return func(raw []byte) bool {
		s := unsafe.String(unsafe.SliceData(raw), len(raw))
		for i := range fs {
			if !fs[i].in(s) {
				return false
			}
		}
		return true
	}
}

// literalFinders: one finder for each ASCII literal of q of at least
// minLen bytes.
func literalFinders(q *query.Query, minLen int) []foldFinder {
	if q == nil {
		return nil
	}
	var fs []foldFinder
	for _, l := range q.Literals() {
		if len(l) >= minLen && isASCII(l) {
			fs = append(fs, newFoldFinder(l))
		}
	}
	return fs
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// foldFinder looks for one lowercase ASCII literal, case-insensitively.
// It jumps with IndexByte to the literal's rarest byte in log text, not
// its first: " from 10.1." anchored on its space stopped every few bytes
// of a block; anchored on its f (and F) it scans five times faster.
type foldFinder struct {
	lower  string
	at     int  // the anchor's index in lower
	lo, up byte // the anchor byte in both cases (equal for a non-letter)
}

func newFoldFinder(lower string) foldFinder {
	f := foldFinder{lower: lower}
	if lower == "" {
		return f
	}
	best := -1
	for i := 0; i < len(lower); i++ {
		c := lower[i]
		r := byteRank(c)
		if c >= 'a' && c <= 'z' {
			r += byteRank(c - 32) // two searches
		}
		if best < 0 || r < best {
			best, f.at = r, i
		}
	}
	f.lo, f.up = lower[f.at], lower[f.at]
	if f.lo >= 'a' && f.lo <= 'z' {
		f.up = f.lo - 32
	}
	return f
}

// byteRank is how common a byte is in log text, in bytes per thousand,
// roughly: English letter frequencies scaled to the letters' share of a
// log line, capitals a tenth of that, and digits, spaces and the
// punctuation of times, addresses and paths as measured on syslog.
// Only the order matters.
func byteRank(c byte) int {
	switch {
	case c >= 'a' && c <= 'z':
		return int(letterRank[c-'a'])
	case c >= 'A' && c <= 'Z':
		return int(letterRank[c-'A'])/10 + 1
	case c >= '0' && c <= '9':
		return 55
	}
	switch c {
	case ' ':
		return 110
	case '.':
		return 37
	case ':':
		return 20
	case '-':
		return 15
	case '/':
		return 10
	case '[', ']':
		return 8
	case '=':
		return 5
	}
	return 2
}

// letterRank is byteRank's a to z.
var letterRank = [26]uint8{49, 9, 17, 26, 76, 13, 12, 37, 42, 1, 5, 24, 14, 40, 45, 11, 1, 36, 38, 55, 17, 6, 14, 1, 12, 1}

// in reports whether s holds the literal.
func (f *foldFinder) in(s string) bool {
	n := len(f.lower)
	if n == 0 {
		return true
	}
	if n > len(s) {
		return false
	}
	// Anchors of matches starting at 0..len(s)-n lie in s[f.at:end].
	end := len(s) - n + 1 + f.at
	// The next anchor in each case, found once and kept until passed: the
	// rarer case is not searched for again at every candidate of the
	// other.
	nextLo, nextUp := -1, -1
	if f.up == f.lo {
		nextUp = end
	}
	for i := f.at; i < end; {
		if nextLo < i {
			if nextLo = strings.IndexByte(s[i:end], f.lo); nextLo < 0 {
				nextLo = end
			} else {
				nextLo += i
			}
		}
		if nextUp < i {
			if nextUp = strings.IndexByte(s[i:end], f.up); nextUp < 0 {
				nextUp = end
			} else {
				nextUp += i
			}
		}
		i = min(nextLo, nextUp)
		if i >= end {
			return false
		}
		if equalFoldASCII(s[i-f.at:i-f.at+n], f.lower) {
			return true
		}
		i++
	}
	return false
}

func equalFoldASCII(s, lower string) bool {
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// bufPool recycles decompression buffers of scans that keep nothing of a
// block but clones of its matches.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<20); return &b }}
