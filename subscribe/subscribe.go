// Package subscribe is the status page's email subscriptions: a visitor
// gives an address and, optionally, the public components they care
// about; a confirmation message (double opt-in) carries a signed link;
// once confirmed they get one message when a public incident opens, on
// each public update, when it resolves, and when maintenance is
// announced and starts, each with a signed unsubscribe link. Messages
// are status notices in the same durable outbox as alerts, fanned out
// to one delivery per subscriber (retried with backoff, recorded) and
// sent at a bounded rate. Addresses are personal data: kept only for
// this, listed and removable by the admin, never shown publicly, and
// deleted with everything sent to them on unsubscribing.
package subscribe

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/watchpost/watchpost/uptime"
)

// Subscriber is one address, as the admin sees it.
type Subscriber struct {
	ID          int64     `json:"id"`
	Email       string    `json:"email"`
	Components  []string  `json:"components"` // empty: every public component
	Created     time.Time `json:"created"`
	Confirmed   bool      `json:"confirmed"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
}

// ErrAddress is an address that cannot be subscribed.
var ErrAddress = errors.New("not an email address")

// NormalizeAddress checks a bare address (no display name) and lowers
// its domain.
func NormalizeAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 || strings.ContainsAny(s, "<>\"(),;: \t\r\n\\") {
		return "", ErrAddress
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", ErrAddress
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", ErrAddress
	}
	return local + "@" + strings.ToLower(domain), nil
}

// Store keeps subscribers in the store's database.
type Store struct {
	DB  *sql.DB
	Key []byte // signs the links (32+ bytes)
	// ResendAfter is how long an unconfirmed address waits before another
	// confirmation may be sent to it (1h when 0): a form cannot be used
	// to flood someone's mailbox.
	ResendAfter time.Duration
}

// Purposes of signed links.
const (
	purposeConfirm     = "confirm"
	purposeUnsubscribe = "unsubscribe"
)

// token signs a subscriber's link for one purpose: the id, and an HMAC
// of purpose, id and the subscriber's nonce (a new subscription after
// unsubscribing has a new nonce, so old links die with the old one).
func (s *Store) token(purpose string, id int64, nonce string) string {
	m := hmac.New(sha256.New, s.Key)
	fmt.Fprintf(m, "watchpost subscribe v1\x00%s\x00%d\x00%s", purpose, id, nonce)
	return strconv.FormatInt(id, 36) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// check reads a token for purpose: the subscriber's id when valid.
func (s *Store) check(ctx context.Context, purpose, tok string) (int64, bool, error) {
	idPart, _, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 100 {
		return 0, false, nil
	}
	id, err := strconv.ParseInt(idPart, 36, 64)
	if err != nil || id <= 0 {
		return 0, false, nil
	}
	var nonce string
	err = s.DB.QueryRowContext(ctx, `SELECT nonce FROM subscribers WHERE id = ?`, id).Scan(&nonce)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read subscriber: %w", err)
	}
	return id, hmac.Equal([]byte(tok), []byte(s.token(purpose, id, nonce))), nil
}

func newNonce() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Subscribe records a request to subscribe address to components (none:
// all) and queues its confirmation in the same transaction. Whether the
// address was known is not told (the answer to the visitor is the same
// either way); a confirmed address is left as it is, and an unconfirmed
// one gets at most one confirmation per ResendAfter.
func (s *Store) Subscribe(ctx context.Context, address string, components []string, now time.Time) error {
	addr, err := NormalizeAddress(address)
	if err != nil {
		return err
	}
	comps := slices.Clone(components)
	slices.Sort(comps)
	comps = slices.Compact(comps)
	if comps == nil {
		comps = []string{}
	}
	cj, _ := json.Marshal(comps)
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	defer tx.Rollback()
	var id int64
	var confirmed, sent sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT id, confirmed, confirm_sent FROM subscribers WHERE email = ?`, addr).Scan(&id, &confirmed, &sent)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res, err := tx.ExecContext(ctx, `INSERT INTO subscribers(email, components, created, nonce) VALUES(?,?,?,?)`,
			addr, string(cj), now.UnixNano(), newNonce())
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		id, _ = res.LastInsertId()
	case err != nil:
		return fmt.Errorf("subscribe: %w", err)
	case confirmed.Valid:
		// Already subscribed: nothing changes, so that a stranger who
		// knows the address cannot change what its owner gets (to change
		// components, unsubscribe and subscribe again).
		return nil
	default:
		wait := s.ResendAfter
		if wait == 0 {
			wait = time.Hour
		}
		if sent.Valid && now.Sub(time.Unix(0, sent.Int64)) < wait {
			return nil // one confirmation per hour at most
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET components = ? WHERE id = ?`, string(cj), id); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET confirm_sent = ? WHERE id = ?`, now.UnixNano(), id); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	p, _ := json.Marshal(map[string]any{"event": EventConfirm, "subscriber": id})
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), uptime.KindStatusNotice, string(p)); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	return tx.Commit()
}

// EventConfirm is the status notice asking one address to confirm.
const EventConfirm = "confirm"

// Confirm confirms the subscription a confirmation link names; ok is
// false for a link that is not (or no longer) valid.
func (s *Store) Confirm(ctx context.Context, tok string, now time.Time) (bool, error) {
	id, ok, err := s.check(ctx, purposeConfirm, tok)
	if err != nil || !ok {
		return false, err
	}
	if _, err := s.DB.ExecContext(ctx, `UPDATE subscribers SET confirmed = coalesce(confirmed, ?) WHERE id = ?`, now.UnixNano(), id); err != nil {
		return false, fmt.Errorf("confirm: %w", err)
	}
	return true, nil
}

// Unsubscribe deletes the subscriber an unsubscribe link names, with
// whatever was still to be sent to them; ok is false for a link that is
// not (or no longer) valid.
func (s *Store) Unsubscribe(ctx context.Context, tok string) (bool, error) {
	id, ok, err := s.check(ctx, purposeUnsubscribe, tok)
	if err != nil || !ok {
		return false, err
	}
	return s.Remove(ctx, id)
}

// Remove deletes a subscriber (the admin's "remove").
func (s *Store) Remove(ctx context.Context, id int64) (bool, error) {
	res, err := s.DB.ExecContext(ctx, `DELETE FROM subscribers WHERE id = ?`, id)
	if err != nil {
		return false, fmt.Errorf("remove subscriber: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// List returns every subscriber, newest first.
func (s *Store) List(ctx context.Context) ([]Subscriber, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, email, components, created, confirmed FROM subscribers ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list subscribers: %w", err)
	}
	defer rows.Close()
	out := []Subscriber{}
	for rows.Next() {
		var sub Subscriber
		var comps string
		var created int64
		var confirmed sql.NullInt64
		if err := rows.Scan(&sub.ID, &sub.Email, &comps, &created, &confirmed); err != nil {
			return nil, fmt.Errorf("list subscribers: %w", err)
		}
		json.Unmarshal([]byte(comps), &sub.Components)
		if sub.Components == nil {
			sub.Components = []string{}
		}
		sub.Created = time.Unix(0, created).UTC()
		if confirmed.Valid {
			sub.Confirmed, sub.ConfirmedAt = true, time.Unix(0, confirmed.Int64).UTC()
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}
