//go:build !agent

package checker

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapSession keeps one IMAP connection, logged in and with the mailbox
// selected, for the whole wait: a NOOP per poll lets the server report
// what was delivered meanwhile.
type imapSession struct {
	m    *remoteMailbox
	c    *imapclient.Client
	conn net.Conn
	stop func() bool
}

func (p *Probe) openIMAP(ctx context.Context, m *remoteMailbox, cutoff time.Time) (mailSession, error) {
	conn, stop, err := p.dialMailbox(ctx, m)
	if err != nil {
		return nil, err
	}
	s := &imapSession{m: m, conn: conn, stop: stop}
	fail := func(what string, err error) (mailSession, error) {
		s.close()
		return nil, fmt.Errorf("mailbox %s: %s: %w", m.display, what, err)
	}
	opts := &imapclient.Options{TLSConfig: p.mailTLS(m)}
	if m.implicitTLS {
		tc := tls.Client(conn, opts.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("TLS handshake", err)
		}
		s.conn = tc
		s.c = imapclient.New(tc, opts)
	} else {
		// NewStartTLS fails unless the server takes STARTTLS: the
		// password is never sent in clear.
		c, err := imapclient.NewStartTLS(conn, opts)
		if err != nil {
			stop()
			return nil, fmt.Errorf("mailbox %s: STARTTLS: %w", m.display, err)
		}
		s.c = c
	}
	if err := s.c.WaitGreeting(); err != nil {
		return fail("greeting", err)
	}
	if err := s.c.Login(m.user, m.pass).Wait(); err != nil {
		return fail("login as "+m.user, err)
	}
	if _, err := s.c.Select(m.box, nil).Wait(); err != nil {
		return fail("select "+m.box, err)
	}
	if err := s.sweep(cutoff); err != nil {
		return fail("delete leftovers", err)
	}
	return s, nil
}

// sweep deletes this check's messages sent before cutoff: those of runs
// that gave up before their message came.
func (s *imapSession) sweep(cutoff time.Time) error {
	id := s.m.id
	data, err := s.c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: hdrCheck, Value: id}}}, nil).Wait()
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	uids := data.AllUIDs()
	if len(uids) == 0 {
		return nil
	}
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{hdrCheck, hdrProbe, "Date"}, Peek: true}
	msgs, err := s.c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	var stale []imap.UID
	for _, msg := range msgs {
		if classify(msg.FindBodySection(section), id, "", cutoff) == verdictStale {
			stale = append(stale, msg.UID)
		}
	}
	return s.delete(stale)
}

func (s *imapSession) take(ctx context.Context, token string) (bool, error) {
	if err := s.c.Noop().Wait(); err != nil {
		return false, fmt.Errorf("mailbox %s: NOOP: %w", s.m.display, err)
	}
	data, err := s.c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: hdrProbe, Value: token}}}, nil).Wait()
	if err != nil {
		return false, fmt.Errorf("mailbox %s: search: %w", s.m.display, err)
	}
	uids := data.AllUIDs()
	if len(uids) == 0 {
		return false, nil
	}
	// Found: a failed delete leaves the message for the next run's
	// sweep, and does not undo the delivery.
	_ = s.delete(uids)
	return true, nil
}

// delete flags the messages deleted and expunges just them where the
// server can (UIDPLUS, IMAP4rev2); otherwise EXPUNGE removes every
// message flagged deleted, which in a probe's own mailbox is the same.
func (s *imapSession) delete(uids []imap.UID) error {
	if len(uids) == 0 {
		return nil
	}
	set := imap.UIDSetNum(uids...)
	if err := s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return fmt.Errorf("store \\Deleted: %w", err)
	}
	caps := s.c.Caps()
	var err error
	if caps.Has(imap.CapUIDPlus) || caps.Has(imap.CapIMAP4rev2) {
		err = s.c.UIDExpunge(set).Close()
	} else {
		err = s.c.Expunge().Close()
	}
	if err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	return nil
}

func (s *imapSession) close() {
	if s.c != nil {
		// LOGOUT is a courtesy: bounded, and never in the way of the
		// result.
		_ = s.conn.SetDeadline(time.Now().Add(time.Second))
		_ = s.c.Logout().Wait()
		_ = s.c.Close()
	} else if s.conn != nil {
		s.conn.Close()
	}
	s.stop()
}
