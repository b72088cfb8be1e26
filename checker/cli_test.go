package checker

import (
	"bytes"
	"context"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// normalize hides what changes from run to run: timings, ports.
func normalize(s string, addrs ...string) string {
	for i, a := range addrs {
		s = strings.ReplaceAll(s, a, "ADDR"+string(rune('0'+i)))
	}
	s = regexp.MustCompile(`\d+(\.\d+)?(ms|µs|s)\b`).ReplaceAllString(s, "DUR")
	s = regexp.MustCompile(`=\d+(\.\d+)?s;`).ReplaceAllString(s, "=SECONDSs;")
	s = regexp.MustCompile(`time=[0-9.]+s;`).ReplaceAllString(s, "time=SECONDSs;")
	s = regexp.MustCompile(`\d+d\d+h`).ReplaceAllString(s, "DAYS")
	return s
}

func TestMainGolden(t *testing.T) {
	srv := httptest.NewServer(testHandler())
	defer srv.Close()
	nsd := startNSD(t)
	sink := startSMTPSink(t)
	dummy := peers.Require(t, "check_dummy")["check_dummy"]
	addr := srv.Listener.Addr().String()

	tests := []struct {
		name string
		args []string
		code int
	}{
		{"http_ok", []string{"http", srv.URL + "/health", "-name", "wiki", "-c", "status == 200", "-c", "body.json.status == up"}, 0},
		{"http_flags_after", []string{"http", "-v", srv.URL + "/health", "-w", "response_time < 1ns", "-name", "wiki"}, 1},
		{"http_critical", []string{"http", srv.URL + "/fail", "-name", "wiki", "-c", "status == 200"}, 2},
		{"http_post", []string{"http", srv.URL + "/echo", "-method", "POST", "-body", "hi", "-header", "Authorization: Bearer x", "-c", "body contains auth=Bearer", "-v"}, 0},
		{"dns_query", []string{"dns", nsd, "-query", "A wiki.example.test", "-c", "answer contains 192.0.2.1"}, 0},
		{"dns_server_type", []string{"dns", "example.test", "-server", nsd, "-type", "MX", "-c", "answers == 10 mail.example.test"}, 0},
		{"dns_nxdomain", []string{"dns", "nope.example.test", "-server", nsd}, 2},
		{"dns_soa_nameservers", []string{"dns", nsd, "-query", "SOA example.test", "-nameservers", "tcp://" + nsd + "," + nsd, "-v"}, 0},
		{"usage_nameservers_not_soa", []string{"dns", nsd, "-query", "A example.test", "-nameservers", nsd}, 3},
		{"smtp_sink", []string{"smtp", sink, "-name", "mx"}, 0},
		{"smtp_require_starttls", []string{"smtp", sink, "-name", "mx", "-starttls"}, 2},
		{"tcp_expect", []string{"tcp", sink, "-body", `EHLO x\r\n`, "-c", "body contains 250-PIPELINING"}, 0},
		{"cmd_ok", []string{"cmd", "-name", "dummy", "--", dummy, "0", "all is well"}, 0},
		{"cmd_warning_target", []string{"cmd", dummy + " 1 'disk 85%'"}, 1},
		{"usage_no_type", nil, 3},
		{"usage_bad_type", []string{"gopher", "x"}, 3},
		{"usage_no_target", []string{"http"}, 3},
		{"usage_bad_condition", []string{"http", "http://x.example.test/", "-c", "rcode == NOERROR"}, 3},
		{"usage_bad_flag", []string{"http", "http://x.example.test/", "-nope"}, 3},
		{"usage_extra_arg", []string{"tcp", "a:1", "b:2"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), tt.args, &out, &errOut)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out.String(), errOut.String())
			}
			got := normalize(out.String(), addr, nsd, sink, dummy)
			golden := filepath.Join("testdata", "cli", tt.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got != string(want) {
				t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// `watchpost check file` says what a backup check is about: how many
// files, how old and how big the newest is; `check -h` lists the type.
func TestFileCheckSummary(t *testing.T) {
	dir := t.TempDir()
	old, newest := filepath.Join(dir, "a.tar.gz"), filepath.Join(dir, "b.tar.gz")
	os.WriteFile(old, bytes.Repeat([]byte("x"), 2_000_000), 0o600)
	os.WriteFile(newest, bytes.Repeat([]byte("x"), 1_500_000), 0o600)
	now := time.Now()
	os.Chtimes(old, now.Add(-50*time.Hour), now.Add(-50*time.Hour))
	os.Chtimes(newest, now.Add(-3*time.Hour-30*time.Second), now.Add(-3*time.Hour-30*time.Second))
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"file", filepath.Join(dir, "*.tar.gz"), "-c", "newest_age < 26h"}, &out, &errOut)
	line := out.String()
	if code != 0 || !regexp.MustCompile(`^OK - .*: 2 files, newest 3h0m\d*s? old, 1\.5 MB \(-25\.0% against the one before\) \| .*count=2;;; newest_size=1500000B;;;`).MatchString(line) {
		t.Fatalf("exit %d: %q %q", code, line, errOut.String())
	}
	out.Reset()
	Main(context.Background(), []string{"-h"}, &out, &out)
	if !strings.Contains(out.String(), "cmd, file,") || !strings.Contains(out.String(), "check file '/backups/*.tar.gz'") {
		t.Fatalf("check -h does not list file:\n%s", out.String())
	}
}
