package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// TestVictoriaLogsPrimary: with storage.victorialogs in primary mode the
// loghost ships every line to a real VictoriaLogs, and `watchpost grep`,
// the search API and its context answer from there, as from the embedded
// store; the live tail stays the loghost's own.
func TestVictoriaLogsPrimary(t *testing.T) {
	dir := t.TempDir()
	vl := peers.StartVictoriaLogs(t, filepath.Join(dir, "vl"))
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	cfg := lc.write(t)
	text, _ := os.ReadFile(cfg)
	text = []byte(strings.Replace(string(text), "storage:\n", fmt.Sprintf(
		"storage:\n  victorialogs_url: %s\n  victorialogs: {mode: primary, account_id: 7, project_id: 3}\n", vl.URL()), 1))
	os.WriteFile(cfg, text, 0o600)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	tokFile := filepath.Join(dir, "admin.tok")
	os.WriteFile(tokFile, []byte("e2e-admin-token-0123\n"), 0o600)

	var body strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&body, `{"line":"msg=request n=%d who=Kex_Exchange took=%d"}`+"\n", i, i*10)
	}
	fmt.Fprintf(&body, `{"line":"%s"}`+"\n", "app[1]: "+strings.Repeat("x", 40<<10)+" tail-of-long-line")
	if code, ans := postIngest(t, base, "token-web1", "", body.String()); code != 200 {
		t.Fatalf("ingest %d %v", code, ans)
	}
	// The lines reach VictoriaLogs, in the configured tenant only.
	count := func(tenant string) int {
		vl.Flush()
		req, _ := http.NewRequest("POST", vl.URL()+"/select/logsql/query", strings.NewReader(url.Values{"query": {"* | stats count() n"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		a, p, _ := strings.Cut(tenant, ":")
		req.Header.Set("AccountID", a)
		req.Header.Set("ProjectID", p)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var n int
		fmt.Sscanf(strings.TrimPrefix(strings.TrimSpace(string(b)), `{"n":"`), "%d", &n)
		return n
	}
	peers.Eventually(t, 60*time.Second, func() bool { return count("7:3") == 51 })
	if n := count("0:0"); n != 0 {
		t.Errorf("%d lines in the default tenant", n)
	}
	grep := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, binary, append([]string{"grep", "-server", base, "-token-file", tokFile}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("grep %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if got := grep("-n", "3", "kex_exchange", "took>=100"); strings.Count(got, "\n") != 3 || !strings.Contains(got, "n=49 ") {
		t.Errorf("grep -n 3 printed:\n%s", got)
	}
	if got := grep("-C", "1", "n=7"); !strings.Contains(got, "n=6 ") || !strings.Contains(got, "n=8 ") || strings.Count(got, "\n") != 3 {
		t.Errorf("grep -C 1 printed:\n%s", got)
	}
	// Counts and field values too.
	if got := strings.TrimSpace(grep("-c", "kex_exchange")); got != "50" {
		t.Errorf("grep -c printed %q, want 50", got)
	}
	if got := grep("-by", "who", "kex"); !strings.Contains(got, "Kex_Exchange") || !strings.Contains(got, "50") {
		t.Errorf("grep -by who printed:\n%s", got)
	}
	// Locally, grep says where the other lines are.
	out, _ := exec.Command(binary, "grep", "-data", dir, "n=7").CombinedOutput()
	if !strings.Contains(string(out), "keeps its lines in VictoriaLogs") {
		t.Errorf("grep -data on a primary loghost printed:\n%s", out)
	}
	// A line longer than max_line_size is cut before it is sent and says so.
	vl.Flush()
	req, _ := http.NewRequest("POST", vl.URL()+"/select/logsql/query", strings.NewReader(url.Values{"query": {"wp_truncated:*"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("AccountID", "7")
	req.Header.Set("ProjectID", "3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"wp_truncated":"`) || strings.Contains(string(b), "tail-of-long-line") {
		t.Errorf("long line in VictoriaLogs: %.300s", b)
	}
	if t.Failed() {
		t.Logf("loghost output:\n%s", lh.out.String())
	}
}
