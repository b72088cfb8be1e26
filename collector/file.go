package collector

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// fingerprintLen is how many of a file's first bytes identify its
// generation beside device and inode.
const fingerprintLen = 64

// The collector reads files itself rather than through nxadm/tail: the
// checkpoint needs each line's exact start offset (tail's Tell is
// documented as inexact while lines sit in its channel), a renamed file
// must be drained before the new one is read (tail reopens the new file at
// once, losing what is written to the old one after the rename), and a
// library that calls os.Exit on some errors cannot run inside the loghost.

// fileFollower follows one path through rotation and truncation.
type fileFollower struct {
	path, format, site string
	source             string
	poll               time.Duration
	quiet              time.Duration // how long a rotated-away file must stay unchanged before it is left
	maxLine            int
	out                chan<- Line
	onTruncatedLine    func()
	onLost             func(files int) // a generation left before it was read to its end
	logf               func(msg string, args ...any)
	once               bool    // stop at the end of the file (collect -once)
	join               *joiner // multiline events, or nil

	f     *os.File
	cp    checkpoint // identity and read position of the open generation
	buf   []byte     // bytes after the last newline
	bufAt int64      // offset of buf[0]
	// skipToNewline drops the rest of an over-long line already shipped.
	skipToNewline bool
}

func fileIdentity(f *os.File) (dev, ino uint64, size int64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fi.Size(), errors.New("no device and inode for this file system")
	}
	return uint64(st.Dev), st.Ino, fi.Size(), nil
}

func fingerprint(f *os.File, n int) (string, error) {
	b := make([]byte, n)
	k, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return "", err
	}
	if k < n {
		return "", io.ErrUnexpectedEOF
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8]), nil
}

func (c *checkpoint) genString() string {
	return fmt.Sprintf("%x.%x.%s.%d", c.Dev, c.Ino, c.FP, c.Epoch)
}

// open opens the path and decides where to start: at the checkpoint when
// it names this very generation, else at 0 as a new generation.
func (ff *fileFollower) open(saved checkpoint, haveSaved bool) error {
	f, err := os.Open(ff.path)
	if err != nil {
		return err
	}
	dev, ino, size, err := fileIdentity(f)
	if err != nil {
		f.Close()
		return err
	}
	cp := checkpoint{Dev: dev, Ino: ino, FPLen: int(min(size, fingerprintLen))}
	if haveSaved && saved.Dev == dev && saved.Ino == ino && size >= int64(saved.FPLen) {
		if fp, err := fingerprint(f, saved.FPLen); err == nil && fp == saved.FP {
			cp = saved
			if size < saved.Offset {
				// Truncated while we were away: a new generation of the same file.
				cp.Epoch++
				cp.Offset = 0
				cp.FPLen = int(min(size, fingerprintLen))
				cp.FP, _ = fingerprint(f, cp.FPLen)
			}
		} else if saved.Offset > 0 {
			// Same inode, other content: the file was deleted and its
			// inode reused while the collector was away.
			ff.onLost(1)
		}
	}
	if cp.FP == "" && cp.Gen == "" {
		cp.FP, err = fingerprint(f, cp.FPLen)
		if err != nil {
			f.Close()
			return fmt.Errorf("fingerprint %s: %w", ff.path, err)
		}
	}
	cp.Gen = cp.genString()
	if _, err := f.Seek(cp.Offset, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	ff.f, ff.cp, ff.buf, ff.bufAt = f, cp, ff.buf[:0], cp.Offset
	return nil
}

// run follows the file until ctx ends.
func (ff *fileFollower) run(ctx context.Context, saved checkpoint, haveSaved bool) {
	chunk := make([]byte, 64<<10)
	warned := false
	idle := false // at the end of the file, waiting for growth
	for ctx.Err() == nil {
		if ff.f == nil {
			if haveSaved && !ff.catchUp(ctx, chunk, saved) {
				return
			}
			if err := ff.open(saved, haveSaved); err != nil {
				if !errors.Is(err, fs.ErrNotExist) && !warned {
					ff.logf("cannot read file; will retry", "file", ff.path, "err", err)
					warned = true
				}
				if !sleep(ctx, ff.poll) {
					return
				}
				continue
			}
			haveSaved = false
			warned = false
		}
		if idle && ff.rewritten() {
			// Truncated and written past the old size between two polls:
			// the size alone cannot tell, the first bytes can.
			ff.newEpoch(ctx)
		}
		idle = false
		n, err := ff.f.Read(chunk)
		if n > 0 {
			if !ff.consume(ctx, chunk[:n]) {
				return
			}
			continue
		}
		if err != nil && err != io.EOF {
			ff.logf("read error; reopening", "file", ff.path, "err", err)
			ff.close()
			continue
		}
		if ff.join != nil && ff.join.due(time.Now()) {
			if ev, ok := ff.join.flush(); ok && !ff.send(ctx, ev.text, ev.from, ev.end) {
				return
			}
		}
		// At the end: has the file been truncated or replaced?
		switch ff.changed() {
		case changeNone:
			idle = true
			if ff.once {
				if ff.join != nil {
					if ev, ok := ff.join.flush(); ok {
						ff.send(ctx, ev.text, ev.from, ev.end)
					}
				}
				return
			}
			if !sleep(ctx, ff.poll) {
				return
			}
		case changeTruncated:
			ff.newEpoch(ctx)
		case changeReplaced:
			if !ff.drain(ctx, chunk) {
				return
			}
			ff.flushPartial(ctx)
			ff.close()
		}
	}
}

// newEpoch starts a new generation of the same file after a truncation.
func (ff *fileFollower) newEpoch(ctx context.Context) {
	ff.flushPartial(ctx) // what was there before the truncation
	ff.cp.Epoch++
	ff.cp.Offset = 0
	_, _, size, _ := fileIdentity(ff.f)
	ff.cp.FPLen = int(min(size, fingerprintLen))
	ff.cp.FP, _ = fingerprint(ff.f, ff.cp.FPLen)
	ff.cp.Gen = ff.cp.genString()
	ff.f.Seek(0, io.SeekStart)
	ff.buf, ff.bufAt = ff.buf[:0], 0
}

// rewritten reports whether the file's first bytes are no longer those
// of the generation being read.
func (ff *fileFollower) rewritten() bool {
	if ff.cp.FPLen == 0 {
		return false
	}
	fp, err := fingerprint(ff.f, ff.cp.FPLen)
	return err == nil && fp != ff.cp.FP
}

type change int

const (
	changeNone change = iota
	changeTruncated
	changeReplaced
)

func (ff *fileFollower) changed() change {
	_, _, size, err := fileIdentity(ff.f)
	if err == nil && size < ff.bufAt+int64(len(ff.buf)) {
		return changeTruncated
	}
	fi, err := os.Stat(ff.path)
	if err != nil {
		return changeReplaced // gone: drain what is left, then wait for it
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && (uint64(st.Dev) != ff.cp.Dev || st.Ino != ff.cp.Ino) {
		return changeReplaced
	}
	return changeNone
}

// drain reads a rotated-away file until it has been quiet for ff.quiet:
// a daemon that still holds it open may write to it after the rename.
func (ff *fileFollower) drain(ctx context.Context, chunk []byte) bool {
	quietSince := time.Now()
	for time.Since(quietSince) < ff.quiet {
		n, err := ff.f.Read(chunk)
		if n > 0 {
			if !ff.consume(ctx, chunk[:n]) {
				return false
			}
			quietSince = time.Now()
			continue
		}
		if err != nil && err != io.EOF {
			return true
		}
		if !sleep(ctx, ff.poll) {
			return false
		}
	}
	return true
}

func (ff *fileFollower) close() {
	if ff.f != nil {
		ff.f.Close()
		ff.f = nil
	}
	ff.buf = ff.buf[:0]
}

// consume splits data into lines; a partial last line waits in buf.
func (ff *fileFollower) consume(ctx context.Context, data []byte) bool {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			ff.buf = append(ff.buf, data...)
			if len(ff.buf) > ff.maxLine {
				// A line without end: ship what fits, skip to its newline.
				if !ff.emit(ctx, ff.buf[:ff.maxLine], ff.bufAt, ff.bufAt+int64(len(ff.buf))) {
					return false
				}
				ff.onTruncatedLine()
				ff.bufAt += int64(len(ff.buf))
				ff.buf = ff.buf[:0]
				ff.skipToNewline = true
			}
			return true
		}
		line := data[:i]
		if ff.skipToNewline {
			ff.skipToNewline = false
			ff.bufAt += int64(i + 1)
			data = data[i+1:]
			continue
		}
		start := ff.bufAt
		if len(ff.buf) > 0 {
			ff.buf = append(ff.buf, line...)
			line = ff.buf
		}
		end := start + int64(len(line)) + 1
		if len(line) > ff.maxLine {
			ff.onTruncatedLine()
			line = line[:ff.maxLine]
		}
		if !ff.emit(ctx, bytes.TrimSuffix(line, []byte{'\r'}), start, end) {
			return false
		}
		ff.buf = ff.buf[:0]
		ff.bufAt = end
		data = data[i+1:]
	}
	return true
}

// flushPartial ships a last line without newline once its file is done,
// and completes an open multi-line event.
func (ff *fileFollower) flushPartial(ctx context.Context) {
	if len(ff.buf) > 0 && !ff.skipToNewline {
		ff.emit(ctx, ff.buf, ff.bufAt, ff.bufAt+int64(len(ff.buf)))
	}
	ff.buf, ff.skipToNewline = ff.buf[:0], false
	if ff.join != nil {
		if ev, ok := ff.join.flush(); ok {
			ff.send(ctx, ev.text, ev.from, ev.end)
		}
	}
}

// catchUp handles a checkpoint whose generation is no longer at the path:
// logrotate renamed it (to syslog.1, say) while the collector was not
// running. The old generation is found by device and inode in the same
// folder and read to its end first; when it is gone, its unread end is
// lost, and that is counted. It returns false when ctx ended.
func (ff *fileFollower) catchUp(ctx context.Context, chunk []byte, saved checkpoint) bool {
	if saved.Ino == 0 {
		return true
	}
	if f, err := os.Open(ff.path); err == nil {
		dev, ino, _, err := fileIdentity(f)
		f.Close()
		if err == nil && dev == saved.Dev && ino == saved.Ino {
			return true // still the same file: open() resumes it
		}
	}
	old := ff.findGeneration(saved)
	if old == nil {
		if fi, err := os.Stat(ff.path); err == nil && fi.Size() > 0 || saved.Offset > 0 {
			ff.onLost(1)
			ff.logf("the file was rotated away before it was read to its end; its last lines are lost", "file", ff.path)
		}
		return true
	}
	ff.logf("reading the rest of a file rotated while the collector was away", "file", old.Name())
	cp := saved
	if _, err := old.Seek(cp.Offset, io.SeekStart); err != nil {
		old.Close()
		return true
	}
	ff.f, ff.cp, ff.buf, ff.bufAt = old, cp, ff.buf[:0], cp.Offset
	for {
		n, err := ff.f.Read(chunk)
		if n > 0 && !ff.consume(ctx, chunk[:n]) {
			return false
		}
		if n == 0 || err != nil {
			break
		}
	}
	ff.flushPartial(ctx)
	ff.close()
	return ctx.Err() == nil
}

// findGeneration looks in the path's folder for the file with the
// checkpoint's device, inode and fingerprint.
func (ff *fileFollower) findGeneration(cp checkpoint) *os.File {
	dir := filepath.Dir(ff.path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok || uint64(st.Dev) != cp.Dev || st.Ino != cp.Ino || info.Size() < cp.Offset {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil
		}
		if fp, err := fingerprint(f, cp.FPLen); err == nil && fp == cp.FP {
			return f
		}
		f.Close()
		return nil
	}
	return nil
}

func (ff *fileFollower) emit(ctx context.Context, text []byte, start, end int64) bool {
	if ff.join != nil {
		ev, ok := ff.join.add(text, start, end, time.Now())
		if !ok {
			return true
		}
		return ff.send(ctx, ev.text, ev.from, ev.end)
	}
	return ff.send(ctx, text, start, end)
}

// send hands one event to the runner. Its checkpoint mark is the offset
// after it, in the generation it came from.
func (ff *fileFollower) send(ctx context.Context, text []byte, start, end int64) bool {
	mark := ff.cp
	mark.Offset = end
	l := Line{Source: ff.source, Gen: ff.cp.Gen, Offset: start, Text: append([]byte(nil), text...), File: ff.path,
		Format: ff.format, Site: ff.site, Priority: -1, Facility: -1, end: end, mark: mark}
	select {
	case ff.out <- l:
		return true
	case <-ctx.Done():
		return false
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
