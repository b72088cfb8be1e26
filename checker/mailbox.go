package checker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"
)

// The headers sendProbe sets: the first marks one message, the second
// every message of one check, so leftovers can be told from other mail.
const (
	hdrProbe = "X-Watchpost-Probe"
	hdrCheck = "X-Watchpost-Check"
)

// remoteMailbox is a round-trip mailbox read over IMAP or POP3 rather
// than from a local mbox file.
type remoteMailbox struct {
	proto       string // "imap" or "pop3"
	implicitTLS bool   // imaps, pop3s; otherwise STARTTLS / STLS, required
	host, addr  string
	user, pass  string
	box         string // IMAP mailbox name
	id          string // the check's X-Watchpost-Check
	display     string // the URL without its query, for messages
}

// mailSession is a logged-in mailbox reader for one probe run.
type mailSession interface {
	// take reports whether the message marked token is there, and
	// deletes it (and this check's stale leftovers) when it is.
	take(ctx context.Context, token string) (bool, error)
	close()
}

// parseMailboxURL reads roundtrip_mailbox when it is a URL:
// imaps://user@host[:993]/INBOX, imap://... (STARTTLS on 143),
// pop3s://user@host[:995], pop3://... (STLS on 110), each with
// ?password_file=FILE. A plain path is an mbox file and returns nil.
func parseMailboxURL(s string) (*remoteMailbox, error) {
	if !strings.Contains(s, "://") {
		return nil, nil
	}
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		// url's error repeats the whole URL; it holds no password (one
		// in the URL is refused below), but keep the message short.
		return nil, errors.New("roundtrip_mailbox: not a URL")
	}
	m := &remoteMailbox{}
	var port string
	switch strings.ToLower(u.Scheme) {
	case "imaps":
		m.proto, m.implicitTLS, port = "imap", true, "993"
	case "imap":
		m.proto, port = "imap", "143"
	case "pop3s":
		m.proto, m.implicitTLS, port = "pop3", true, "995"
	case "pop3":
		m.proto, port = "pop3", "110"
	default:
		return nil, fmt.Errorf("roundtrip_mailbox: scheme %q: want imaps://, imap://, pop3s://, pop3:// or the path of an mbox file", u.Scheme)
	}
	if u.User == nil || u.User.Username() == "" {
		return nil, fmt.Errorf("roundtrip_mailbox: name the account, as in %s://USER@host/", u.Scheme)
	}
	if _, ok := u.User.Password(); ok {
		return nil, errors.New("roundtrip_mailbox: no password in the URL; put it in a file named by ?password_file=")
	}
	m.user = u.User.Username()
	if strings.ContainsFunc(m.user, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("roundtrip_mailbox: bad user name")
	}
	if u.Hostname() == "" {
		return nil, errors.New("roundtrip_mailbox: no host")
	}
	host, p, err := splitHostPort(u.Host, port)
	if err != nil {
		return nil, fmt.Errorf("roundtrip_mailbox: %w", err)
	}
	m.host, m.addr = host, net.JoinHostPort(host, p)
	box := strings.TrimPrefix(u.Path, "/")
	switch {
	case m.proto == "pop3" && box != "":
		return nil, fmt.Errorf("roundtrip_mailbox: POP3 has one mailbox; drop %q", u.Path)
	case m.proto == "imap" && box == "":
		box = "INBOX"
	case strings.ContainsAny(box, "\r\n\x00"):
		return nil, errors.New("roundtrip_mailbox: bad mailbox name")
	}
	m.box = box
	q := u.Query()
	for k := range q {
		if k != "password_file" {
			return nil, fmt.Errorf("roundtrip_mailbox: unknown parameter %q (want password_file)", k)
		}
	}
	pf := q.Get("password_file")
	if pf == "" {
		return nil, errors.New("roundtrip_mailbox: give the account's password as ?password_file=FILE")
	}
	b, err := os.ReadFile(pf)
	if err != nil {
		return nil, fmt.Errorf("roundtrip_mailbox: password_file: %w", err)
	}
	m.pass = strings.TrimRight(string(b), "\r\n")
	if m.pass == "" || strings.ContainsAny(m.pass, "\r\n") {
		return nil, fmt.Errorf("roundtrip_mailbox: password_file %s: want one line, the password", pf)
	}
	m.display = (&url.URL{Scheme: strings.ToLower(u.Scheme), User: url.User(m.user), Host: m.addr, Path: u.Path}).String()
	return m, nil
}

// checkID marks a check's probe messages; the name itself may hold any
// character, and a header wants a token.
func checkID(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:8])
}

// verdict is what a probe makes of a message in the mailbox.
type verdict int

const (
	verdictOther verdict = iota // not this check's: never touched
	verdictOurs                 // the message this run is waiting for
	verdictStale                // this check's, sent before cutoff: a run that gave up
	verdictFresh                // this check's, recent: maybe another loghost's run in flight
)

// classify reads a message's header block (as far as it goes; a TOP or
// FETCH may cut it) and says whose it is. Malformed headers are someone
// else's message, never an error.
func classify(hdr []byte, id, token string, cutoff time.Time) verdict {
	r := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(hdr), strings.NewReader("\r\n\r\n"))))
	h, err := r.ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return verdictOther
	}
	if strings.TrimSpace(h.Get(hdrCheck)) != id {
		return verdictOther
	}
	if token != "" && strings.TrimSpace(h.Get(hdrProbe)) == token {
		return verdictOurs
	}
	d, err := mail.ParseDate(h.Get("Date"))
	if err != nil || d.Before(cutoff) {
		// An undated message of this check can only be a leftover.
		return verdictStale
	}
	return verdictFresh
}

// mailTLS is the TLS client configuration for the mailbox host: the
// check's trust settings (tls_ca_file, tls_skip_verify) with the
// mailbox's own name, since tls_server_name is the SMTP server's.
func (p *Probe) mailTLS(m *remoteMailbox) *tls.Config {
	c := p.tlsConfig(m.host)
	c.ServerName = m.host
	return c
}

// dialMailbox connects to the mailbox server, bounded by ctx: its deadline
// on the connection, and a close when it is cancelled. The returned stop
// must be called before the connection is closed.
func (p *Probe) dialMailbox(ctx context.Context, m *remoteMailbox) (net.Conn, func() bool, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, p.opts.network(), m.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("mailbox %s: connect: %w", m.display, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	return conn, stop, nil
}

// openMailbox logs in before the message is sent: a wrong password then
// fails the probe at once instead of leaving one more message behind.
func (p *Probe) openMailbox(ctx context.Context) (mailSession, error) {
	m := p.roundTrip.remote
	cutoff := p.opts.now().Add(-p.Timeout)
	switch m.proto {
	case "imap":
		return p.openIMAP(ctx, m, cutoff)
	default:
		return p.openPOP3(ctx, m, cutoff)
	}
}

// awaitRemote polls the mailbox until the message marked token is there
// or ctx ends. Polls start 50 ms apart and slow to 1 s: a loopback
// delivery is timed closely, and a slow one costs few logins.
func (p *Probe) awaitRemote(ctx context.Context, s mailSession, token string, sent time.Time, v map[string]any) error {
	defer s.close()
	m := p.roundTrip.remote
	wait := 50 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("message to %s not in %s after %s: %w", p.roundTrip.to, m.display, formatDuration(time.Since(sent)), ctx.Err())
		case <-timer.C:
		}
		found, err := s.take(ctx, token)
		if found {
			v["delivery_time"] = time.Since(sent)
			return nil
		}
		if err != nil {
			// The connection's deadline is the context's: a read cut by
			// it can return before ctx says Done, and is the same end.
			if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
				cause := ctx.Err()
				if cause == nil {
					cause = context.DeadlineExceeded
				}
				return fmt.Errorf("message to %s not in %s after %s: %w", p.roundTrip.to, m.display, formatDuration(time.Since(sent)), cause)
			}
			return err
		}
		timer.Reset(wait)
		wait = min(wait*3/2, time.Second)
	}
}
