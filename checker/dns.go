package checker

import (
	"context"
	"crypto/tls"
	"errors"
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
// host:port, port 53 by default; tcp:// for TCP only, tls:// for DNS over
// TLS on port 853 by default) and the query is "TYPE name" or a bare name
// for an A query.
func compileDNS(p *Probe, c config.Check) error {
	srv, err := parseDNSServer(c.Target)
	if err != nil {
		return err
	}
	p.dnsSrv = srv
	p.addr = srv.addr
	qt, qn, err := ParseQuery(c.Query)
	if err != nil {
		return err
	}
	p.qtype, p.qname = qt, qn
	if len(c.Nameservers) > 0 {
		if qt != dns.TypeSOA {
			return fmt.Errorf("nameservers compare SOA serials: the query must be \"SOA zone\", not %q", c.Query)
		}
		for _, ns := range c.Nameservers {
			s, err := parseDNSServer(ns)
			if err != nil {
				return fmt.Errorf("nameservers: %w", err)
			}
			p.nameservers = append(p.nameservers, s)
		}
	}
	return nil
}

// dnsServer is where a query goes and how.
type dnsServer struct {
	addr string // host:port
	host string // the name a DoT certificate must carry
	net  string // "udp" (with a TCP retry), "tcp" or "tls"
}

// parseDNSServer reads host, host:port, udp://, tcp:// and tls:// (or
// dot://) forms.
func parseDNSServer(s string) (dnsServer, error) {
	t := strings.TrimSpace(s)
	srv := dnsServer{net: "udp"}
	def := "53"
	if scheme, _, ok := strings.Cut(t, "://"); ok {
		switch strings.ToLower(scheme) {
		case "udp", "dns":
		case "tcp":
			srv.net = "tcp"
		case "tls", "dot":
			srv.net, def = "tls", "853"
		default:
			return srv, fmt.Errorf("bad DNS server %q: want udp://, tcp:// or tls://", s)
		}
	}
	host, port, err := splitHostPort(t, def)
	if err != nil {
		return srv, err
	}
	srv.host = host
	srv.addr = net.JoinHostPort(host, port)
	return srv, nil
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
	// RFC 6840 §5.7: the AD bit in a query asks a validating resolver to
	// say whether it validated, without the DO bit's extra records.
	m.AuthenticatedData = true
	// The DO bit brings the signatures only when a condition reads them.
	do := p.reads["rrsig_expires_in"] || p.reads["rrsig_count"]
	m.SetEdns0(ednsSize, do)
	start := time.Now()
	v["connected"] = false
	in, err := p.exchange(ctx, p.dnsSrv, m, v)
	v["response_time"] = time.Since(start)
	if err != nil {
		return fmt.Errorf("query %s %s at %s: %w", dns.TypeToString[p.qtype], p.qname, p.addr, err)
	}
	v["connected"] = true
	if p.qtype != dns.TypeRRSIG {
		// Signatures are reported apart, so `answer == ...` means the
		// same with and without the DO bit.
		in.Answer = p.rrsigValues(in.Answer, v)
	}
	if _, ok := v["rrsig_count"]; !ok && do {
		v["rrsig_count"] = 0
	}
	DNSValues(in, v)
	if len(p.nameservers) > 0 {
		return p.compareSerials(ctx, in, v)
	}
	return nil
}

// exchange sends m to srv and returns the reply: over UDP with a TCP retry
// when the reply is truncated, or over TCP or TLS alone. It records the
// transport that answered and, for TLS, the server's certificate.
func (p *Probe) exchange(ctx context.Context, srv dnsServer, m *dns.Msg, v map[string]any) (*dns.Msg, error) {
	fam := ""
	switch p.opts.IPVersion {
	case 4, 6:
		fam = fmt.Sprint(p.opts.IPVersion)
	}
	c := &dns.Client{UDPSize: ednsSize}
	if dl, ok := ctx.Deadline(); ok {
		// The client's own 2 s default would cut a longer probe timeout.
		c.Timeout = time.Until(dl)
	}
	var in *dns.Msg
	var err error
	switch srv.net {
	case "tls":
		v["transport"] = "tls"
		c.Net = "tcp" + fam + "-tls"
		c.TLSConfig = p.tlsConfig(srv.host)
		var conn *dns.Conn
		if conn, err = c.DialContext(ctx, srv.addr); err != nil {
			p.putUnverified(v, err)
			return nil, fmt.Errorf("TLS: %w", err)
		}
		defer conn.Close()
		if tc, ok := conn.Conn.(*tls.Conn); ok {
			v["tls"] = true
			p.putTLS(v, tc.ConnectionState())
		}
		in, _, err = c.ExchangeWithConnContext(ctx, m, conn)
	case "tcp":
		v["transport"] = "tcp"
		c.Net = "tcp" + fam
		in, _, err = c.ExchangeContext(ctx, m, srv.addr)
	default:
		v["transport"] = "udp"
		c.Net = "udp" + fam
		in, _, err = c.ExchangeContext(ctx, m, srv.addr)
		if err == nil && in.Truncated {
			c.Net = "tcp" + fam
			v["transport"] = "tcp"
			in, _, err = c.ExchangeContext(ctx, m, srv.addr)
		}
	}
	if err != nil {
		return nil, err
	}
	if in.Id != m.Id {
		return nil, errors.New("reply ID does not match")
	}
	return in, nil
}

// rrsigValues reports the signatures among rrs (their count and the time
// until the first of them expires) and returns the other records.
func (p *Probe) rrsigValues(rrs []dns.RR, v map[string]any) []dns.RR {
	out := rrs[:0:0]
	n := 0
	var first time.Duration
	now := p.opts.now()
	for _, rr := range rrs {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			out = append(out, rr)
			continue
		}
		if left := rrsigExpiresIn(sig, now); n == 0 || left < first {
			first = left
		}
		n++
	}
	if n > 0 {
		v["rrsig_count"] = n
		v["rrsig_expires_in"] = first
	}
	return out
}

// rrsigExpiresIn is how long until the signature expires, negative once it
// has. The expiration is a 32-bit time in serial number arithmetic (RFC
// 4034 §3.1.5): the nearest instant within 68 years of now.
func rrsigExpiresIn(sig *dns.RRSIG, now time.Time) time.Duration {
	return time.Duration(int32(sig.Expiration-uint32(now.Unix()))) * time.Second
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
	v["ad"] = in.AuthenticatedData
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
