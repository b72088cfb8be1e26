package peers

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BuildGoSource builds commands of a Go module pinned at a version from a
// copy of its source, for modules whose release cannot be built as a
// dependency (Gotify embeds a web UI its module zip leaves out): prepare
// runs in the copy first (to add such files), then the module is built
// with its own go.mod, never Watchpost's. Cached as BuildGo is; a build
// that fails skips the test on a laptop and fails it under CI=true.
func BuildGoSource(t testing.TB, module, version string, prepare func(src string) error, pkgs ...string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	name := strings.NewReplacer("/", "_", "@", "_").Replace(module + "@" + version)
	dir := filepath.Join(cache, "watchpost-peers", name+"-src")
	bin := filepath.Join(dir, "bin")
	done := filepath.Join(dir, "built")
	if _, err := os.Stat(done); err == nil {
		return bin
	}
	fail := func(format string, a ...any) {
		t.Helper()
		Unavailable(t, format, a...)
	}
	t.Logf("building %s@%s from its source (a few minutes the first time)", module, version)
	dl := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	dl.Dir = os.TempDir()
	dl.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	out, err := dl.Output()
	var info struct{ Dir, Error string }
	json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		fail("download %s@%s: %v %s", module, version, err, info.Error)
	}
	src := filepath.Join(dir, "src")
	os.RemoveAll(src)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail("peer build folder: %v", err)
	}
	if out, err := exec.Command("cp", "-r", info.Dir, src).CombinedOutput(); err != nil {
		fail("copy %s: %v\n%s", info.Dir, err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", src).CombinedOutput(); err != nil {
		fail("chmod %s: %v\n%s", src, err, out)
	}
	if prepare != nil {
		if err := prepare(src); err != nil {
			fail("prepare %s: %v", module, err)
		}
	}
	args := []string{"build", "-o", bin + "/"}
	for _, p := range pkgs {
		args = append(args, "./"+strings.TrimPrefix(p, "./"))
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=1", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		fail("build %s@%s: %v\n%s", module, version, err, out)
	}
	os.WriteFile(done, nil, 0o644)
	return bin
}
