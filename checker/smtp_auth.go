package checker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/watchpost/watchpost/config"
)

// smtpAuth is the account an smtp probe logs in with.
type smtpAuth struct {
	user, pass string
}

// roundTrip is where a probe's message goes and where it shows up.
type roundTrip struct {
	from, to, mailbox string
	remote            *remoteMailbox // mailbox is an imap(s):// or pop3(s):// URL
	id                string         // X-Watchpost-Check: this check's messages
}

// compileSMTPExtras reads the optional AUTH and round-trip keys.
func compileSMTPExtras(p *Probe, c config.Check) error {
	if c.Username != "" || c.Password != "" {
		if c.Username == "" || c.Password == "" {
			return errors.New("give username and password together")
		}
		p.smtpAuth = &smtpAuth{user: c.Username, pass: string(c.Password)}
	}
	if c.RoundTripTo != "" || c.RoundTripMailbox != "" {
		if c.RoundTripTo == "" || c.RoundTripMailbox == "" {
			return errors.New("give roundtrip_to and roundtrip_mailbox together")
		}
		rt := &roundTrip{from: c.RoundTripFrom, to: c.RoundTripTo, mailbox: c.RoundTripMailbox, id: checkID(c.Name)}
		remote, err := parseMailboxURL(c.RoundTripMailbox)
		if err != nil {
			return err
		}
		if remote != nil {
			remote.id = rt.id
			rt.remote = remote
		}
		if rt.from == "" {
			// The recipient's own domain: the server takes mail for it,
			// and an IP address is no sender domain.
			_, dom, _ := strings.Cut(rt.to, "@")
			rt.from = "watchpost@" + dom
		}
		for _, a := range []string{rt.from, rt.to} {
			if strings.ContainsAny(a, "<>\r\n \t") || !strings.Contains(a, "@") {
				return fmt.Errorf("bad round-trip address %q", a)
			}
		}
		p.roundTrip = rt
	}
	return nil
}

// login authenticates with PLAIN when offered, else LOGIN. The password
// only ever travels inside TLS.
func (p *Probe) login(s *smtpSession, v map[string]any) error {
	v["auth"] = false
	if t, _ := v["tls"].(bool); !t {
		return fmt.Errorf("AUTH at %s: no TLS, so the password is not sent", p.addr)
	}
	a := p.smtpAuth
	switch {
	case hasExt(s.authMechs, "PLAIN"):
		resp := base64.StdEncoding.EncodeToString([]byte("\x00" + a.user + "\x00" + a.pass))
		if _, _, err := s.cmd(235, "AUTH PLAIN %s", resp); err != nil {
			return fmt.Errorf("AUTH PLAIN as %s at %s: %w", a.user, p.addr, err)
		}
	case hasExt(s.authMechs, "LOGIN"):
		if _, _, err := s.cmd(334, "AUTH LOGIN"); err != nil {
			return fmt.Errorf("AUTH LOGIN at %s: %w", p.addr, err)
		}
		if _, _, err := s.cmd(334, "%s", base64.StdEncoding.EncodeToString([]byte(a.user))); err != nil {
			return fmt.Errorf("AUTH LOGIN as %s at %s: %w", a.user, p.addr, err)
		}
		if _, _, err := s.cmd(235, "%s", base64.StdEncoding.EncodeToString([]byte(a.pass))); err != nil {
			return fmt.Errorf("AUTH LOGIN as %s at %s: %w", a.user, p.addr, err)
		}
	default:
		return fmt.Errorf("AUTH at %s: no PLAIN or LOGIN among the mechanisms offered (%s)", p.addr, strings.Join(s.authMechs, " "))
	}
	v["auth"] = true
	return nil
}

// sendProbe sends one message marked with a fresh token and returns the
// token and when the server accepted it.
func (p *Probe) sendProbe(s *smtpSession, v map[string]any) (string, time.Time, error) {
	rt := p.roundTrip
	var b [12]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	if _, _, err := s.cmd(250, "MAIL FROM:<%s>", rt.from); err != nil {
		return "", time.Time{}, fmt.Errorf("MAIL FROM at %s: %w", p.addr, err)
	}
	if _, _, err := s.cmd(25, "RCPT TO:<%s>", rt.to); err != nil {
		return "", time.Time{}, fmt.Errorf("RCPT TO:<%s> at %s: %w", rt.to, p.addr, err)
	}
	if _, _, err := s.cmd(354, "DATA"); err != nil {
		return "", time.Time{}, fmt.Errorf("DATA at %s: %w", p.addr, err)
	}
	w := s.tp.DotWriter()
	now := p.opts.now()
	fmt.Fprintf(w, "From: <%s>\r\nTo: <%s>\r\nSubject: watchpost round trip %s\r\nDate: %s\r\nMessage-ID: <%s@watchpost>\r\n%s: %s\r\n%s: %s\r\n\r\nA probe of %s by watchpost; it may be deleted.\r\n",
		rt.from, rt.to, token, now.Format(time.RFC1123Z), token, hdrProbe, token, hdrCheck, rt.id, p.Name)
	if err := w.Close(); err != nil {
		return "", time.Time{}, fmt.Errorf("send message to %s: %w", p.addr, err)
	}
	if _, _, err := s.tp.ReadResponse(250); err != nil {
		return "", time.Time{}, fmt.Errorf("message refused by %s: %w", p.addr, err)
	}
	return token, time.Now(), nil
}

// awaitDelivery watches the mailbox, from what it held before the message
// was sent, until the token shows up or ctx ends.
func (p *Probe) awaitDelivery(ctx context.Context, token string, from int64, sent time.Time, v map[string]any) error {
	needle := []byte("X-Watchpost-Probe: " + token)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		found, err := mailboxHas(p.roundTrip.mailbox, from, needle)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read mailbox: %w", err)
		}
		if found {
			v["delivery_time"] = time.Since(sent)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("message to %s not in %s after %s: %w", p.roundTrip.to, p.roundTrip.mailbox, formatDuration(time.Since(sent)), ctx.Err())
		case <-tick.C:
		}
	}
}

// mailboxSize is where new mail will start; a missing mailbox is empty.
func mailboxSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("mailbox: %w", err)
	}
	return fi.Size(), nil
}

// mailboxHas looks for needle after offset; a mailbox emptied meanwhile
// is read from its start.
func mailboxHas(path string, offset int64, needle []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < offset {
		offset = 0
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return false, err
	}
	// A probe's mailbox is small; at most 64 MiB past the offset is read.
	data, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return false, err
	}
	return bytes.Contains(data, needle), nil
}
