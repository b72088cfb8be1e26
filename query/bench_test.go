package query

import (
	"fmt"
	"testing"
)

// benchDoc resembles store.Record: fixed fields behind a switch.
type benchDoc struct {
	raw, host, program, severity, status, path string
}

func (d *benchDoc) Line() string { return d.raw }

func (d *benchDoc) Get(f string) (string, bool) {
	switch f {
	case "host":
		return d.host, true
	case "program":
		return d.program, d.program != ""
	case "severity":
		return d.severity, true
	case "status":
		return d.status, d.status != ""
	case "path":
		return d.path, d.path != ""
	}
	return "", false
}

// syslogDocs returns n typical syslog and access-log lines.
func syslogDocs(n int) ([]*benchDoc, int64) {
	docs := make([]*benchDoc, n)
	var size int64
	sev := []string{"info", "notice", "warning", "err", "debug"}
	for i := range docs {
		host := fmt.Sprintf("web%d", i%7)
		var d benchDoc
		switch i % 4 {
		case 0:
			d = benchDoc{raw: fmt.Sprintf("Nov 22 10:%02d:%02d %s sshd[%d]: Accepted publickey for deploy from 198.51.100.%d port %d ssh2: ED25519 SHA256:Zk3Y1b", i/60%60, i%60, host, 800+i%900, i%250, 40000+i%20000), program: "sshd"}
		case 1:
			d = benchDoc{raw: fmt.Sprintf("Nov 22 10:%02d:%02d %s postfix/smtpd[%d]: connect from mail-%d.example.net[192.0.2.%d]", i/60%60, i%60, host, 2000+i%500, i, i%250), program: "postfix/smtpd"}
		case 2:
			d = benchDoc{raw: fmt.Sprintf("Nov 22 10:%02d:%02d %s CRON[%d]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)", i/60%60, i%60, host, 3000+i%700), program: "CRON"}
		default:
			st := []string{"200", "200", "304", "404", "500"}[i%5]
			d = benchDoc{raw: fmt.Sprintf(`203.0.113.%d - - [22/Nov/2026:10:00:%02d +0000] "GET /api/v2/items/%d HTTP/1.1" %s 1234 "-" "Mozilla/5.0 (X11; Linux x86_64)"`, i%250, i%60, i, st), program: "nginx", status: st, path: fmt.Sprintf("/api/v2/items/%d", i)}
		}
		d.host, d.severity = host, sev[i%len(sev)]
		docs[i] = &d
		size += int64(len(d.raw))
	}
	return docs, size
}

func benchMatch(b *testing.B, query string) {
	q, err := Parse(query)
	if err != nil {
		b.Fatal(err)
	}
	docs, size := syslogDocs(1024)
	b.SetBytes(size / int64(len(docs)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		if q.Match(docs[i&1023]) {
			n++
		}
	}
	_ = n
}

// The store runs Match over every line of the blocks it could not skip:
// these give the per-line cost.
func BenchmarkMatchRareWord(b *testing.B)     { benchMatch(b, "segfault") }
func BenchmarkMatchCommonWord(b *testing.B)   { benchMatch(b, "from") }
func BenchmarkMatchPhrase(b *testing.B)       { benchMatch(b, `"connection refused"`) }
func BenchmarkMatchWordsNegated(b *testing.B) { benchMatch(b, "accepted deploy -cron") }
func BenchmarkMatchNonASCIIWord(b *testing.B) { benchMatch(b, "größe") }
func BenchmarkMatchFields(b *testing.B)       { benchMatch(b, "host=WEB3 program=sshd severity<=warning") }
func BenchmarkMatchNumeric(b *testing.B)      { benchMatch(b, "status>=400 status<500") }
func BenchmarkMatchRegex(b *testing.B)        { benchMatch(b, `path~/items/\d*7$`) }
func BenchmarkMatchMixed(b *testing.B) {
	benchMatch(b, `host=web1 "publickey for deploy" -cron severity<=info`)
}

func BenchmarkParse(b *testing.B) {
	const s = `"connection refused" host=web1 -cron status>=500 path~^/api/v\d+/ severity<=err`
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEscapeControl(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"clean", "Nov 22 10:00:01 web1 sshd[811]: Accepted publickey for deploy from 198.51.100.7 port 40001 ssh2"},
		{"unicode", "Nov 22 10:00:01 web1 app[811]: Größe überschritten für Benutzer ÿ — 10 % ✓"},
		{"hostile", "Nov 22 10:00:01 web1 app[811]: \x1b[2J\x1b]0;pwned\a user \xff\xfe \u202eevil"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.s)))
			b.ReportAllocs()
			for b.Loop() {
				EscapeControl(c.s)
			}
		})
	}
}
