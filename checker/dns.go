package checker

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/watchpost/watchpost/config"
)

// ednsSize is the DNS flag day 2020 buffer size: big enough for most
// answers, small enough not to fragment; larger answers come by TCP.
const ednsSize = 1232

// compileDNS reads a dns check: the target is the server (host or
// host:port, port 53 by default) and the query is "TYPE name" or a bare
// name for an A query.
func compileDNS(p *Probe, c config.Check) error {
	host, port, err := splitHostPort(c.Target, "53")
	if err != nil {
		return err
	}
	p.addr = net.JoinHostPort(host, port)
	qt, qn, err := ParseQuery(c.Query)
	if err != nil {
		return err
	}
	p.qtype, p.qname = qt, qn
	return nil
}

// ParseQuery reads "A wiki.example.org", "MX example.org" or a bare name
// (type A) into a record type and a fully qualified name.
func ParseQuery(q string) (uint16, string, error) {
	f := strings.Fields(q)
	var typ, name string
	switch len(f) {
	case 1:
		typ, name = "A", f[0]
	case 2:
		typ, name = f[0], f[1]
		if _, ok := dns.StringToType[strings.ToUpper(typ)]; !ok {
			if _, ok2 := dns.StringToType[strings.ToUpper(name)]; ok2 {
				typ, name = name, typ // "wiki.example.org A" reads as well
			}
		}
	default:
		return 0, "", fmt.Errorf("bad DNS query %q: want \"TYPE name\", e.g. \"A wiki.example.org\"", q)
	}
	t, ok := dns.StringToType[strings.ToUpper(typ)]
	if !ok {
		return 0, "", fmt.Errorf("bad DNS query %q: unknown record type %q", q, typ)
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return 0, "", fmt.Errorf("bad DNS query %q: %q is not a domain name", q, name)
	}
	name = dns.Fqdn(name)
	// The final test is whether the query can be sent: escapes such as
	// a trailing backslash pass the name checks above but not Pack.
	m := new(dns.Msg)
	m.SetQuestion(name, t)
	if _, err := m.Pack(); err != nil {
		return 0, "", fmt.Errorf("bad DNS query %q: %w", q, err)
	}
	return t, name, nil
}

func runDNS(ctx context.Context, p *Probe, v map[string]any) error {
	m := new(dns.Msg)
	m.SetQuestion(p.qname, p.qtype)
	m.RecursionDesired = true
	m.SetEdns0(ednsSize, false)
	start := time.Now()
	v["connected"] = false
	c := &dns.Client{Net: "udp", UDPSize: ednsSize}
	in, _, err := c.ExchangeContext(ctx, m, p.addr)
	v["transport"] = "udp"
	if err == nil && in.Truncated {
		c.Net = "tcp"
		v["transport"] = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, p.addr)
	}
	v["response_time"] = time.Since(start)
	if err != nil {
		return fmt.Errorf("query %s %s at %s: %w", dns.TypeToString[p.qtype], p.qname, p.addr, err)
	}
	if in.Id != m.Id {
		return fmt.Errorf("query %s at %s: reply ID does not match", p.qname, p.addr)
	}
	v["connected"] = true
	DNSValues(in, v)
	return nil
}

// DNSValues puts what a DNS reply says into v: rcode, answer (the data of
// each answer record, as in a zone file), authority, the flags and the
// smallest answer TTL. It takes any message, however odd: it is fed
// whatever the network returned.
func DNSValues(in *dns.Msg, v map[string]any) {
	rc, ok := dns.RcodeToString[in.Rcode]
	if !ok {
		rc = fmt.Sprintf("RCODE%d", in.Rcode)
	}
	v["rcode"] = rc
	v["authoritative"] = in.Authoritative
	v["truncated"] = in.Truncated
	v["recursion_available"] = in.RecursionAvailable
	v["answer"] = rdata(in.Answer)
	v["authority"] = rdata(in.Ns)
	var ttl uint32
	for i, rr := range in.Answer {
		if rr == nil {
			continue
		}
		if t := rr.Header().Ttl; i == 0 || t < ttl {
			ttl = t
		}
	}
	if len(in.Answer) > 0 {
		v["ttl"] = time.Duration(ttl) * time.Second
	}
}

// rdata is each record's data as a zone file writes it ("192.0.2.1",
// "10 mail.example.org."): the header (name, TTL, class, type) is left
// out so conditions compare only what the record says.
func rdata(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if rr == nil {
			continue
		}
		s := rr.String()
		h := rr.Header().String()
		if strings.HasPrefix(s, h) {
			s = s[len(h):]
		}
		out = append(out, strings.TrimSpace(s))
	}
	return out
}
