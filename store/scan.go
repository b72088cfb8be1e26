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
	if q == nil {
		return nil
	}
	var lits []string
	for _, l := range q.Literals() {
		if l != "" && isASCII(l) {
			lits = append(lits, l)
		}
	}
	if len(lits) == 0 {
		return nil
	}
	return func(line string) bool {
		for _, l := range lits {
			if !containsFoldASCII(line, l) {
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
	if q == nil {
		return nil
	}
	var lits []string
	for _, l := range q.Literals() {
		if len(l) >= 3 && isASCII(l) {
			lits = append(lits, l)
		}
	}
	if len(lits) == 0 {
		return nil
	}
	return func(raw []byte) bool {
		s := unsafe.String(unsafe.SliceData(raw), len(raw))
		for _, l := range lits {
			if !containsFoldASCII(s, l) {
				return false
			}
		}
		return true
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// containsFoldASCII reports whether s contains lower (ASCII, lowercase)
// with ASCII letters of s compared case-insensitively.
func containsFoldASCII(s, lower string) bool {
	n := len(lower)
	if n == 0 {
		return true
	}
	c0 := lower[0]
	up := c0
	if c0 >= 'a' && c0 <= 'z' {
		up = c0 - 32
	}
	for i := 0; i+n <= len(s); {
		// Jump to the next byte that can start a match.
		j := strings.IndexByte(s[i:len(s)-n+1], c0)
		if up != c0 {
			if k := strings.IndexByte(s[i:len(s)-n+1], up); k >= 0 && (j < 0 || k < j) {
				j = k
			}
		}
		if j < 0 {
			return false
		}
		i += j
		if equalFoldASCII(s[i:i+n], lower) {
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
