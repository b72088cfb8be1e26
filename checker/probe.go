package checker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/watchpost/watchpost/config"
)

// Defaults for a check that does not say.
const (
	DefaultInterval = 60 * time.Second
	DefaultTimeout  = 10 * time.Second
)

// Options are the settings a probe takes beyond config.Check: TLS trust,
// redirects, SMTP policy. The zero value is the safe default (verify
// certificates against the system roots, follow redirects).
type Options struct {
	Now                func() time.Time // the clock for Result.Time and certificate expiry; time.Now if nil
	InsecureSkipVerify bool             // do not verify certificates (expiry is still reported)
	RootCAs            *x509.CertPool   // trust these instead of the system roots
	ServerName         string           // TLS server name, when not the target's host
	NoFollowRedirects  bool             // http: report the 3xx instead of following it
	RequireSTARTTLS    bool             // smtp: fail when the server does not offer STARTTLS
	HeloName           string           // smtp: EHLO name; "localhost" if empty
	MaxBody            int64            // bytes of a body read at most; 1 MiB if 0
	ClientCert         *tls.Certificate // presented to servers that ask (mutual TLS)
	IPVersion          int              // 4 or 6: connect over that family only; 0: either
	// Registry answers domain checks (shared, so that each domain is
	// asked about at most daily); nil: a client without a disk cache.
	Registry *Registry
}

// network is the dial network the IP version choice allows.
func (o Options) network() string {
	switch o.IPVersion {
	case 4:
		return "tcp4"
	case 6:
		return "tcp6"
	}
	return "tcp"
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) maxBody() int64 {
	if o.MaxBody > 0 {
		return o.MaxBody
	}
	return 1 << 20
}

// Probe is a compiled check, ready to run any number of times, from any
// number of goroutines.
type Probe struct {
	Name     string
	Type     string
	Target   string
	Interval time.Duration
	Timeout  time.Duration
	Group    string
	Public   bool
	Labels   map[string]string

	conds []*Condition
	warns []*Condition
	reads map[string]bool // placeholders some condition reads
	opts  Options
	run   func(ctx context.Context, p *Probe, v map[string]any) error

	// Per type; each prober's compile function fills its own.
	method      string
	headers     map[string]string
	body        string
	url         *url.URL
	addr        string // host:port
	host        string
	implicitTLS bool
	qtype       uint16
	qname       string
	argv        []string
	dnsSrv      dnsServer   // dns: the target
	nameservers []dnsServer // dns: must agree with the target's SOA serial
	smtpAuth    *smtpAuth   // smtp: log in when set
	roundTrip   *roundTrip  // smtp: send a message and see it arrive
	bucket      *s3Bucket   // file: an s3:// target
	count       int         // ping: echo requests per probe
	domain      *domainProbe

	http *httpClient // http: the check's client, reused by every probe
}

type prober struct {
	compile func(p *Probe, c config.Check) error
	run     func(ctx context.Context, p *Probe, v map[string]any) error
	// defaults are the conditions of a check that lists none.
	defaults []string
}

var probers = map[string]prober{
	"http": {compileHTTP, runHTTP, []string{"status < 400"}},
	"tcp":  {compileTCP, runTCP, nil},
	"tls":  {compileTCP, runTCP, nil},
	"dns":  {compileDNS, runDNS, []string{"rcode == NOERROR"}},
	"smtp": {compileSMTP, runSMTP, nil},
	"cmd":  {compileCmd, runCmd, nil},
	"file": {compileFile, runFile, []string{"count > 0"}},
	"udp":  {compileUDP, runUDP, nil},
	"ping": {compilePing, runPing, []string{"loss < 100"}},
	// A registry that does not answer leaves a domain check unknown
	// (Result.Inconclusive), not down.
	"domain": {compileDomain, runDomain, []string{"domain_expires_in > 14d"}},
}

// Types lists the probe types.
func Types() []string {
	return []string{"http", "tcp", "tls", "dns", "smtp", "cmd", "file", "udp", "ping", "domain"}
}

// Compile checks a configured check and prepares its probe. Every
// condition is compiled against the placeholders of the check's type, so
// a typo is an error now rather than a check that can never fail.
func Compile(c config.Check, opts Options) (*Probe, error) {
	pr, ok := probers[c.Type]
	if !ok {
		return nil, fmt.Errorf("check %q: %w", c.Name, &FieldError{Key: "type", Err: fmt.Errorf("unknown type %q (want %s)", c.Type, strings.Join(Types(), ", "))})
	}
	p := &Probe{
		Name:     c.Name,
		Type:     c.Type,
		Target:   c.Target,
		Interval: time.Duration(c.Interval),
		Timeout:  time.Duration(c.Timeout),
		Group:    c.Group,
		Public:   c.Public,
		Labels:   c.Labels,
		opts:     opts,
		run:      pr.run,
		reads:    map[string]bool{},
	}
	if p.Interval <= 0 {
		p.Interval = DefaultInterval
	}
	if p.Timeout <= 0 {
		p.Timeout = min(DefaultTimeout, p.Interval)
	}
	if strings.TrimSpace(c.Target) == "" {
		return nil, fmt.Errorf("check %q: %w", c.Name, &FieldError{Key: "target", Err: errors.New("missing target")})
	}
	srcs := c.Conditions
	if len(srcs) == 0 {
		srcs = pr.defaults
	}
	var errs []error
	var err error
	if p.conds, err = compileConditions(c.Type, "conditions", srcs); err != nil {
		errs = append(errs, err)
	}
	if p.warns, err = compileConditions(c.Type, "warn_conditions", c.WarnConditions); err != nil {
		errs = append(errs, err)
	}
	if err := pr.compile(p, c); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("check %q: %w", c.Name, err)
	}
	for _, cs := range [][]*Condition{p.conds, p.warns} {
		for _, cond := range cs {
			p.reads[cond.key] = true
		}
	}
	return p, nil
}

// Run probes once. It never panics and always returns a Result: a probe
// that could not run has Error set and is not a Success.
func (p *Probe) Run(ctx context.Context) (r Result) {
	r = Result{Check: p.Name, Time: p.opts.now(), Values: map[string]any{}}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	err := func() (err error) {
		defer func() {
			// A prober bug must cost one result, not the scheduler.
			if x := recover(); x != nil {
				err = fmt.Errorf("internal error in %s probe: %v", p.Type, x)
			}
		}()
		return p.run(ctx, p, r.Values)
	}()
	r.Duration = time.Since(t0)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (timeout %s)", err, formatDuration(p.Timeout))
		} else if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timeout after %s: %w", formatDuration(p.Timeout), err)
		}
		r.Error = err.Error()
	}
	p.evaluate(&r)
	if errors.Is(err, errInconclusive) {
		r.Inconclusive, r.State = true, StateUnknown
	}
	p.trim(&r)
	return r
}

func (p *Probe) evaluate(r *Result) {
	env := &evalEnv{values: r.Values}
	r.Success = r.Error == ""
	for _, c := range p.conds {
		ok, detail := c.eval(env)
		r.ConditionResults = append(r.ConditionResults, ConditionResult{Condition: c.src, OK: ok, Detail: detail})
		r.Success = r.Success && ok
	}
	warned := false
	for _, c := range p.warns {
		ok, detail := c.eval(env)
		r.ConditionResults = append(r.ConditionResults, ConditionResult{Condition: c.src, OK: ok, Warn: true, Detail: detail})
		warned = warned || !ok
	}
	r.State = StateCritical
	if p.Type == "cmd" {
		// The plugin's own verdict counts as much as the conditions.
		switch r.Values["exit_code"] {
		case 0:
		case 1:
			warned = true
		case 2, nil: // nil: it did not run or did not finish
			r.Success = false
		default:
			r.Success = false
			r.State = StateUnknown
		}
	}
	r.Degraded = r.Success && warned
	switch {
	case r.Degraded:
		r.State = StateWarning
	case r.Success:
		r.State = StateOK
	}
}

// trim drops what nobody asked for: bodies and headers are evidence for
// the conditions that read them, not something to store every minute.
func (p *Probe) trim(r *Result) {
	for k, v := range r.Values {
		switch {
		case k == "body":
			if !p.reads["body"] && !p.reads["body.json"] {
				delete(r.Values, k)
			} else if s, ok := v.(string); ok && len(s) > MaxKeptBody {
				r.Values[k] = s[:MaxKeptBody]
			}
		case strings.HasPrefix(k, "header.") && !p.reads[k]:
			delete(r.Values, k)
		}
	}
}

// splitHostPort reads host:port, [v6]:port, a bare host (with the default
// port) or a URL with a scheme such as tcp://host:port.
func splitHostPort(target, defPort string) (host, port string, err error) {
	t := strings.TrimSpace(target)
	if i := strings.Index(t, "://"); i >= 0 {
		u, err := url.Parse(t)
		if err != nil {
			return "", "", fmt.Errorf("bad target %q: %w", target, err)
		}
		t = u.Host
	}
	if t == "" {
		return "", "", fmt.Errorf("bad target %q: no host", target)
	}
	if h, p, err := net.SplitHostPort(t); err == nil {
		if h == "" {
			return "", "", fmt.Errorf("bad target %q: no host", target)
		}
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return "", "", fmt.Errorf("bad port in target %q", target)
		}
		return h, p, nil
	}
	if defPort == "" {
		return "", "", fmt.Errorf("target %q needs a port (host:port)", target)
	}
	h := strings.Trim(t, "[]")
	if h == "" {
		return "", "", fmt.Errorf("bad target %q: no host", target)
	}
	// A bare IPv6 address has colons; a host name has neither colons nor
	// brackets left over.
	if strings.ContainsAny(h, "[]") || (strings.Contains(h, ":") && net.ParseIP(h) == nil) {
		return "", "", fmt.Errorf("bad target %q", target)
	}
	return h, defPort, nil
}

// tlsConfig is the client TLS configuration for host: verification on
// unless the options turn it off.
func (p *Probe) tlsConfig(host string) *tls.Config {
	name := p.opts.ServerName
	if name == "" {
		name = host
	}
	c := &tls.Config{
		ServerName:         name,
		RootCAs:            p.opts.RootCAs,
		InsecureSkipVerify: p.opts.InsecureSkipVerify,
	}
	if p.opts.ClientCert != nil {
		c.Certificates = []tls.Certificate{*p.opts.ClientCert}
	}
	return c
}

// putTLS records what a TLS handshake showed: the version and the
// earliest expiry among the certificates the server sent.
func (p *Probe) putTLS(v map[string]any, cs tls.ConnectionState) {
	v["tls_version"] = tls.VersionName(cs.Version)
	if len(cs.PeerCertificates) == 0 {
		return
	}
	leaf := cs.PeerCertificates[0]
	v["cert_subject"] = leaf.Subject.String()
	v["cert_issuer"] = leaf.Issuer.String()
	earliest := leaf.NotAfter
	for _, c := range cs.PeerCertificates[1:] {
		if c.NotAfter.Before(earliest) {
			earliest = c.NotAfter
		}
	}
	v["cert_expires_in"] = earliest.Sub(p.opts.now())
}

// putUnverified reports the certificate of a failed verification: its
// expiry is worth knowing even when the chain is not trusted.
func (p *Probe) putUnverified(v map[string]any, err error) {
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) && len(cv.UnverifiedCertificates) > 0 {
		p.putTLS(v, tls.ConnectionState{PeerCertificates: cv.UnverifiedCertificates})
		delete(v, "tls_version")
	}
}

// connect dials the probe's address over the chosen IP family, records
// that it connected and to which address, and bounds the connection by
// the probe's deadline.
func (p *Probe) connect(ctx context.Context, v map[string]any) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, p.opts.network(), p.addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", p.addr, err)
	}
	v["connected"] = true
	if h, _, err := net.SplitHostPort(conn.RemoteAddr().String()); err == nil {
		v["ip"] = h
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return conn, nil
}

// FieldError is a problem with one key of a check's configuration
// (conditions[1], target), so that `config check` can point at the
// key's own line.
type FieldError struct {
	Key string // relative to the check; "" for the check as a whole
	Err error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrors lists the problems a Compile error holds, each with its key
// ("" where the problem is not one key's).
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			if _, ok := e.Unwrap().(interface{ Unwrap() []error }); ok || isField(e.Unwrap()) {
				walk(e.Unwrap())
			} else {
				out = append(out, &FieldError{Err: err})
			}
		default:
			out = append(out, &FieldError{Err: err})
		}
	}
	walk(err)
	return out
}

func isField(err error) bool {
	_, ok := err.(*FieldError)
	return ok
}
