package query

import (
	"strings"
	"unicode/utf8"
)

// EscapeControl makes a hostile log line safe to print on a terminal. It
// escapes C0 control characters except tab, DEL, and invalid UTF-8 bytes as
// \xNN; C1 control characters and the Unicode controls that reorder or
// break displayed text (bidirectional overrides and isolates, line and
// paragraph separators) as \uNNNN. Escaping ESC (\x1b) and CSI (\u009b)
// defuses every ANSI escape sequence: what follows them prints as plain
// text. Backslashes are left alone, so the output is for reading, not for
// reversing. A string with nothing to escape is returned as is, without
// allocating.
func EscapeControl(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if unsafeByte(c) {
				writeHexByte(&b, c)
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			writeHexByte(&b, c)
		case unsafeRune(r):
			const hex = "0123456789abcdef"
			b.WriteString(`\u`)
			b.WriteByte(hex[r>>12&0xf])
			b.WriteByte(hex[r>>8&0xf])
			b.WriteByte(hex[r>>4&0xf])
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteString(s[i : i+w])
		}
		i += w
	}
	return b.String()
}

func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if unsafeByte(c) {
				return i
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 || unsafeRune(r) {
			return i
		}
		i += w
	}
	return -1
}

func unsafeByte(c byte) bool { return c < 0x20 && c != '\t' || c == 0x7f }

func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f: // C1
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, // bidi marks
		r >= 0x202a && r <= 0x202e, // bidi embeddings and overrides
		r >= 0x2066 && r <= 0x2069, // bidi isolates
		r == 0x2028, r == 0x2029:   // line and paragraph separators
		return true
	}
	return false
}

func writeHexByte(b *strings.Builder, c byte) {
	const hex = "0123456789abcdef"
	b.WriteString(`\x`)
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&0xf])
}
