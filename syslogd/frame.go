package syslogd

import (
	"bytes"
	"io"
)

// FrameStatus reports anomalies of one frame; zero means a clean frame.
type FrameStatus uint8

const (
	// Truncated: the frame was longer than the maximum message size; the
	// rest of it was read and discarded.
	Truncated FrameStatus = 1 << iota
	// BadPrefix: the frame started with a digit run and a space that is
	// no usable octet count (zero, or ten or more digits); it was read as
	// an LF-terminated frame instead.
	BadPrefix
	// Unterminated: the stream ended inside an LF-terminated frame or
	// before an octet-counted frame was complete.
	Unterminated
)

// maxPrefix bounds the octet count: nine digits. Anything longer is
// treated as a framing error, not as a licence to discard gigabytes.
const maxPrefix = 9

// maxDigits bounds the digit run examined at a frame start. A longer run
// cannot be an octet count and starts a plain line.
const maxDigits = 32

// slack is the buffer room beyond the maximum message size: enough for a
// digit run and its space.
const slack = maxDigits + 8

// FrameReader splits a syslog TCP stream into messages, detecting the RFC
// 6587 framing per frame: "LEN SP MSG" (octet counting) when the frame
// starts with a digit run and a space, otherwise MSG up to LF or NUL
// (non-transparent framing). Its buffer never grows beyond the maximum
// message size plus a few bytes, whatever the peer sends.
type FrameReader struct {
	r          io.Reader
	max        int
	buf        []byte
	start, end int
	err        error // from the last read, returned once the buffer is used up
	skip       int   // bytes of a truncated octet-counted frame still to discard
	skipLine   bool  // discarding the rest of a truncated LF-terminated frame
}

// NewFrameReader returns a reader of frames of at most max bytes.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	if max < 1 {
		max = 1
	}
	n := 4096
	if lim := max + slack; n > lim {
		n = lim
	}
	return &FrameReader{r: r, max: max, buf: make([]byte, n)}
}

// Next returns the next non-empty frame, without its terminator or trailing
// CR. The frame is only valid until the next call. At the end of the stream
// it returns the reader's error (io.EOF for a clean close); a final
// unterminated frame is returned first, with Unterminated set.
func (f *FrameReader) Next() ([]byte, FrameStatus, error) {
	for {
		if f.skip > 0 || f.skipLine {
			if err := f.discard(); err != nil {
				return nil, 0, err
			}
			continue
		}
		if f.start == f.end {
			if err := f.fill(); err != nil {
				return nil, 0, err
			}
			continue
		}
		switch f.buf[f.start] {
		case '\n', 0, '\r':
			// Empty frames and stray separators, e.g. an LF some senders
			// append after an octet-counted frame.
			f.start++
			continue
		}
		if isDigit(f.buf[f.start]) {
			frame, st, done, err := f.octetCounted()
			if done && err == nil && len(frame) == 0 {
				continue // a counted frame of only line ends: nothing to say
			}
			if done || err != nil {
				return frame, st, err
			}
			return f.lineFrame(st)
		}
		return f.lineFrame(0)
	}
}

// octetCounted reads a "LEN SP MSG" frame. done is false when the digits
// are no octet count, and the frame must be read as a line.
func (f *FrameReader) octetCounted() (frame []byte, st FrameStatus, done bool, err error) {
	p := f.start
	n := 0
	// The decision needs the byte after the run (up to maxDigits+1
	// bytes), whatever the reads delivered so far: a run of maxDigits
	// digits and a space is a bad prefix however TCP split it, and a
	// longer run starts a plain line.
	for {
		for p < f.end && isDigit(f.buf[p]) && p-f.start <= maxDigits {
			if p-f.start < maxPrefix {
				n = n*10 + int(f.buf[p]-'0')
			}
			p++
		}
		if p < f.end || p-f.start > maxDigits {
			break
		}
		rel := p - f.start
		if f.fill() != nil {
			// The stream ends inside the digits: a line without LF.
			return nil, 0, false, nil
		}
		p = f.start + rel
	}
	if p-f.start > maxDigits || f.buf[p] != ' ' {
		return nil, 0, false, nil // digits that start a plain line
	}
	if p-f.start > maxPrefix || n == 0 {
		return nil, BadPrefix, false, nil
	}
	f.start = p + 1
	want := min(n, f.max)
	for f.end-f.start < want {
		if err := f.fill(); err != nil {
			frame = f.buf[f.start:f.end]
			f.start = f.end
			if len(frame) == 0 {
				return nil, 0, true, err
			}
			return frame, Unterminated, true, nil
		}
	}
	frame = f.buf[f.start : f.start+want]
	f.start += want
	if n > want {
		f.skip = n - want
		st = Truncated
	}
	// Senders often count the LF their template ends with (rsyslog's
	// SyslogProtocol23Format does); it is framing, not message.
	return trimTail(frame), st, true, nil
}

// lineFrame reads a frame terminated by LF or NUL.
func (f *FrameReader) lineFrame(st FrameStatus) ([]byte, FrameStatus, error) {
	searched := 0
	for {
		window := f.buf[f.start+searched : min(f.end, f.start+f.max+1)]
		if i := indexTerm(window); i >= 0 {
			i += f.start + searched
			frame := f.buf[f.start:i]
			f.start = i + 1
			return trimCR(frame), st, nil
		}
		searched += len(window)
		if f.end-f.start > f.max {
			frame := f.buf[f.start : f.start+f.max]
			f.start += f.max
			f.skipLine = true
			return frame, st | Truncated, nil
		}
		if err := f.fill(); err != nil {
			frame := f.buf[f.start:f.end]
			f.start = f.end
			if len(frame) == 0 {
				return nil, 0, err
			}
			return trimCR(frame), st | Unterminated, nil
		}
	}
}

// discard drops the rest of a truncated frame.
func (f *FrameReader) discard() error {
	if f.start == f.end {
		if err := f.fill(); err != nil {
			f.skip, f.skipLine = 0, false
			return err
		}
	}
	if f.skip > 0 {
		k := min(f.skip, f.end-f.start)
		f.start += k
		f.skip -= k
		return nil
	}
	if i := indexTerm(f.buf[f.start:f.end]); i >= 0 {
		f.start += i + 1
		f.skipLine = false
		return nil
	}
	f.start = f.end
	return nil
}

// fill reads more bytes, first compacting and, up to the limit, growing
// the buffer. It returns an error only when no byte was read.
func (f *FrameReader) fill() error {
	if f.err != nil {
		return f.err
	}
	if f.start > 0 {
		f.end = copy(f.buf, f.buf[f.start:f.end])
		f.start = 0
	}
	if f.end == len(f.buf) {
		lim := f.max + slack
		if len(f.buf) >= lim {
			// Callers never ask for more than a full frame plus its
			// prefix; this is a guard, not a path.
			return io.ErrShortBuffer
		}
		nb := make([]byte, min(2*len(f.buf), lim))
		copy(nb, f.buf[:f.end])
		f.buf = nb
	}
	for range 100 {
		n, err := f.r.Read(f.buf[f.end:])
		f.end += n
		if err != nil {
			f.err = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	f.err = io.ErrNoProgress
	return f.err
}

func indexTerm(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.IndexByte(b, 0)
	}
	if j := bytes.IndexByte(b[:i], 0); j >= 0 {
		return j
	}
	return i
}

func trimCR(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
