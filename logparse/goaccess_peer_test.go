package logparse

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/fixtures"
	"github.com/watchpost/watchpost/internal/peers"
)

// TestGoAccessOracle parses a combined log with GoAccess 1.7 (an
// independent C implementation) and compares what it counts with what
// Parse reads: valid lines, requests per status class and bytes sent.
func TestGoAccessOracle(t *testing.T) {
	bin := peers.Require(t, "goaccess")["goaccess"]
	var lines []string
	g := fixtures.NewGenerator(7, time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC), 7*time.Second)
	for len(lines) < 600 {
		if l := g.Next(); l.Program == "nginx" {
			lines = append(lines, l.Message)
		}
	}
	// Shapes the generator does not make. Lines without referer and agent
	// are left out: GoAccess's COMBINED rejects them, Parse reads them.
	lines = append(lines,
		`2001:db8::1 - - [01/Dec/2026:00:00:00 +0100] "GET /q HTTP/1.1" 200 10 "-" "a \"quoted\" agent \\ x"`,
		`192.0.2.8 - - [01/Dec/2026:00:00:01 +0100] "GET / HTTP/1.1" 200 612 "-" "sqlmap \x22 or 1=1"`,
		`192.0.2.66 - - [01/Dec/2026:00:00:02 +0100] "\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03" 400 157 "-" "-"`,
		`192.0.2.66 - - [01/Dec/2026:00:00:03 +0100] "-" 408 0 "-" "-"`,
		`192.0.2.10 - bob [01/Dec/2026:00:00:04 -0800] "PROPFIND /dav/ HTTP/1.1" 207 1890 "https://x.example/" "mirall/3.7.3"`,
		`192.0.2.13 - - [01/Dec/2026:00:00:05 +0100] "GET / HTTP/1.1" 2000 1 "-" "-"`,
		`not an access log line at all`,
	)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "access.log")
	if err := os.WriteFile(logFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.json")
	cmd := exec.Command(bin, logFile, "--log-format=COMBINED", "--no-global-config", "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goaccess: %v\n%s", err, b)
	}
	var report struct {
		General struct {
			Valid     int   `json:"valid_requests"`
			Bandwidth int64 `json:"bandwidth"`
		} `json:"general"`
		StatusCodes struct {
			Data []struct {
				Data string `json:"data"`
				Hits struct {
					Count int `json:"count"`
				} `json:"hits"`
			} `json:"data"`
		} `json:"status_codes"`
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &report); err != nil {
		t.Fatal(err)
	}

	valid, bandwidth := 0, int64(0)
	classes := map[string]int{}
	for _, l := range lines {
		ev := Parse("combined", []byte(l), time.Now(), time.UTC)
		st, ok := ev.Field("status")
		if !ok {
			continue
		}
		valid++
		classes[st[:1]]++
		n, _ := ev.Field("bytes")
		v, _ := strconv.ParseInt(n, 10, 64)
		bandwidth += v
	}
	if valid != report.General.Valid || bandwidth != report.General.Bandwidth {
		t.Errorf("Parse: %d valid lines, %d bytes; GoAccess: %d, %d", valid, bandwidth, report.General.Valid, report.General.Bandwidth)
	}
	for _, sc := range report.StatusCodes.Data {
		if got := classes[sc.Data[:1]]; got != sc.Hits.Count {
			t.Errorf("status %s: Parse counts %d, GoAccess %d", sc.Data, got, sc.Hits.Count)
		}
	}
	if valid < 600 {
		t.Errorf("only %d lines read", valid)
	}
}
