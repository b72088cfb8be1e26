package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerfile is what the image's final stage says about running it.
type dockerfile struct {
	env         map[string]string
	entrypoint  []string
	cmd         []string
	health      []string
	volume      string
	expose      []string
	user, group string
}

// readDockerfile reads the final stage of ../Dockerfile: its ENV,
// ENTRYPOINT, CMD, HEALTHCHECK, VOLUME and EXPOSE instructions.
func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	var lines []string
	cur := ""
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		lines = append(lines, cur+l)
		cur = ""
	}
	var d dockerfile
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), f[0]))
		jsonArgs := func(s string) []string {
			var a []string
			if err := json.Unmarshal([]byte(s), &a); err != nil {
				t.Fatalf("Dockerfile: %s is not in exec form: %v", l, err)
			}
			return a
		}
		switch f[0] {
		case "FROM":
			d = dockerfile{env: map[string]string{}} // a new stage
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("Dockerfile: ENV %q: want KEY=VALUE", kv)
				}
				d.env[k] = v
			}
		case "ENTRYPOINT":
			d.entrypoint = jsonArgs(rest)
		case "CMD":
			d.cmd = jsonArgs(rest)
		case "HEALTHCHECK":
			_, c, _ := strings.Cut(rest, "CMD ")
			d.health = jsonArgs(c)
		case "VOLUME":
			d.volume = rest
		case "EXPOSE":
			d.expose = f[1:]
		}
	}
	return d
}

// TestDockerImageCommandLine runs the image's own command line (its
// ENTRYPOINT, CMD and ENV) with the real binary, as `docker run -p ... -v
// ... -e ...` would, without a container runtime: the loghost must listen
// on every interface on the ports the image exposes, for HTTP and for
// syslog, keep its data in the volume, read a configuration file named by
// WATCHPOST_CONFIG, and answer the image's health check.
func TestDockerImageCommandLine(t *testing.T) {
	d := readDockerfile(t)
	if len(d.entrypoint) == 0 || d.entrypoint[0] != "/usr/local/bin/watchpost" {
		t.Fatalf("ENTRYPOINT %q", d.entrypoint)
	}
	// As shipped: all interfaces, and the ports EXPOSE publishes.
	for k, want := range map[string]string{"WATCHPOST_LISTEN": "0.0.0.0:8080", "WATCHPOST_SYSLOG_LISTEN": "0.0.0.0:5514", "WATCHPOST_DATA": d.volume} {
		if d.env[k] != want {
			t.Errorf("ENV %s=%q, want %q", k, d.env[k], want)
		}
	}
	for _, p := range []string{"8080", "5514/tcp", "5514/udp"} {
		if !strings.Contains(" "+strings.Join(d.expose, " ")+" ", " "+p+" ") {
			t.Errorf("EXPOSE %q lacks %s", d.expose, p)
		}
	}

	// docker run -e WATCHPOST_LISTEN=... (free ports here, the shipped
	// interface) -v DIR:/var/lib/watchpost -v FILE:/etc/... -e WATCHPOST_CONFIG=...
	dir := t.TempDir()
	httpPort, syslogPort := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "watchpost.yaml")
	os.WriteFile(cfg, []byte("status_page: {title: From the mounted file}\nself: {enabled: false}\n"), 0o600)
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	for k, v := range d.env {
		switch k {
		case "WATCHPOST_LISTEN":
			v = fmt.Sprintf("0.0.0.0:%d", httpPort)
		case "WATCHPOST_SYSLOG_LISTEN":
			v = fmt.Sprintf("0.0.0.0:%d", syslogPort)
		case "WATCHPOST_DATA":
			v = filepath.Join(dir, "volume")
		}
		env = append(env, k+"="+v)
	}
	env = append(env, "WATCHPOST_CONFIG="+cfg)
	os.Mkdir(filepath.Join(dir, "volume"), 0o700)
	args := append(append([]string{}, d.entrypoint[1:]...), d.cmd...)
	cmd := exec.Command(binary, args...)
	cmd.Env, cmd.Dir = env, filepath.Join(dir, "volume") // WORKDIR is the volume
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	lh := &loghost{t: t, cmd: cmd, out: out, done: done}
	t.Cleanup(lh.kill)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	lh.waitReady(base)
	if !strings.Contains(out.String(), fmt.Sprintf("http=[::]:%d", httpPort)) && !strings.Contains(out.String(), fmt.Sprintf("http=0.0.0.0:%d", httpPort)) {
		t.Errorf("HTTP does not listen on every interface:\n%s", out.String())
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "From the mounted file") {
		t.Errorf("the configuration named by WATCHPOST_CONFIG was not read")
	}
	// Syslog reaches it from outside loopback's view too: UDP to the port.
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", syslogPort))
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("<13>Dec  7 07:17:54 router app: hello from a container's neighbour"))
	c.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		o, _, rc := run(t, context.Background(), "", "grep", "-data", filepath.Join(dir, "volume"), "neighbour")
		if rc == 0 && strings.Contains(o, "hello from a container's neighbour") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the syslog line never arrived in the volume:\n%s", out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "volume", "admin.token")); err != nil {
		t.Errorf("the tokens are not in the volume: %v", err)
	}
	// The image's health check, in the container's environment: it follows
	// WATCHPOST_LISTEN to this port.
	hc := exec.Command(binary, d.health[1:]...)
	hc.Env = env
	if o, err := hc.CombinedOutput(); err != nil {
		t.Errorf("HEALTHCHECK %q: %v %s", d.health, err, o)
	}
	lh.stop()
}
