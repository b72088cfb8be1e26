package collector

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// fingerprintLen is how many of a generation's first bytes identify it
// beside device and inode: the same bytes under another name (a rename,
// logrotate's copy) are the same generation, never read twice.
const fingerprintLen = 64

// fileID is where a generation's bytes live.
type fileID struct{ dev, ino uint64 }

type fileStat struct {
	id     fileID
	size   int64
	blocks int64 // 512-byte blocks allocated: a hole has none
	nlink  uint64
	reg    bool // a regular file
}

func statOf(fi os.FileInfo) (fileStat, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStat{}, errors.New("no device and inode for this file system")
	}
	return fileStat{id: fileID{uint64(st.Dev), st.Ino}, size: fi.Size(), blocks: st.Blocks, nlink: uint64(st.Nlink), reg: fi.Mode().IsRegular()}, nil
}

// statFile is fstat(2) without the allocations of os.File.Stat: the
// tailer looks at every open file on each sweep.
func statFile(f *os.File) (fileStat, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return fileStat{}, &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return fileStat{id: fileID{uint64(st.Dev), st.Ino}, size: st.Size, blocks: st.Blocks, nlink: uint64(st.Nlink),
		reg: st.Mode&syscall.S_IFMT == syscall.S_IFREG}, nil
}

// statPath follows symbolic links: a log path may be one.
func statPath(p string) (fileStat, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return fileStat{}, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	return fileStat{id: fileID{uint64(st.Dev), st.Ino}, size: st.Size, blocks: st.Blocks, nlink: uint64(st.Nlink),
		reg: st.Mode&syscall.S_IFMT == syscall.S_IFREG}, nil
}

// currentPath is where an open file is now (Linux's /proc/self/fd):
// the watcher's events may come later than the tailer looks.
func currentPath(f *os.File) (string, bool) {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil || !filepath.IsAbs(p) {
		return "", false
	}
	if rest, ok := strings.CutSuffix(p, " (deleted)"); ok {
		return rest, false
	}
	return p, true
}

// readAt reads up to n bytes at off; fewer at the end of the file.
func readAt(f *os.File, off int64, n int) ([]byte, error) {
	b := make([]byte, n)
	k, err := f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:k], nil
}

func fpHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// dataStart finds the first byte that is not NUL at or after from: a
// writer that does not append (O_APPEND) keeps writing at its old offset
// after a copytruncate, leaving a hole of zeros as long as the file was.
// The hole is skipped, never shipped, and its length tells exactly how
// much was written before the truncation.
func dataStart(f *os.File, from, size int64) int64 {
	const seekData = 3 // SEEK_DATA: the first allocated block
	if off, err := f.Seek(from, seekData); err == nil && off > from {
		from = off
	}
	buf := make([]byte, 4096)
	for from < size {
		n, err := f.ReadAt(buf, from)
		if i := bytes.IndexFunc(buf[:n], func(r rune) bool { return r != 0 }); i >= 0 {
			// IndexFunc decodes runes; a NUL is one byte, so i is exact
			// for the NUL run before it.
			return from + int64(i)
		}
		from += int64(n)
		if n == 0 || err != nil {
			break
		}
	}
	return from
}

// compressedExt lists the endings of compressed rotations, skipped: their
// text was read under the uncompressed name before it was compressed.
var compressedExt = []string{".gz", ".xz", ".zst", ".bz2", ".lz4", ".lzma", ".lzo", ".z", ".zip", ".br", ".7z", ".tgz"}

func isCompressed(name string) bool {
	lower := strings.ToLower(name)
	for _, e := range compressedExt {
		if strings.HasSuffix(lower, e) {
			return true
		}
	}
	return false
}

// rotationOf reports whether name looks like a rotation of base:
// app.log.1, app.log-20261207, app.log_old.
func rotationOf(name, base string) bool {
	rest, ok := strings.CutPrefix(filepath.Base(name), base)
	return ok && rest != "" && strings.ContainsRune(".-_", rune(rest[0]))
}
