package collector

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"
)

// fileSource is one configured file or glob, with what its lines carry.
type fileSource struct {
	FileConfig
	join func() *joiner // nil without multiline
}

// generation is one life of a log file's content: from its creation (or
// truncation) to its end, read in order whatever name it has and whichever
// inode carries it (logrotate's copy carries a truncated one's last bytes).
type generation struct {
	src    *fileSource
	source string     // "file:" and the path it was first seen at
	cp     checkpoint // identity and the offset after the last line sent
	head   []byte     // the first fingerprintLen bytes from cp.FPAt, as read

	readPos       int64  // the next byte to read
	buf           []byte // bytes after the last newline
	bufAt         int64  // offset of buf[0]
	skipToNewline bool   // the rest of an over-long line already sent
	tail          []byte // the last bytes before readPos, to recognise a copy
	join          *joiner

	// known is the largest size this generation was seen to have: bytes
	// up to it existed, so what of them cannot be read is a counted loss.
	known    int64
	fromCopy bool // carried by logrotate's copy: nobody writes to it
	settled  bool // read to its end and its loss counted
	ended    bool // nothing more is read of it
	lastData time.Time
	ident    *checkpoint // the identity the last line sent carried
	keyStr   string
	// lines and lineBytes measure the lines sent, to estimate how many
	// lines a lost stretch held.
	lines, lineBytes int64
	// holeCredit: after a truncation, the bytes of the old generation
	// already read or counted; a hole at the start of this one (a writer
	// without O_APPEND) longer than that was written and lost.
	holeCredit int64
}

const tailKeep = 32

func newGeneration(src *fileSource, source string, id fileID, path string, epoch int, start int64, now, birth time.Time) *generation {
	g := &generation{src: src, source: source, readPos: start, bufAt: start, holeCredit: -1, lastData: now,
		cp: checkpoint{Source: source, Path: path, Dev: id.dev, Ino: id.ino, Epoch: epoch, FPAt: start, Offset: start}}
	// The file's birth time (birthOf) keeps a generation's name unique
	// even when the file is still empty (no fingerprint yet) and its
	// inode is reused later, and the same for every collector.
	g.cp.Gen = fmt.Sprintf("%x.%x.t%s.%d", id.dev, id.ino, strconv.FormatInt(birth.UnixNano(), 36), epoch)
	if src != nil && src.join != nil {
		g.join = src.join()
	}
	return g
}

// resumed is a generation continued from its checkpoint.
func resumedGeneration(src *fileSource, cp checkpoint, head []byte, now time.Time) *generation {
	g := &generation{src: src, source: cp.Source, cp: cp, head: head, readPos: cp.Offset, bufAt: cp.Offset,
		known: max(cp.Seen, cp.Offset), holeCredit: -1, lastData: now}
	if src != nil && src.join != nil {
		g.join = src.join()
	}
	return g
}

// key names the generation's checkpoint.
func (g *generation) key() string { return g.source + "|" + g.cp.Gen }

// note records bytes read at off: the head while it is short, the tail.
func (g *generation) note(data []byte, off int64) {
	if n := int64(len(g.head)); n < fingerprintLen && off <= g.cp.FPAt+n {
		from := g.cp.FPAt + n - off
		if from < int64(len(data)) {
			g.head = append(g.head, data[from:min(int64(len(data)), from+fingerprintLen-n)]...)
			g.cp.FPLen, g.cp.FP = len(g.head), fpHash(g.head)
		}
	}
	if len(data) >= tailKeep {
		g.tail = append(g.tail[:0], data[len(data)-tailKeep:]...)
	} else {
		g.tail = append(g.tail, data...)
		if len(g.tail) > tailKeep {
			g.tail = append(g.tail[:0], g.tail[len(g.tail)-tailKeep:]...)
		}
	}
}

// consume splits data read at g.readPos into lines; a partial last line
// waits in buf. It returns false when ctx ended.
func (t *tailer) consume(ctx context.Context, g *generation, data []byte) bool {
	g.note(data, g.readPos)
	g.readPos += int64(len(data))
	g.known = max(g.known, g.readPos)
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			g.buf = append(g.buf, data...)
			if len(g.buf) > t.maxLine {
				// A line without end: ship what fits, skip to its newline.
				if !t.emit(ctx, g, g.buf[:t.maxLine], g.bufAt, g.bufAt+int64(len(g.buf))) {
					return false
				}
				t.onTruncatedLine()
				g.bufAt += int64(len(g.buf))
				g.buf = g.buf[:0]
				g.skipToNewline = true
			}
			return true
		}
		line := data[:i]
		if g.skipToNewline {
			g.skipToNewline = false
			g.bufAt += int64(i + 1)
			data = data[i+1:]
			continue
		}
		start := g.bufAt
		if len(g.buf) > 0 {
			g.buf = append(g.buf, line...)
			line = g.buf
		}
		end := start + int64(len(line)) + 1
		if len(line) > t.maxLine {
			t.onTruncatedLine()
			line = line[:t.maxLine]
		}
		if !t.emit(ctx, g, bytes.TrimSuffix(line, []byte{'\r'}), start, end) {
			return false
		}
		g.buf = g.buf[:0]
		g.bufAt = end
		data = data[i+1:]
	}
	return true
}

// flushPartial ships a last line without newline once its generation is
// done, and completes an open multi-line event.
func (t *tailer) flushPartial(ctx context.Context, g *generation) {
	if len(g.buf) > 0 && !g.skipToNewline {
		t.emit(ctx, g, g.buf, g.bufAt, g.bufAt+int64(len(g.buf)))
	}
	g.buf, g.skipToNewline = g.buf[:0], false
	g.bufAt = g.readPos
	t.flushJoin(ctx, g)
}

func (t *tailer) flushJoin(ctx context.Context, g *generation) {
	if g.join != nil {
		if ev, ok := g.join.flush(); ok {
			t.send(ctx, g, ev.text, ev.from, ev.end)
		}
	}
}

func (t *tailer) emit(ctx context.Context, g *generation, text []byte, start, end int64) bool {
	if g.join != nil {
		ev, ok := g.join.add(text, start, end, t.now())
		if !ok {
			return true
		}
		return t.send(ctx, g, ev.text, ev.from, ev.end)
	}
	return t.send(ctx, g, text, start, end)
}

// send hands one event to the runner. Its checkpoint mark is the offset
// after it, in the generation it came from.
func (t *tailer) send(ctx context.Context, g *generation, text []byte, start, end int64) bool {
	g.cp.Offset = end
	if id := g.ident; id == nil || id.FPLen != g.cp.FPLen || id.FPAt != g.cp.FPAt || id.Dev != g.cp.Dev || id.Ino != g.cp.Ino || id.Path != g.cp.Path {
		// A line carries a pointer to its generation's identity, shared
		// until it changes (its first bytes read, a copy carrying it).
		cp := g.cp
		g.ident = &cp
	}
	if g.keyStr == "" {
		g.keyStr = g.key()
	}
	g.lines++
	g.lineBytes += end - start
	f := g.src.Path
	if p, ok := cutSource(g.source); ok {
		f = p
	}
	l := Line{Source: g.source, Gen: g.cp.Gen, Offset: start, Text: append([]byte(nil), text...), File: f,
		Format: g.src.Format, Site: g.src.Site, Priority: -1, Facility: -1, end: end, seen: g.known, mark: g.ident, key: g.keyStr}
	t.queue = append(t.queue, l)
	t.queueBytes += len(l.Text)
	return ctx.Err() == nil
}

func cutSource(s string) (string, bool) {
	if len(s) > 5 && s[:5] == "file:" {
		return s[5:], true
	}
	return "", false
}

// linesIn estimates how many lines n bytes held, from the mean length of
// the lines read so far (exact for lines of one length).
func linesIn(g *generation, n int64) int64 {
	if n <= 0 {
		return 0
	}
	mean := int64(100)
	if g.lines > 0 {
		mean = max(1, g.lineBytes/g.lines)
	}
	return max(1, (n+mean/2)/mean)
}
