package peers

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// VictoriaLogs v1.24.0 is not packaged by Debian and its own module is
// refused by the proxy; it lived in the VictoriaMetrics module until
// v1.121.0, which builds it.
const (
	victoriaLogsModule  = "github.com/VictoriaMetrics/VictoriaMetrics"
	victoriaLogsVersion = "v1.121.0"
)

// VictoriaLogsBinary builds VictoriaLogs (once per machine, into the peer
// cache) and returns its path.
func VictoriaLogsBinary(t testing.TB) string {
	t.Helper()
	bin := BuildGoEnv(t, []string{"CGO_ENABLED=0"}, victoriaLogsModule, victoriaLogsVersion, "app/victoria-logs")
	return filepath.Join(bin, "victoria-logs")
}

// VictoriaLogs is a VictoriaLogs single node on a loopback port, with its
// data in a folder of the test's; it can be stopped, killed and started
// again on the same port and data.
type VictoriaLogs struct {
	t    testing.TB
	bin  string
	args []string
	Addr string
	Dir  string
	P    *Process
}

// StartVictoriaLogs starts VictoriaLogs with a retention of 100 years (the
// fixtures' dates are fixed) and extra flags.
func StartVictoriaLogs(t testing.TB, dir string, extra ...string) *VictoriaLogs {
	t.Helper()
	v := &VictoriaLogs{t: t, bin: VictoriaLogsBinary(t), Addr: Addr(FreePort(t)), Dir: dir}
	v.args = append([]string{"-httpListenAddr=" + v.Addr, "-storageDataPath=" + dir, "-retentionPeriod=100y",
		"-futureRetention=100y", "-loggerLevel=WARN"}, extra...)
	v.Start()
	return v
}

// URL is the base URL.
func (v *VictoriaLogs) URL() string { return "http://" + v.Addr }

// Start starts it (again) and waits until it listens.
func (v *VictoriaLogs) Start() {
	v.t.Helper()
	v.P = StartCmd(v.t, exec.Command(v.bin, v.args...))
	v.P.WaitTCP(v.Addr, 30*time.Second)
}

// Stop stops it gracefully (it writes what it buffered).
func (v *VictoriaLogs) Stop() { v.P.Stop() }

// Kill kills it with SIGKILL: what it acknowledged but had not written
// yet is lost.
func (v *VictoriaLogs) Kill() {
	syscall.Kill(-v.P.PID(), syscall.SIGKILL)
	<-v.P.Done()
}

// Flush makes everything it took searchable at once (tests only).
func (v *VictoriaLogs) Flush() {
	v.t.Helper()
	resp, err := http.Get(v.URL() + "/internal/force_flush")
	if err != nil {
		v.t.Fatalf("victorialogs force_flush: %v", err)
	}
	resp.Body.Close()
}
