package checker

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fuzzValues has a value of every kind, and some of the wrong kind, so a
// condition that compiles is evaluated against something odd.
func fuzzValues() map[string]any {
	return map[string]any{
		"status": 200, "response_time": 5 * time.Millisecond, "body": `{"a":[1,{"b":null}],"c":"x"}`,
		"cert_expires_in": -time.Hour, "connected": true, "rcode": "NOERROR", "answer": []string{"192.0.2.1", ""},
		"authoritative": "yes", "exit_code": 3, "perfdata.t": 0.5, "header.x": "y", "banner": nil,
		"extensions": []string{}, "ttl": time.Duration(0), "output": "\xff",
	}
}

func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		"status == 200", "response_time < 500ms", `body contains "ok"`, "body.json.a[1].b == null",
		"cert_expires_in > 14d", "rcode == NOERROR", "answer contains 192.0.2.1", "len(answer) >= 1",
		"[BODY].c != x", `body matches "^\\{"`, "perfdata.t <= 1e3", "connected == true", "ttl > 1w2d",
		"header.x !contains z", "len(body.json) > 0", "exit_code != 3", "body.json.a.0 > -1.5",
	} {
		f.Add(uint8(0), s)
	}
	types := Types()
	f.Fuzz(func(t *testing.T, ti uint8, s string) {
		typ := types[int(ti)%len(types)]
		c, err := ParseCondition(typ, s)
		if err != nil {
			if c != nil {
				t.Fatal("condition and error")
			}
			return
		}
		// What compiled once compiles again from its own text.
		if _, err := ParseCondition(typ, c.String()); err != nil {
			t.Fatalf("%q compiled, its String %q does not: %v", s, c.String(), err)
		}
		ok, detail := c.Eval(fuzzValues())
		_ = ok
		if detail == "" {
			t.Fatalf("%q: empty detail", s)
		}
		c.Eval(map[string]any{})
	})
}

// packed builds a DNS reply as a server would send it, for seeds.
func packed(f *testing.F, build func(m *dns.Msg)) []byte {
	m := new(dns.Msg)
	m.SetQuestion("wiki.example.test.", dns.TypeA)
	m.Response = true
	build(m)
	b, err := m.Pack()
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzDNSAnswer(f *testing.F) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			f.Fatal(err)
		}
		return r
	}
	f.Add(packed(f, func(m *dns.Msg) {
		m.Authoritative = true
		m.Answer = []dns.RR{rr("wiki.example.test. 300 IN A 192.0.2.1"), rr("wiki.example.test. 60 IN A 192.0.2.2")}
	}))
	f.Add(packed(f, func(m *dns.Msg) {
		m.Answer = []dns.RR{rr("example.test. 300 IN MX 10 mail.example.test."), rr(`example.test. 1 IN TXT "v=spf1 -all" "x"`)}
		m.Ns = []dns.RR{rr("example.test. 300 IN NS ns1.example.test.")}
	}))
	f.Add(packed(f, func(m *dns.Msg) {
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{rr("example.test. 300 IN SOA ns1 hostmaster 1 2 3 4 5")}
	}))
	f.Add(packed(f, func(m *dns.Msg) { m.Truncated = true; m.SetEdns0(1232, true) }))
	f.Add(packed(f, func(m *dns.Msg) {
		m.AuthenticatedData = true
		m.Answer = []dns.RR{rr("wiki.example.test. 300 IN A 192.0.2.1"),
			rr("wiki.example.test. 300 IN RRSIG A 13 3 300 20261128120000 20261125120000 12345 example.test. dGVzdA=="),
			rr("example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2026112501 2 3 4 5")}
	}))
	f.Add([]byte{})
	conds := []string{"rcode == NOERROR", "answer contains 192.0.2.1", "answer == 192.0.2.1,192.0.2.2",
		"len(answer) > 0", "authoritative == true", "ttl >= 1m", `answer matches "mail"`, "authority !contains x",
		"ad == true", "rrsig_expires_in > 7d", "rrsig_count >= 1"}
	var compiled []*Condition
	for _, s := range conds {
		c, err := ParseCondition("dns", s)
		if err != nil {
			f.Fatal(err)
		}
		compiled = append(compiled, c)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	p := &Probe{Name: "fuzz", Type: "dns", opts: Options{Now: func() time.Time { return now }}}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := new(dns.Msg)
		if err := m.Unpack(data); err != nil {
			return
		}
		v := map[string]any{}
		n := len(m.Answer)
		m.Answer = p.rrsigValues(m.Answer, v)
		if c, _ := v["rrsig_count"].(int); c+len(m.Answer) != n {
			t.Fatalf("%d signatures + %d records != %d answers", c, len(m.Answer), n)
		}
		soaSerial(m, "example.test.")
		DNSValues(m, v)
		env := &evalEnv{values: v}
		for _, c := range compiled {
			c.eval(env)
		}
		line := NagiosLine(p, Result{Values: v})
		if strings.ContainsAny(line, "\n") {
			t.Fatalf("status line spans lines: %q", line)
		}
	})
}

func FuzzParsePerfdata(f *testing.F) {
	for _, s := range []string{"time=0.1s;;;0;10", "'a b'=1%;2;3 c=U", "'it''s'=1", "=", "'", "x=1e", "a=-.5e-3KB;~:5;@1:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, pd := range ParsePerfdata(s) {
			if pd.Label == "" {
				t.Fatalf("%q: empty label", s)
			}
		}
		text, perf := ParsePluginOutput(s)
		if strings.Contains(text, "\n") {
			t.Fatalf("%q: text spans lines", s)
		}
		ParsePerfdata(perf)
	})
}

func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{`/a 'b c' "d\"e" f\ g`, `'`, `"\`, `\`, `a''b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitWords(s)
		if err != nil {
			return
		}
		// Quoting each word as the CLI does gives the same words back.
		var q []string
		for _, w := range words {
			q = append(q, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
		}
		again, err := SplitWords(strings.Join(q, " "))
		if err != nil || len(again) != len(words) {
			t.Fatalf("%q -> %q -> %q, %v", s, words, again, err)
		}
		for i := range words {
			if again[i] != words[i] {
				t.Fatalf("%q -> %q -> %q", s, words, again)
			}
		}
	})
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"A wiki.example.test", "wiki.example.test MX", "example.test", "TYPE65534 x.", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		qt, name, err := ParseQuery(s)
		if err != nil {
			return
		}
		m := new(dns.Msg)
		m.SetQuestion(name, qt)
		if _, err := m.Pack(); err != nil {
			t.Fatalf("%q: query does not pack: %v", s, err)
		}
	})
}

func FuzzParseDNSServer(f *testing.F) {
	for _, s := range []string{"192.0.2.53", "tls://dns.example.org", "tcp://[2001:db8::1]:54", "dot://x:0", "udp://", "a:b:c", "tls://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		srv, err := parseDNSServer(s)
		if err != nil {
			return
		}
		if _, _, err := net.SplitHostPort(srv.addr); err != nil || srv.host == "" {
			t.Fatalf("%q: addr %q host %q: %v", s, srv.addr, srv.host, err)
		}
		switch srv.net {
		case "udp", "tcp", "tls":
		default:
			t.Fatalf("%q: net %q", s, srv.net)
		}
	})
}
