package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
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

// collectorProc is a running `watchpost collect`.
type collectorProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func startCollector(t *testing.T, args ...string) *collectorProc {
	t.Helper()
	// Log shipping alone: host metrics have their own test.
	cmd, out, done := startProc(t, append([]string{"collect", "-metrics=false", "-munin-plugins=none"}, args...)...)
	c := &collectorProc{cmd: cmd, out: out, done: done}
	t.Cleanup(c.kill)
	return c
}

func (c *collectorProc) kill() {
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	<-c.done
}

// countLines greps the loghost's store locally and counts each line.
func countLines(t *testing.T, dataDir, word string) map[string]int {
	t.Helper()
	cmd := exec.Command(binary, "grep", "-data", dataDir, word)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		// A file's line is printed after its host ("web1:line").
		line := sc.Text()
		if h, rest, ok := strings.Cut(line, ":"); ok && !strings.Contains(h, " ") && strings.Contains(rest, word) {
			line = rest
		}
		seen[line]++
	}
	io.Copy(io.Discard, out)
	cmd.Wait()
	return seen
}

// TestCollectorNothingLost is the collector's promise end to end, with
// real processes: 200,000 lines over three files, one rotated by rename
// (with lines written to the old file after the rename), one truncated in
// place (copytruncate, the writer paused across it as logrotate's own
// window loses lines), the loghost stopped for 10 s, and the collector
// killed with SIGKILL once. Every line must be in the store exactly once.
func TestCollectorNothingLost(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("long end-to-end test (CI always runs it)")
	}
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)

	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("token-web1\n"), 0o600)
	names := []string{"rotated.log", "truncated.log", "plain.log"}
	files := make([]*os.File, 3)
	for i, n := range names {
		f, err := os.OpenFile(filepath.Join(logs, n), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = f
	}
	collectArgs := []string{"-server", base, "-token-file", tok, "-state", filepath.Join(dir, "collector"),
		"-journal=false", "-report-every", "1s"}
	for _, n := range names {
		collectArgs = append(collectArgs, "-file", filepath.Join(logs, n))
	}
	col := startCollector(t, collectArgs...)

	const total = 200000
	write := func(i, n int) {
		fmt.Fprintf(files[i], "e2ecollect %s n=%06d some payload to make the line longer than tiny\n", names[i], n)
	}
	counts := [3]int{}
	written := 0
	waitStored := func(what string, file int) {
		// Wait until the collector shipped the file's last line, so that
		// copytruncate cannot take lines it never read.
		want := fmt.Sprintf("%06d", counts[file]-1)
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if c := countLines(t, dir, want); len(c) > 0 {
				for l := range c {
					if strings.Contains(l, names[file]+" n="+want) {
						return
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("%s: line %s never arrived\ncollector:\n%s", what, want, col.out.String())
	}
	step := 0
	for written < total {
		i := written % 3
		write(i, counts[i])
		counts[i]++
		written++
		if written%2000 == 0 {
			time.Sleep(20 * time.Millisecond) // about 100,000 lines/s at most
		}
		switch {
		case step == 0 && written >= total/4:
			// Rename rotation; the daemon keeps writing to the old file for a moment.
			if err := os.Rename(filepath.Join(logs, names[0]), filepath.Join(logs, names[0]+".1")); err != nil {
				t.Fatal(err)
			}
			for k := 0; k < 100; k++ {
				write(0, counts[0])
				counts[0]++
				written++
			}
			files[0].Close()
			f, err := os.OpenFile(filepath.Join(logs, names[0]), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			files[0] = f
			step++
		case step == 1 && written >= total/2:
			// copytruncate, with the writer paused across copy and truncate.
			waitStored("before copytruncate", 1)
			p := filepath.Join(logs, names[1])
			b, _ := os.ReadFile(p)
			os.WriteFile(p+".1", b, 0o644)
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
			step++
		case step == 2 && written >= total*6/10:
			lh.stop()
			t.Log("loghost stopped for 10 s")
			stopUntil := time.Now().Add(10 * time.Second)
			for time.Now().Before(stopUntil) && written < total*7/10 {
				i := written % 3
				write(i, counts[i])
				counts[i]++
				written++
				if written%500 == 0 {
					time.Sleep(50 * time.Millisecond)
				}
			}
			time.Sleep(time.Until(stopUntil))
			lh = startLoghost(t, "-config", cfg)
			lh.waitReady(base)
			step++
		case step == 3 && written >= total*8/10:
			col.kill()
			t.Log("collector killed with SIGKILL")
			col = startCollector(t, collectArgs...)
			step++
		}
	}
	for _, f := range files {
		f.Close()
	}
	if step != 4 {
		t.Fatalf("only %d of 4 disruptions happened", step)
	}

	var seen map[string]int
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		seen = countLines(t, dir, "e2ecollect")
		if len(seen) >= written {
			break
		}
		time.Sleep(time.Second)
	}
	missing, doubled := 0, 0
	for i, n := range names {
		for k := 0; k < counts[i]; k++ {
			line := fmt.Sprintf("e2ecollect %s n=%06d some payload to make the line longer than tiny", n, k)
			switch seen[line] {
			case 0:
				if missing < 5 {
					t.Errorf("missing: %s", line)
				}
				missing++
			case 1:
			default:
				if doubled < 5 {
					t.Errorf("stored %d times: %s", seen[line], line)
				}
				doubled++
			}
		}
	}
	if missing+doubled > 0 {
		t.Fatalf("%d of %d lines missing, %d doubled\ncollector:\n%s", missing, written, doubled, col.out.String())
	}
	if len(seen) != written {
		t.Errorf("%d distinct lines stored, want %d", len(seen), written)
	}
	// The collector's self-report reached the loghost's /metrics.
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer e2e-admin-token-0123")
	metricsText := ""
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			metricsText = string(b)
			if strings.Contains(metricsText, `watchpost_collector_last_report_timestamp_seconds{host="web1"}`) {
				break
			}
		}
	}
	if !strings.Contains(metricsText, `watchpost_collector_report_lost_generations{host="web1"} 0`) {
		t.Errorf("no self-report of web1 on the loghost's /metrics")
	}
	lh.stop()
	col.kill()
}

// rssKB reads a process's resident set size from /proc.
func rssKB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	return 0
}

func dirSize(dir string) int64 {
	var n int64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// TestCollectorSpoolFull: with the loghost down, the collector fills a
// small spool, then stops reading (the file is the buffer) with bounded
// memory; when the loghost comes up everything arrives once.
func TestCollectorSpoolFull(t *testing.T) {
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	cfg := lc.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("token-web1\n"), 0o600)
	logFile := filepath.Join(dir, "app.log")
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300000 // about 30 MB, far beyond the spool bound
	w := bufio.NewWriter(f)
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "spoolfull n=%07d %s\n", i, strings.Repeat("x", 80))
	}
	w.Flush()
	f.Close()
	const bound = 256 << 10
	col := startCollector(t, "-server", base, "-token-file", tok, "-state", filepath.Join(dir, "collector"),
		"-journal=false", "-spool-max", "256KiB", "-file", logFile)
	spoolDir := filepath.Join(dir, "collector", "spool")
	// The spool fills to its bound and stays there.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && dirSize(spoolDir) < bound/2 {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	size := dirSize(spoolDir)
	if size == 0 || size > bound+(1<<20) {
		t.Fatalf("spool holds %d bytes; bound %d", size, bound)
	}
	if !strings.Contains(col.out.String(), "spool full") {
		t.Errorf("no spool-full notice in the collector's log:\n%s", col.out.String())
	}
	if rss := rssKB(col.cmd.Process.Pid); rss > 64<<10 {
		t.Errorf("collector RSS %d kB with a full spool: memory must stay bounded", rss)
	} else {
		t.Logf("collector RSS with a full spool: %d kB; spool %d bytes", rss, size)
	}
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	var seen map[string]int
	deadline = time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		seen = countLines(t, dir, "spoolfull")
		if len(seen) >= n {
			break
		}
		time.Sleep(time.Second)
	}
	bad := 0
	for i := 0; i < n; i++ {
		line := fmt.Sprintf("spoolfull n=%07d %s", i, strings.Repeat("x", 80))
		if seen[line] != 1 {
			if bad < 5 {
				t.Errorf("line %d stored %d times", i, seen[line])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d lines not stored exactly once\n%s", bad, n, col.out.String())
	}
	if left := dirSize(spoolDir); left != 0 {
		t.Errorf("spool still holds %d bytes", left)
	}
}

// TestCollectorJournal: journal entries reach the loghost with their
// program, pid, severity and time. The test machine runs no journald, so
// the journal is a real journal file written by systemd-journal-remote
// and read by the real journalctl, exactly as on a host, through --file.
func TestCollectorJournal(t *testing.T) {
	remote := "/lib/systemd/systemd-journal-remote"
	if _, err := os.Stat(remote); err != nil {
		remote = need(t, "systemd-journal-remote", "systemd-journal-remote")
	}
	need(t, "journalctl", "systemd")
	dir := t.TempDir()
	var export strings.Builder
	base := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC).UnixMicro()
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&export, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web1\nSYSLOG_IDENTIFIER=backup\n_PID=4711\nPRIORITY=3\nSYSLOG_FACILITY=3\nMESSAGE=journalentry nightly backup step %d\n\n", base+int64(i)*1000000, 1000+i, i)
	}
	jfile := filepath.Join(dir, "system.journal")
	cmd := exec.Command(remote, "-o", jfile, "-")
	cmd.Stdin = strings.NewReader(export.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	cfg := lc.write(t)
	base2 := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base2)
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("token-web1\n"), 0o600)
	for run := 0; run < 2; run++ { // the second run ships nothing again
		if out, errOut, rc := runCmd(t, "collect", "-once", "-metrics=false", "-munin-plugins=none", "-server", base2, "-token-file", tok, "-state", filepath.Join(dir, "c"), "-journal-file", jfile); rc != 0 {
			t.Fatalf("collect: rc %d\n%s%s", rc, out, errOut)
		}
	}
	out, _, rc := runCmd(t, "grep", "-data", dir, "-o", "json", "program=backup", "journalentry")
	if rc != 0 {
		t.Fatalf("grep rc %d", rc)
	}
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 5 {
		t.Fatalf("%d entries stored, want 5:\n%s", len(rows), out)
	}
	for _, want := range []string{`"host":"web1"`, `"pid":"4711"`, `"severity":"err"`} {
		if !strings.Contains(rows[0], want) {
			t.Errorf("first entry lacks %s: %s", want, rows[0])
		}
	}
	// The instant, whatever zone grep shows it in (the machine's).
	var first struct{ Time time.Time }
	if err := json.Unmarshal([]byte(rows[0]), &first); err != nil || !first.Time.Equal(time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("first entry's time %v (%v), want 2026-11-22T03:00:00Z: %s", first.Time, err, rows[0])
	}
}

func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return run(t, ctx, "", args...)
}

// TestCollectorTLS: the collector verifies the loghost's certificate
// against -ca-file; without it (system roots) the unknown CA is refused
// and the lines wait in the spool rather than going anywhere unverified.
func TestCollectorTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t),
		extra: ""}
	cfg := lc.write(t)
	b, _ := os.ReadFile(cfg)
	y := strings.Replace(string(b), "server:\n", fmt.Sprintf("server:\n  tls_cert_file: %s\n  tls_key_file: %s\n", certFile, keyFile), 1)
	os.WriteFile(cfg, []byte(y), 0o600)
	base := fmt.Sprintf("https://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	waitTLS(t, lh, lc.httpPort)
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("token-web1\n"), 0o600)
	logFile := filepath.Join(dir, "app.log")
	os.WriteFile(logFile, []byte("tlsline one\ntlsline two\n"), 0o644)

	// Without the CA: refused, nothing stored, the batch kept in the spool.
	_, errOut, rc := runCmd(t, "collect", "-once", "-metrics=false", "-munin-plugins=none", "-server", base, "-token-file", tok, "-state", filepath.Join(dir, "c1"), "-journal=false", "-file", logFile)
	if rc == 0 || !strings.Contains(errOut, "certificate") {
		t.Fatalf("an unverified loghost was accepted: rc %d\n%s", rc, errOut)
	}
	if dirSize(filepath.Join(dir, "c1", "spool")) == 0 {
		t.Error("the refused batch is not in the spool")
	}
	// With it: shipped.
	if out, errOut, rc := runCmd(t, "collect", "-once", "-metrics=false", "-munin-plugins=none", "-server", base, "-token-file", tok, "-ca-file", certFile, "-state", filepath.Join(dir, "c2"), "-journal=false", "-file", logFile); rc != 0 {
		t.Fatalf("collect with -ca-file: rc %d\n%s%s", rc, out, errOut)
	}
	if n := len(countLines(t, dir, "tlsline")); n != 2 {
		t.Fatalf("%d lines stored over TLS, want 2", n)
	}
}

func waitTLS(t *testing.T, lh *loghost, port int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-lh.done:
			t.Fatalf("loghost exited:\n%s", lh.out.String())
		default:
		}
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
	}
	t.Fatal("loghost TLS port not up")
}

// writeSelfSigned makes a certificate for 127.0.0.1 and its key.
func writeSelfSigned(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "watchpost e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
