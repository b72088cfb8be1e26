package peers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Logsurfer returns the path of the real logsurfer 1.8, built from the
// source kept in internal/peers/logsurfer (so a clean clone can build it)
// into the user's cache folder the first time. With fastExit the build
// waits 20 ms instead of 5 s at exit for its children: for running many
// cases. A build that fails (no gcc or make) skips the test on a laptop
// and fails it under CI=true.
func Logsurfer(t testing.TB, fastExit bool) string {
	t.Helper()
	p, err := BuildLogsurfer(fastExit)
	if err != nil {
		Unavailable(t, "logsurfer 1.8 cannot be built here (install gcc and make): %v", err)
	}
	return p
}

var lsBuild sync.Mutex

// BuildLogsurfer builds (or finds built) logsurfer 1.8 and returns the
// binary's path. Concurrent test processes each build into a folder of
// their own and the first to finish names it; the others use that one.
func BuildLogsurfer(fastExit bool) (string, error) {
	lsBuild.Lock()
	defer lsBuild.Unlock()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	name := "logsurfer-1.8"
	if fastExit {
		name += "-fastexit"
	}
	root := filepath.Join(cache, "watchpost-peers")
	dest := filepath.Join(root, name)
	bin := filepath.Join(dest, "src", "logsurfer")
	if isExecutable(bin) {
		return bin, nil
	}
	script, err := logsurferScript()
	if err != nil {
		return "", err
	}
	for _, tool := range []string{"cc", "make"} {
		if _, ok := Lookup(tool); !ok {
			return "", fmt.Errorf("%s not found", tool)
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("peer cache: %w", err)
	}
	tmp, err := os.MkdirTemp(root, name+".build-")
	if err != nil {
		return "", fmt.Errorf("peer cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	work := filepath.Join(tmp, "logsurfer")
	cmd := exec.Command("/bin/sh", script, work)
	if fastExit {
		cmd.Env = append(os.Environ(), "FAST_EXIT=1")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %v\n%s", err, out)
	}
	if err := os.Rename(work, dest); err != nil && !isExecutable(bin) {
		return "", fmt.Errorf("peer cache: %w", err)
	}
	if !isExecutable(bin) {
		return "", fmt.Errorf("build left no %s", bin)
	}
	return bin, nil
}

// logsurferScript finds internal/peers/logsurfer/build.sh from this
// source file (tests run with the package folder as working directory,
// which differs between packages).
func logsurferScript() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if ok {
		p := filepath.Join(filepath.Dir(file), "logsurfer", "build.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	// A binary built elsewhere (the bench scripts run from the repository).
	wd, _ := os.Getwd()
	for d := wd; d != "/" && d != "."; d = filepath.Dir(d) {
		p := filepath.Join(d, "internal", "peers", "logsurfer", "build.sh")
		if _, err := os.Stat(p); err == nil && strings.HasPrefix(p, d) {
			return p, nil
		}
	}
	return "", fmt.Errorf("internal/peers/logsurfer/build.sh not found")
}
