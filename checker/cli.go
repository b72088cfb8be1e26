package checker

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/watchpost/watchpost/config"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }
func (d *durationFlag) Set(s string) error {
	v, err := config.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationFlag(v)
	return nil
}

const checkUsage = `usage: watchpost check TYPE TARGET [flags]
       watchpost check cmd [flags] -- /usr/lib/nagios/plugins/check_x ARGS...

Runs one probe now, prints a Nagios plugin line and exits 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN. TYPE is http, tcp, tls, dns, smtp, cmd, file, udp, ping or
domain.

  watchpost check http https://wiki.example.org/ -c 'status == 200' -w 'cert_expires_in > 14d'
  watchpost check dns 192.0.2.53:53 -query 'A wiki.example.org' -c 'answer contains 192.0.2.10'
  watchpost check dns wiki.example.org -server 192.0.2.53 -type A
  watchpost check dns tls://dns.example.org -query 'A wiki.example.org' -c 'ad == true'
  watchpost check dns ns1.example.org -query 'SOA example.org' -nameservers ns2.example.org,ns3.example.org
  watchpost check dns ns1.example.org -query 'SOA example.org' -w 'rrsig_expires_in > 7d'
  watchpost check smtp mail.example.org:25 -starttls -w 'cert_expires_in > 14d'
  watchpost check tcp host:22 -c 'body contains SSH-2.0'
  watchpost check ping host -count 5 -c 'loss < 20' -w 'rtt < 100ms'
  watchpost check udp host:27015 -body '\xff\xff\xff\xffTSource Engine Query\x00' -c 'replied == true'
  watchpost check domain example.org -w 'domain_expires_in > 30d'
  watchpost check tls host:443
  watchpost check file '/backups/*.tar.gz' -c 'newest_age < 26h' -c 'newest_size > 1000000'

Flags:`

// Main is `watchpost check`: args are what follows "check". Usage errors
// exit 3 (UNKNOWN), as a Nagios plugin's do.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		conds, warns, headers multiFlag
		timeout               = durationFlag(DefaultTimeout)
		name                  = fs.String("name", "", "check name in the output (default: the target's host)")
		query                 = fs.String("query", "", `dns: record type and name, e.g. "A wiki.example.org"`)
		server                = fs.String("server", "", "dns: server host[:port]; TARGET is then the name to query")
		qtype                 = fs.String("type", "A", "dns: record type, with -server")
		method                = fs.String("method", "GET", "http: request method")
		body                  = fs.String("body", "", `http: request body; tcp, tls, udp: bytes to send (\r, \n, \x.. escapes)`)
		count                 = fs.Int("count", 0, "ping: echo requests to send (default 3)")
		noFollow              = fs.Bool("no-follow", false, "http: do not follow redirects")
		insecure              = fs.Bool("insecure", false, "do not verify TLS certificates (expiry is still reported)")
		cacert                = fs.String("cacert", "", "PEM file of CA certificates to trust instead of the system's")
		sni                   = fs.String("sni", "", "TLS server name, when not the target's host")
		starttls              = fs.Bool("starttls", false, "smtp: fail if the server does not offer STARTTLS")
		helo                  = fs.String("helo", "", "smtp: EHLO name (default localhost)")
		nameservers           = fs.String("nameservers", "", `dns: comma-separated servers that must serve the target's SOA serial (with -query "SOA zone")`)
		user                  = fs.String("user", "", "smtp: log in as this user with AUTH PLAIN or LOGIN (needs TLS)")
		passFile              = fs.String("password-file", "", "smtp: file holding the -user's password (default: $WATCHPOST_SMTP_PASSWORD)")
		rtTo                  = fs.String("roundtrip-to", "", "smtp: send a message to this address and wait for it in -roundtrip-mailbox")
		rtMailbox             = fs.String("roundtrip-mailbox", "", "smtp: mbox file the -roundtrip-to address is delivered to")
		verbose               = fs.Bool("v", false, "print every condition's result after the status line")
	)
	fs.Var(&conds, "c", "condition that must hold (repeatable), e.g. 'status == 200'")
	fs.Var(&conds, "condition", "same as -c")
	fs.Var(&warns, "w", "warn condition (repeatable): failing it gives WARNING")
	fs.Var(&warns, "warn", "same as -w")
	fs.Var(&headers, "header", `http: request header "Name: value" (repeatable)`)
	fs.Var(&timeout, "timeout", "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, checkUsage)
		fs.PrintDefaults()
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stdout, "UNKNOWN - "+format+"\n", a...)
		return int(StateUnknown)
	}

	// Everything after -- is a plugin's command line, never our flags.
	var command []string
	if i := slices.Index(args, "--"); i >= 0 {
		command = args[i+1:]
		args = args[:i]
	}
	// Flags may come before, between and after the positional words.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return int(StateUnknown)
			}
			return usage("check: %v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) == 0 {
		fs.Usage()
		return usage("check: missing TYPE (%s)", strings.Join(Types(), ", "))
	}
	c := config.Check{
		Type:           pos[0],
		Conditions:     conds,
		WarnConditions: warns,
		Timeout:        config.Duration(timeout),
		Interval:       config.Duration(time.Duration(timeout) + time.Second),
		Method:         *method,
		Query:          *query,
		Count:          *count,
	}
	switch {
	case c.Type == "cmd" && len(command) > 0 && len(pos) == 1:
		quoted := make([]string, len(command))
		for i, w := range command {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		c.Target = strings.Join(quoted, " ")
	case len(pos) == 2:
		c.Target = pos[1]
	case len(pos) < 2:
		return usage("check %s: missing TARGET", c.Type)
	default:
		return usage("check %s: unexpected %q after TARGET (flags go before --)", c.Type, pos[2])
	}
	if c.Type == "dns" && c.Query == "" {
		// The other spelling: TARGET is the name, -server the server (or
		// the system's resolver).
		c.Query = *qtype + " " + c.Target
		c.Target = *server
		if c.Target == "" {
			cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
			if err != nil || len(cc.Servers) == 0 {
				return usage("check dns: no -server given and no resolver in /etc/resolv.conf")
			}
			c.Target = net.JoinHostPort(cc.Servers[0], cc.Port)
		}
	}
	if *body != "" {
		if c.Type == "tcp" || c.Type == "tls" || c.Type == "udp" {
			s, err := strconv.Unquote(`"` + strings.ReplaceAll(*body, `"`, `\"`) + `"`)
			if err != nil {
				return usage("check: bad escape in -body: %v", err)
			}
			c.Body = s
		} else {
			c.Body = *body
		}
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return usage("check: bad -header %q: want \"Name: value\"", h)
		}
		if c.Headers == nil {
			c.Headers = map[string]string{}
		}
		c.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if *nameservers != "" {
		for _, ns := range strings.Split(*nameservers, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				c.Nameservers = append(c.Nameservers, ns)
			}
		}
	}
	if *user != "" {
		// A password on the command line would show in ps.
		pw := os.Getenv("WATCHPOST_SMTP_PASSWORD")
		if *passFile != "" {
			b, err := os.ReadFile(*passFile)
			if err != nil {
				return usage("check: read -password-file: %v", err)
			}
			pw = strings.TrimRight(string(b), "\r\n")
		}
		c.Username, c.Password = *user, config.Secret(pw)
	}
	c.RoundTripTo, c.RoundTripMailbox = *rtTo, *rtMailbox
	c.Name = *name
	if c.Name == "" {
		c.Name = defaultName(c)
	}
	opts := Options{
		InsecureSkipVerify: *insecure,
		ServerName:         *sni,
		NoFollowRedirects:  *noFollow,
		RequireSTARTTLS:    *starttls,
		HeloName:           *helo,
	}
	if *cacert != "" {
		pem, err := os.ReadFile(*cacert)
		if err != nil {
			return usage("check: read -cacert: %v", err)
		}
		opts.RootCAs = x509.NewCertPool()
		if !opts.RootCAs.AppendCertsFromPEM(pem) {
			return usage("check: no PEM certificate in %s", *cacert)
		}
	}
	p, err := Compile(c, opts)
	if err != nil {
		return usage("%s", oneLine(err.Error()))
	}
	r := p.Run(ctx)
	fmt.Fprintln(stdout, NagiosLine(p, r))
	if *verbose {
		for _, cr := range r.ConditionResults {
			mark := "ok"
			if !cr.OK && cr.Warn {
				mark = "WARN"
			} else if !cr.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(stdout, "%-4s %s  (%s)\n", mark, cr.Condition, cr.Detail)
		}
	}
	return int(r.State)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

func defaultName(c config.Check) string {
	switch c.Type {
	case "http":
		if u, err := url.Parse(c.Target); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
	case "dns":
		if f := strings.Fields(c.Query); len(f) > 0 {
			return strings.TrimSuffix(f[len(f)-1], ".")
		}
	case "cmd":
		if w, err := SplitWords(c.Target); err == nil && len(w) > 0 {
			return filepath.Base(w[0])
		}
	}
	if h, _, err := splitHostPort(c.Target, "0"); err == nil {
		return h
	}
	return c.Target
}

// NagiosLine is a result as a monitoring plugin prints it:
// `OK - wiki: status 200 in 123ms | response_time=0.123s;;;`.
func NagiosLine(p *Probe, r Result) string {
	var b strings.Builder
	b.WriteString(r.State.String())
	b.WriteString(" - ")
	b.WriteString(p.Name)
	b.WriteString(": ")
	if r.Error != "" {
		b.WriteString(r.Error)
	} else {
		b.WriteString(summary(p.Type, r.Values))
	}
	var failed, warned []string
	for _, c := range r.ConditionResults {
		if c.OK {
			continue
		}
		s := c.Condition + " (" + c.Detail + ")"
		if c.Warn {
			warned = append(warned, s)
		} else {
			failed = append(failed, s)
		}
	}
	if len(failed) > 0 && r.Error == "" {
		b.WriteString("; failed: " + strings.Join(failed, ", "))
	}
	if len(warned) > 0 {
		b.WriteString("; warning: " + strings.Join(warned, ", "))
	}
	// A pipe in the text would start the perfdata early.
	line := strings.ReplaceAll(oneLine(b.String()), "|", "/")
	if perf := perfdata(p.Type, r.Values); perf != "" {
		line += " | " + perf
	}
	return line
}

func summary(typ string, v map[string]any) string {
	if s, ok := summaryMore(typ, v); ok {
		return s
	}
	rt := ""
	if d, ok := v["response_time"].(time.Duration); ok {
		rt = " in " + formatDuration(d)
	}
	certs := func() string {
		if d, ok := v["cert_expires_in"].(time.Duration); ok {
			return ", certificate expires in " + formatDuration(d)
		}
		return ""
	}
	switch typ {
	case "http":
		return fmt.Sprintf("status %v%s%s", v["status"], rt, certs())
	case "tcp":
		return "connected" + rt
	case "tls":
		return fmt.Sprintf("%v handshake%s%s", v["tls_version"], rt, certs())
	case "dns":
		ans, _ := v["answer"].([]string)
		s := fmt.Sprintf("%v, %d answer", v["rcode"], len(ans))
		if len(ans) != 1 {
			s += "s"
		}
		if len(ans) > 0 {
			s += " " + describe(ans)
		}
		if aa, _ := v["authoritative"].(bool); aa {
			s += " (authoritative)"
		}
		if ad, _ := v["ad"].(bool); ad {
			s += " (validated)"
		}
		s += rt
		if serials, ok := v["soa_serials"].([]string); ok {
			if agree, _ := v["serials_agree"].(bool); agree {
				s += fmt.Sprintf(", serial %v on %d servers", v["soa_serial"], len(serials))
			}
		}
		if d, ok := v["rrsig_expires_in"].(time.Duration); ok {
			s += ", signatures expire in " + formatDuration(d)
		}
		if tr, _ := v["transport"].(string); tr == "tls" {
			s += fmt.Sprintf(", %v", v["tls_version"]) + certs()
		}
		return s
	case "smtp":
		s := fmt.Sprintf("banner %q%s", clip(fmt.Sprint(v["banner"]), 60), rt)
		if st, _ := v["starttls"].(bool); st {
			s += fmt.Sprintf(", STARTTLS %v", v["tls_version"])
		} else if t, _ := v["tls"].(bool); t {
			s += fmt.Sprintf(", %v", v["tls_version"])
		}
		s += certs()
		if a, _ := v["auth"].(bool); a {
			s += ", logged in"
		}
		if d, ok := v["delivery_time"].(time.Duration); ok {
			s += ", delivered in " + formatDuration(d)
		}
		return s
	case "cmd":
		return fmt.Sprint(v["output"])
	case "file":
		// What a backup check is for: how many, how old, how big.
		n, _ := v["count"].(int64)
		s := fmt.Sprintf("%d file", n)
		if n != 1 {
			s += "s"
		}
		if age, ok := v["newest_age"].(time.Duration); ok {
			s += fmt.Sprintf(", newest %s old, %s", formatDuration(age), formatBytes(v["newest_size"]))
		}
		if pct, ok := v["size_change_pct"].(float64); ok {
			s += fmt.Sprintf(" (%+.1f%% against the one before)", pct)
		}
		return s
	}
	return ""
}

// formatBytes writes a size as people read it: 1.4 GB, 820 kB, 12 bytes.
func formatBytes(v any) string {
	n, ok := v.(int64)
	if !ok {
		return "size unknown"
	}
	switch {
	case n >= 1e9:
		return strconv.FormatFloat(float64(n)/1e9, 'f', 1, 64) + " GB"
	case n >= 1e6:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
	case n >= 1e3:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + " kB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func seconds(d time.Duration) string {
	s := strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".") + "s"
}

func perfdata(typ string, v map[string]any) string {
	if typ == "cmd" {
		s, _ := v["perfdata"].(string)
		return s
	}
	var parts []string
	for _, k := range []string{"response_time", "dns_time", "connect_time", "tls_time", "first_byte_time", "cert_expires_in", "rrsig_expires_in", "delivery_time",
		"rtt_min", "rtt_max", "domain_expires_in", "newest_age"} {
		if d, ok := v[k].(time.Duration); ok {
			parts = append(parts, k+"="+seconds(d)+";;;")
		}
	}
	if l, ok := v["loss"].(float64); ok {
		parts = append(parts, fmt.Sprintf("loss=%g%%;;;0;100", l))
	}
	if typ == "file" {
		if n, ok := v["count"].(int64); ok {
			parts = append(parts, "count="+strconv.FormatInt(n, 10)+";;;")
		}
		if n, ok := v["newest_size"].(int64); ok {
			parts = append(parts, "newest_size="+strconv.FormatInt(n, 10)+"B;;;")
		}
	}
	return strings.Join(parts, " ")
}
