package checker

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/watchpost/watchpost/config"
)

// compileSMTP reads host[:port] (25 by default) or smtp:// and smtps://
// URLs. Port 465 and smtps:// speak TLS from the first byte.
func compileSMTP(p *Probe, c config.Check) error {
	def := "25"
	t := strings.ToLower(strings.TrimSpace(c.Target))
	if strings.HasPrefix(t, "smtps://") {
		def = "465"
	}
	host, port, err := splitHostPort(c.Target, def)
	if err != nil {
		return &FieldError{Key: "target", Err: err}
	}
	p.host = host
	p.addr = net.JoinHostPort(host, port)
	p.implicitTLS = port == "465" || strings.HasPrefix(t, "smtps://")
	return compileSMTPExtras(p, c)
}

// smtpSession is one conversation: the raw connection (replaced by its TLS
// client after STARTTLS) and the line protocol on top.
type smtpSession struct {
	conn      net.Conn
	tp        *textproto.Conn
	authMechs []string // from the last EHLO's AUTH line
}

func (s *smtpSession) cmd(expect int, format string, args ...any) (int, string, error) {
	id, err := s.tp.Cmd(format, args...)
	if err != nil {
		return 0, "", err
	}
	s.tp.StartResponse(id)
	defer s.tp.EndResponse(id)
	return s.tp.ReadResponse(expect)
}

// runSMTP walks the conversation a mail server has with a peer: banner,
// EHLO, STARTTLS when offered (the certificate is verified: a broken one
// on an MX is an outage for the mail that insists on TLS), EHLO again,
// AUTH when an account is configured, QUIT. No mail is sent unless a
// round trip is configured: then one message goes to a mailbox the probe
// reads, and the time it took to arrive is delivery_time.
func runSMTP(ctx context.Context, p *Probe, v map[string]any) error {
	start := time.Now()
	defer func() { v["response_time"] = time.Since(start) }()
	v["connected"] = false
	v["starttls"] = false
	v["tls"] = false
	conn, err := p.connect(ctx, v)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Closing on cancellation unblocks a read the deadline alone would
	// leave waiting when the caller gives up early.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	s := &smtpSession{conn: conn}
	if p.implicitTLS {
		if err := p.smtpTLS(ctx, s, v); err != nil {
			return err
		}
	}
	s.tp = textproto.NewConn(s.conn)
	_, banner, err := s.tp.ReadResponse(220)
	v["banner"] = banner
	if err != nil {
		return fmt.Errorf("banner from %s: %w", p.addr, err)
	}
	ext, err := p.ehlo(s, v)
	if err != nil {
		return err
	}
	if !p.implicitTLS {
		if !hasExt(ext, "STARTTLS") {
			if p.opts.RequireSTARTTLS {
				p.quit(s)
				return fmt.Errorf("%s does not offer STARTTLS", p.addr)
			}
		} else {
			if _, _, err := s.cmd(220, "STARTTLS"); err != nil {
				return fmt.Errorf("STARTTLS at %s: %w", p.addr, err)
			}
			if err := p.smtpTLS(ctx, s, v); err != nil {
				return err
			}
			v["starttls"] = true
			s.tp = textproto.NewConn(s.conn)
			// RFC 3207: what was said before TLS is forgotten; ask again.
			if _, err := p.ehlo(s, v); err != nil {
				return err
			}
		}
	}
	if p.smtpAuth != nil {
		if err := p.login(s, v); err != nil {
			p.quit(s)
			return err
		}
	}
	if p.roundTrip == nil {
		p.quit(s)
		return nil
	}
	if p.roundTrip.remote != nil {
		return p.remoteRoundTrip(ctx, s, v)
	}
	from, err := mailboxSize(p.roundTrip.mailbox)
	if err != nil {
		return err
	}
	token, sent, err := p.sendProbe(s, v)
	if err != nil {
		p.quit(s)
		return err
	}
	p.quit(s)
	return p.awaitDelivery(ctx, token, from, sent, v)
}

// remoteRoundTrip logs in to the mailbox first, so that a wrong password
// sends nothing, then sends and waits.
func (p *Probe) remoteRoundTrip(ctx context.Context, s *smtpSession, v map[string]any) error {
	ms, err := p.openMailbox(ctx)
	if err != nil {
		p.quit(s)
		return err
	}
	token, sent, err := p.sendProbe(s, v)
	p.quit(s)
	if err != nil {
		ms.close()
		return err
	}
	return p.awaitRemote(ctx, ms, token, sent, v)
}

func (p *Probe) smtpTLS(ctx context.Context, s *smtpSession, v map[string]any) error {
	tc := tls.Client(s.conn, p.tlsConfig(p.host))
	if err := tc.HandshakeContext(ctx); err != nil {
		p.putUnverified(v, err)
		return fmt.Errorf("TLS handshake with %s: %w", p.addr, err)
	}
	s.conn = tc
	v["tls"] = true
	p.putTLS(v, tc.ConnectionState())
	return nil
}

func (p *Probe) ehlo(s *smtpSession, v map[string]any) ([]string, error) {
	name := p.opts.HeloName
	if name == "" {
		name = "localhost"
	}
	_, msg, err := s.cmd(250, "EHLO %s", name)
	if err != nil {
		return nil, fmt.Errorf("EHLO at %s: %w", p.addr, err)
	}
	lines := strings.Split(msg, "\n")
	ext := []string{}
	s.authMechs = nil
	for _, l := range lines[1:] {
		f := strings.Fields(strings.ToUpper(l))
		if len(f) == 0 {
			continue
		}
		ext = append(ext, f[0])
		if f[0] == "AUTH" {
			s.authMechs = f[1:]
		}
	}
	v["extensions"] = ext
	return ext, nil
}

// quit ends politely; a server that hangs up instead is still up.
func (p *Probe) quit(s *smtpSession) {
	_, _, _ = s.cmd(221, "QUIT")
}

func hasExt(ext []string, name string) bool {
	for _, e := range ext {
		if e == name {
			return true
		}
	}
	return false
}
