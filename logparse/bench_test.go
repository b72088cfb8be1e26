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
	for b.Loop() {
		Parse(format, buf, testNow, loc)
	}
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
