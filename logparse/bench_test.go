package logparse

import (
	"testing"
	"time"
)

func benchParse(b *testing.B, format, line string) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	buf := []byte(line)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	n := 0
	for b.Loop() {
		Parse(format, buf, testNow, loc)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkParseRFC3164(b *testing.B) {
	benchParse(b, "rfc3164", "<86>Nov 22 12:59:01 web1 sshd[4242]: Accepted publickey for deploy from 192.0.2.7 port 50522 ssh2: ED25519 SHA256:abc")
}

func BenchmarkParseRFC3164File(b *testing.B) {
	benchParse(b, "rfc3164", "2026-11-22T10:00:00.123456+01:00 web1 postfix/smtpd[123]: connect from unknown[198.51.100.3]")
}

func BenchmarkParseRFC5424(b *testing.B) {
	benchParse(b, "rfc5424", "<13>1 2026-11-22T10:00:00.123456+01:00 web1 deploy 4242 - - release 42 done on all hosts")
}

func BenchmarkParseRFC5424SD(b *testing.B) {
	benchParse(b, "rfc5424", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry`)
}

func BenchmarkParseAuto(b *testing.B) {
	benchParse(b, "", "<86>Nov 22 12:59:01 web1 sshd[4242]: Accepted publickey for deploy from 192.0.2.7 port 50522 ssh2: ED25519 SHA256:abc")
}

func BenchmarkParseAutoUnknown(b *testing.B) {
	benchParse(b, "", `192.0.2.1 - - [22/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 12 "-" "curl/8"`)
}

func BenchmarkParseCombined(b *testing.B) {
	benchParse(b, "combined", `2001:db8:85a3::8a2e:370:7334 - - [22/Nov/2026:10:00:00 +0100] "GET /wiki/Main_Page HTTP/1.1" 200 5123 "https://www.example.org/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"`)
}

func BenchmarkParseCombinedAuto(b *testing.B) {
	benchParse(b, "", `2001:db8:85a3::8a2e:370:7334 - - [22/Nov/2026:10:00:00 +0100] "GET /wiki/Main_Page HTTP/1.1" 200 5123 "https://www.example.org/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"`)
}

func BenchmarkParseCommon(b *testing.B) {
	benchParse(b, "common", `192.0.2.20 - - [22/Nov/2026:10:00:00 +0100] "GET /index.html HTTP/1.1" 200 2326`)
}

func BenchmarkParseVhostCombined(b *testing.B) {
	benchParse(b, "vhost_combined", `www.example.org:443 192.0.2.30 - - [22/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 5123 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"`)
}

func BenchmarkParseNginxError(b *testing.B) {
	benchParse(b, "nginx_error", `2026/11/22 10:00:00 [error] 1234#1234: *5 open() "/var/www/html/favicon.ico" failed (2: No such file or directory), client: 192.0.2.10, server: www.example.org, request: "GET /favicon.ico HTTP/1.1", host: "www.example.org"`)
}

func BenchmarkParseApacheError(b *testing.B) {
	benchParse(b, "apache_error", `[Sun Nov 22 10:00:00.123456 2026] [core:error] [pid 123:tid 456] [client 192.0.2.10:5678] AH00126: Invalid URI in request GET /%2e%2e/etc/passwd HTTP/1.1`)
}

func BenchmarkParseJSON(b *testing.B) {
	benchParse(b, "json", `{"time":"2026-11-22T10:00:00.123Z","level":"info","msg":"request done","http":{"method":"GET","status":200,"path":"/api"},"duration_ms":12.5}`)
}

func BenchmarkParseLogfmt(b *testing.B) {
	benchParse(b, "logfmt", `time=2026-11-22T10:00:00Z level=info msg="request done" method=GET path=/api status=200 duration=12.5ms`)
}

func BenchmarkParseSyslogSudo(b *testing.B) {
	benchParse(b, "syslog", "Nov 22 10:00:00 web1 sudo[5000]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update")
}

func BenchmarkParseSyslogPostfix(b *testing.B) {
	benchParse(b, "syslog", "Nov 22 10:00:01 mail postfix/smtp[1202]: 4F2A81234: to=<bob@example.org>, relay=mx1.example.org[192.0.2.25]:25, delay=1.2, delays=0.1/0.01/0.5/0.59, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9B1C2D3E4F)")
}

func BenchmarkParseSyslogKernel(b *testing.B) {
	benchParse(b, "syslog", "Nov 22 10:00:00 db1 kernel: [1234567.123456] Out of memory: Killed process 4242 (mysqld) total-vm:8123456kB, anon-rss:4000000kB, file-rss:0kB")
}

func BenchmarkParseAutoLogfmt(b *testing.B) {
	benchParse(b, "", `time=2026-11-22T10:00:00Z level=info msg="request done" method=GET path=/api status=200 duration=12.5ms`)
}

func BenchmarkRedactNoMatch(b *testing.B) {
	benchRedact(b, `192.0.2.1 - - [22/Nov/2026:10:00:00 +0100] "GET /index.php?title=Main HTTP/1.1" 200 12 "-" "curl/8"`)
}

func BenchmarkRedactMatch(b *testing.B) {
	benchRedact(b, `192.0.2.1 - - [22/Nov/2026:10:00:00 +0100] "GET /login?user=bob&password=hunter2 HTTP/1.1" 200 12 "-" "curl/8"`)
}

func benchRedact(b *testing.B, line string) {
	r, err := NewRedactor(nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := []byte(line)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	n := 0
	for b.Loop() {
		r.Redact(buf)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}
