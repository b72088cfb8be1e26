package hoststat

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"
)

// fileReader reads small /proc and /sys files into one reused buffer with
// raw openat/read/close, so a steady-state collection round does not
// allocate per file: os.Open would allocate an *os.File and its poller
// state for every one of the few hundred files a round reads.
type fileReader struct {
	path []byte // NUL-terminated path under construction
	buf  []byte
	dent []byte // getdents64 buffer
}

// maxFile bounds one read: /proc files a round reads are a few KB, and
// /proc/net/tcp on a busy host a few MB; anything beyond is cut off rather
// than letting a runaway file eat the memory.
const maxFile = 64 << 20

// setPath builds the NUL-terminated path from parts in the reused buffer.
func (r *fileReader) setPath(parts ...string) {
	r.path = r.path[:0]
	for _, p := range parts {
		r.path = append(r.path, p...)
	}
	r.path = append(r.path, 0)
}

// appendPath appends to the path being built (before its NUL) so callers
// can add a []byte name without converting it to a string.
func (r *fileReader) appendPath(b []byte) {
	if n := len(r.path); n > 0 && r.path[n-1] == 0 {
		r.path = r.path[:n-1]
	}
	r.path = append(r.path, b...)
	r.path = append(r.path, 0)
}

func (r *fileReader) pathString() string {
	if n := len(r.path); n > 0 {
		return string(r.path[:n-1])
	}
	return ""
}

func (r *fileReader) open(flags int) (int, error) {
	for {
		fd, _, e := syscall.Syscall6(syscall.SYS_OPENAT, atFDCWDPtr, uintptr(unsafe.Pointer(&r.path[0])), uintptr(flags|syscall.O_CLOEXEC), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(fd), nil
	}
}

// atFDCWDPtr is AT_FDCWD (-100) as the syscall argument.
const atFDCWDPtr = ^uintptr(99)

// read reads the file at the current path and returns its content, valid
// until the next read.
func (r *fileReader) read() ([]byte, error) {
	fd, err := r.open(syscall.O_RDONLY)
	if err != nil {
		return nil, &pathError{op: "open", path: r.pathString(), err: err}
	}
	defer syscall.Close(fd)
	if cap(r.buf) < 4096 {
		r.buf = make([]byte, 0, 16384)
	}
	b := r.buf[:0]
	for {
		if len(b) == cap(b) {
			if cap(b) >= maxFile {
				break
			}
			nb := make([]byte, len(b), 2*cap(b))
			copy(nb, b)
			b = nb
		}
		n, err := syscall.Read(fd, b[len(b):cap(b)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			r.buf = b[:0]
			return nil, &pathError{op: "read", path: r.pathString(), err: err}
		}
		if n <= 0 {
			break
		}
		b = b[:len(b)+n]
	}
	r.buf = b[:0]
	return b, nil
}

// readFile is read for a path given as parts.
func (r *fileReader) readFile(parts ...string) ([]byte, error) {
	r.setPath(parts...)
	return r.read()
}

// pathError formats the path lazily: the error path is rare and the hot
// path must not build strings.
type pathError struct {
	op   string
	path string

	err error
}

func (e *pathError) Error() string { return fmt.Sprintf("%s %s: %v", e.op, e.path, e.err) }
func (e *pathError) Unwrap() error { return e.err }

// isNotExist reports a missing file (entropy_avail on old kernels, a
// process that exited between listing and reading).
func isNotExist(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ESRCH)
}

// eachPid calls fn with the name of every numeric entry of the directory
// at the current path (the processes in /proc), reading directory entries
// with getdents64 into a reused buffer.
func (r *fileReader) eachPid(fn func(name []byte)) error {
	fd, err := r.open(syscall.O_RDONLY | syscall.O_DIRECTORY)
	if err != nil {
		return &pathError{op: "open", path: r.pathString(), err: err}
	}
	defer syscall.Close(fd)
	if cap(r.dent) < 32768 {
		r.dent = make([]byte, 32768)
	}
	buf := r.dent[:cap(r.dent)]
	for {
		n, err := syscall.Getdents(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &pathError{op: "getdents", path: r.pathString(), err: err}
		}
		if n <= 0 {
			return nil
		}
		walkDirents(buf[:n], fn)
	}
}

// walkDirents parses linux_dirent64 records: ino(8) off(8) reclen(2)
// type(1) name NUL-terminated.
func walkDirents(b []byte, fn func(name []byte)) {
	for len(b) >= 19 {
		reclen := int(b[16]) | int(b[17])<<8
		if reclen < 19 || reclen > len(b) {
			return
		}
		name := b[19:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if len(name) > 0 && name[0] >= '1' && name[0] <= '9' {
			if _, ok := parseUint(name); ok {
				fn(name)
			}
		}
		b = b[reclen:]
	}
}

// statfs calls statfs(2) on the NUL-terminated path.
func statfs(path []byte, st *syscall.Statfs_t) error {
	if len(path) == 0 || path[len(path)-1] != 0 {
		return syscall.EINVAL
	}
	for {
		_, _, e := syscall.Syscall(syscall.SYS_STATFS, uintptr(unsafe.Pointer(&path[0])), uintptr(unsafe.Pointer(st)), 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// appendPathString is appendPath for a string.
func (r *fileReader) appendPathString(s string) {
	if n := len(r.path); n > 0 && r.path[n-1] == 0 {
		r.path = r.path[:n-1]
	}
	r.path = append(r.path, s...)
	r.path = append(r.path, 0)
}
