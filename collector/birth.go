package collector

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// birthOf is when the file was created (statx's btime). It names the
// file's generations, so every collector that reads the file names them
// alike: a collector whose state folder was lost sends the lines again
// and the loghost drops them as replays. A reused inode has a new birth,
// so its generations never take the old ones' offsets. File systems
// without a birth time give now (the collector's first sight of it).
func birthOf(f *os.File, now time.Time) time.Time {
	if f == nil {
		return now
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return now
	}
	var st unix.Statx_t
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.Statx(int(fd), "", unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, unix.STATX_BTIME, &st)
	}); err != nil || serr != nil || st.Mask&unix.STATX_BTIME == 0 {
		return now
	}
	return time.Unix(st.Btime.Sec, int64(st.Btime.Nsec))
}
