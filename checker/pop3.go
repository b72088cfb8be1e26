package checker

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// A small POP3 client (RFC 1939, STLS from RFC 2595): what a round trip
// needs and no more. The module proxy serves no maintained POP3 library.

// Limits on what a server may send: RFC 1939 allows 512 octets a
// response line; servers stretch it, a hostile one would not stop.
const (
	pop3MaxLine   = 4096
	pop3MaxList   = 4 << 20  // a UIDL listing: about 50,000 messages
	pop3MaxHeader = 64 << 10 // the header block a TOP returns is cut here
)

var errPOP3LineTooLong = errors.New("response line too long")

// pop3Error is a -ERR reply.
type pop3Error struct{ text string }

func (e *pop3Error) Error() string { return "-ERR " + e.text }

type pop3Msg struct {
	n   int
	uid string // "" when the server has no UIDL
}

// readPOP3Line reads one line, without its CRLF (a bare LF is taken too).
func readPOP3Line(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(b)+len(frag) > pop3MaxLine {
			return "", errPOP3LineTooLong
		}
		b = append(b, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return string(b), nil
}

// parsePOP3Status reads a status line: the text after +OK, or a
// *pop3Error for -ERR.
func parsePOP3Status(line string) (string, error) {
	switch {
	case line == "+OK" || strings.HasPrefix(line, "+OK "):
		return strings.TrimPrefix(strings.TrimPrefix(line, "+OK"), " "), nil
	case line == "-ERR" || strings.HasPrefix(line, "-ERR "):
		return "", &pop3Error{text: clip(strings.TrimPrefix(strings.TrimPrefix(line, "-ERR"), " "), 200)}
	}
	return "", fmt.Errorf("not a POP3 reply: %q", clip(line, 60))
}

// readPOP3Multi reads a multi-line response body up to the line ".",
// undoing the dot-stuffing. Past max bytes it keeps reading, to stay in
// step with the server, but keeps nothing more and says so.
func readPOP3Multi(r *bufio.Reader, max int) (data []byte, cut bool, err error) {
	var buf bytes.Buffer
	for {
		line, err := readPOP3Line(r)
		if err != nil {
			return nil, false, err
		}
		if line == "." {
			return buf.Bytes(), cut, nil
		}
		line = strings.TrimPrefix(line, ".")
		if buf.Len()+len(line)+2 > max {
			cut = true
			continue
		}
		buf.WriteString(line)
		buf.WriteString("\r\n")
	}
}

// parseUIDL reads a UIDL (or, with uids false, LIST) listing: "n uid"
// per line, n from 1, a unique-id of 1 to 70 printable characters.
func parseUIDL(b []byte, uids bool) ([]pop3Msg, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var out []pop3Msg
	for line := range strings.SplitSeq(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			return nil, fmt.Errorf("bad listing line %q", clip(line, 60))
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad message number in %q", clip(line, 60))
		}
		m := pop3Msg{n: n}
		if uids {
			if len(f[1]) > 70 || strings.ContainsFunc(f[1], func(r rune) bool { return r < 0x21 || r > 0x7e }) {
				return nil, fmt.Errorf("bad unique-id in %q", clip(line, 60))
			}
			m.uid = f[1]
		}
		out = append(out, m)
	}
	return out, nil
}

// pop3Conn is one logged-in POP3 connection.
type pop3Conn struct {
	m    *remoteMailbox
	conn net.Conn
	r    *bufio.Reader
	stop func() bool
}

// cmd sends one command and reads its status line. Errors name the verb
// only: PASS's argument is the password.
func (c *pop3Conn) cmd(verb, arg string) (string, error) {
	line := verb
	if arg != "" {
		line += " " + arg
	}
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		return "", fmt.Errorf("%s: %w", verb, err)
	}
	return c.status(verb)
}

func (c *pop3Conn) status(what string) (string, error) {
	l, err := readPOP3Line(c.r)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	text, err := parsePOP3Status(l)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return text, nil
}

func (c *pop3Conn) close() {
	c.conn.Close()
	c.stop()
}

// dialPOP3 connects, secures the connection (pop3s, or STLS: the
// password never travels in clear) and logs in with USER and PASS.
func (p *Probe) dialPOP3(ctx context.Context, m *remoteMailbox) (*pop3Conn, error) {
	conn, stop, err := p.dialMailbox(ctx, m)
	if err != nil {
		return nil, err
	}
	c := &pop3Conn{m: m, conn: conn, stop: stop}
	fail := func(err error) (*pop3Conn, error) {
		c.close()
		return nil, fmt.Errorf("mailbox %s: %w", m.display, err)
	}
	handshake := func() error {
		tc := tls.Client(c.conn, p.mailTLS(m))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		c.conn = tc
		c.r = bufio.NewReader(tc)
		return nil
	}
	if m.implicitTLS {
		if err := handshake(); err != nil {
			return fail(err)
		}
	} else {
		c.r = bufio.NewReader(conn)
	}
	if _, err := c.status("greeting"); err != nil {
		return fail(err)
	}
	if !m.implicitTLS {
		if _, err := c.cmd("STLS", ""); err != nil {
			return fail(fmt.Errorf("no TLS, so the password is not sent: %w", err))
		}
		// RFC 2595: nothing the server sent before STLS may be kept.
		if c.r.Buffered() > 0 {
			return fail(errors.New("STLS: data after the reply"))
		}
		if err := handshake(); err != nil {
			return fail(err)
		}
	}
	if _, err := c.cmd("USER", m.user); err != nil {
		return fail(fmt.Errorf("login as %s: %w", m.user, err))
	}
	if _, err := c.cmd("PASS", m.pass); err != nil {
		return fail(fmt.Errorf("login as %s: %w", m.user, err))
	}
	return c, nil
}

// list is UIDL, or LIST where the server lacks UIDL.
func (c *pop3Conn) list() ([]pop3Msg, error) {
	uids := true
	if _, err := c.cmd("UIDL", ""); err != nil {
		var pe *pop3Error
		if !errors.As(err, &pe) {
			return nil, err
		}
		uids = false
		if _, err := c.cmd("LIST", ""); err != nil {
			return nil, err
		}
	}
	b, cut, err := readPOP3Multi(c.r, pop3MaxList)
	if err != nil {
		return nil, fmt.Errorf("listing: %w", err)
	}
	if cut {
		return nil, errors.New("listing: too many messages for a probe's mailbox")
	}
	return parseUIDL(b, uids)
}

// header is TOP n 0: the header block and the blank line after it.
func (c *pop3Conn) header(n int) ([]byte, error) {
	if _, err := c.cmd("TOP", strconv.Itoa(n)+" 0"); err != nil {
		return nil, err
	}
	b, _, err := readPOP3Multi(c.r, pop3MaxHeader)
	if err != nil {
		return nil, fmt.Errorf("TOP: %w", err)
	}
	return b, nil
}

// pop3Session logs in afresh for every poll: a POP3 server shows the
// mailbox as it was at login, so new mail needs a new session.
type pop3Session struct {
	p      *Probe
	m      *remoteMailbox
	cutoff time.Time
	other  map[string]bool // unique-ids of mail not this check's: read once
}

func (p *Probe) openPOP3(ctx context.Context, m *remoteMailbox, cutoff time.Time) (mailSession, error) {
	s := &pop3Session{p: p, m: m, cutoff: cutoff, other: map[string]bool{}}
	if _, err := s.pass(ctx, ""); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *pop3Session) take(ctx context.Context, token string) (bool, error) {
	return s.pass(ctx, token)
}

func (s *pop3Session) close() {}

// pass is one session: find the message marked token (none when token is
// empty), mark it and this check's stale leftovers for deletion, and
// QUIT, which is when a POP3 server deletes.
func (s *pop3Session) pass(ctx context.Context, token string) (bool, error) {
	c, err := s.p.dialPOP3(ctx, s.m)
	if err != nil {
		return false, err
	}
	defer c.close()
	fail := func(err error) (bool, error) {
		return false, fmt.Errorf("mailbox %s: %w", s.m.display, err)
	}
	msgs, err := c.list()
	if err != nil {
		return fail(err)
	}
	found := false
	var del []int
	for _, msg := range msgs {
		if msg.uid != "" && s.other[msg.uid] {
			continue
		}
		hdr, err := c.header(msg.n)
		if err != nil {
			return fail(err)
		}
		switch classify(hdr, s.m.id, token, s.cutoff) {
		case verdictOurs:
			found = true
			del = append(del, msg.n)
		case verdictStale:
			del = append(del, msg.n)
		case verdictOther:
			if msg.uid != "" {
				s.other[msg.uid] = true
			}
		}
	}
	for _, n := range del {
		if _, err := c.cmd("DELE", strconv.Itoa(n)); err != nil {
			// Found is found: what stays is the next run's leftover.
			return found, fmt.Errorf("mailbox %s: %w", s.m.display, err)
		}
	}
	if _, err := c.cmd("QUIT", ""); err != nil {
		return found, fmt.Errorf("mailbox %s: %w", s.m.display, err)
	}
	return found, nil
}
