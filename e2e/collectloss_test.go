package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCollectorLossIncident: a file is rotated away while its collector
// is stopped, before its end was read; the restarted collector counts the
// loss and reports it, and the loghost opens one incident for the host
// (source host) naming the file, once.
func TestCollectorLossIncident(t *testing.T) {
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("token-web1\n"), 0o600)
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	app := filepath.Join(logs, "app.log")
	os.WriteFile(app, []byte("lossincident first line\n"), 0o644)
	args := []string{"-server", base, "-token-file", tok, "-state", filepath.Join(dir, "collector"), "-journal=false",
		"-report-every", "1s", "-file", app}
	col := startCollector(t, args...)
	for deadline := time.Now().Add(30 * time.Second); len(countLines(t, dir, "lossincident")) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first line never arrived:\n%s", col.out.String())
		}
	}
	time.Sleep(1500 * time.Millisecond) // the checkpoint is saved
	col.kill()
	// While it is stopped: lines written, then the file is rotated and
	// the rotated file deleted (logrotate with rotate 0) before it is read.
	f, _ := os.OpenFile(app, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintln(f, "lossincident written while stopped, never read")
	f.Close()
	os.Rename(app, app+".1")
	os.Remove(app + ".1")
	os.WriteFile(app, []byte("lossincident after the rotation\n"), 0o644)
	col = startCollector(t, args...)
	get := func() string {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/incidents", nil)
		req.Header.Set("Authorization", "Bearer e2e-admin-token-0123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var body string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if body = get(); strings.Contains(body, "collector on web1 lost log lines") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no incident for the loss: %s\ncollector:\n%s", body, col.out.String())
		}
	}
	if !strings.Contains(body, app) || !strings.Contains(body, `"host"`) {
		t.Errorf("the incident does not name the file and host: %s", body)
	}
	time.Sleep(3 * time.Second) // three more reports: still one incident, fired once
	body = get()
	if n := strings.Count(body, "collector on web1 lost log lines"); n != 1 {
		t.Errorf("%d loss incidents, want 1: %s", n, body)
	}
	if !strings.Contains(col.out.String(), "counted lost") {
		t.Errorf("the collector did not say it counted a loss:\n%s", col.out.String())
	}
}
