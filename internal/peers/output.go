package peers

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// maxCapture bounds what is kept of a peer's output: a chatty peer in a long
// test must not eat the memory, and the end is what explains a failure.
const maxCapture = 1 << 20

// capture is an io.Writer safe for the two copying goroutines of os/exec
// and concurrent readers, keeping only the last max bytes.
type capture struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	max     int
	dropped int64
}

func newCapture(max int) *capture { return &capture{max: max} }

func (c *capture) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(b)
	if len(b) > c.max {
		c.dropped += int64(len(b) - c.max)
		b = b[len(b)-c.max:]
	}
	if over := c.buf.Len() + len(b) - c.max; over > 0 {
		c.dropped += int64(over)
		c.buf.Next(over)
	}
	c.buf.Write(b)
	return n, nil
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped > 0 {
		return fmt.Sprintf("[... %d earlier bytes dropped ...]\n%s", c.dropped, c.buf.String())
	}
	return c.buf.String()
}

// Printable escapes what a terminal would interpret (control characters,
// escape sequences, invalid UTF-8) so a peer's output, which may echo hostile
// log lines, is safe to print. Newlines and tabs are kept.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (r != '\n' && r != '\t' && !unicode.IsPrint(r) && r != ' ') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t' || r == ' ' || unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}
