package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BuildGo builds commands of a Go module pinned at a version (a peer such
// as Dendrite that Debian does not package) into a cache folder, in a
// throwaway module so that its dependencies never reach Watchpost's
// go.mod, and returns the folder holding the binaries. A second call finds
// them built. A build that fails skips the test on a laptop and fails it
// under CI=true.
func BuildGo(t testing.TB, module, version string, pkgs ...string) string {
	t.Helper()
	return BuildGoEnv(t, []string{"CGO_ENABLED=1"}, module, version, pkgs...)
}

// BuildGoEnv is BuildGo with extra environment for the build
// (CGO_ENABLED=0 for a static peer such as VictoriaLogs).
func BuildGoEnv(t testing.TB, env []string, module, version string, pkgs ...string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	name := strings.NewReplacer("/", "_", "@", "_").Replace(module + "@" + version)
	dir := filepath.Join(cache, "watchpost-peers", name)
	bin := filepath.Join(dir, "bin")
	done := filepath.Join(dir, "built")
	if _, err := os.Stat(done); err == nil {
		return bin
	}
	fail := func(format string, a ...any) {
		t.Helper()
		Unavailable(t, format, a...)
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		fail("peer build folder: %v", err)
	}
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.test/peer\n\ngo 1.24\n\nrequire "+module+" "+version+"\n"), 0o644)
	var full []string
	for _, p := range pkgs {
		full = append(full, module+"/"+strings.TrimPrefix(p, "./"))
	}
	t.Logf("building %s@%s (a few minutes the first time)", module, version)
	cmd := exec.Command("go", append([]string{"build", "-o", bin + "/"}, full...)...)
	cmd.Dir = src
	cmd.Env = append(append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fail("build %s@%s: %v\n%s", module, version, err, out)
	}
	os.WriteFile(done, nil, 0o644)
	return bin
}
