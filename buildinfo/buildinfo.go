// Package buildinfo says which build this is.
package buildinfo

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X github.com/watchpost/watchpost/buildinfo.Version=v1.2.3".
var Version = "dev"

// Commit returns the VCS revision the binary was built from, if known.
func Commit() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "unknown", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// Print writes the line `watchpost version` prints.
func Print(w io.Writer) {
	fmt.Fprintf(w, "watchpost %s (commit %s, %s, %s/%s)\n", Version, Commit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
