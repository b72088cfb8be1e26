package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Sessions are stateless signed cookies, so they survive a restart as
// long as the session key does. The cookie holds
//
//	version(1) issued(8) expires(8) id(16) bind(16) user(...) | HMAC-SHA256(32)
//
// bind is a MAC of the user's password hash: changing the password (or
// the key) ends every session of that user. Logout puts the id in a
// revocation set until the session would have expired; with a
// RevocationStore (the loghost's store) the set is written there too and
// read back on start, so a cookie copied before logout stays dead across
// a restart. Rotating the session key or the user's password ends
// sessions for good.
type session struct {
	user    string
	issued  time.Time
	expires time.Time
	id      [idLen]byte
	bind    [bindLen]byte
}

const (
	sessionVersion = 1
	idLen          = 16
	bindLen        = 16
	macLen         = sha256.Size
	headerLen      = 1 + 8 + 8 + idLen + bindLen
	maxUserName    = 128
	// maxCookieLen bounds the work done on a hostile cookie.
	maxCookieLen = 512
	// clockSkew tolerates a clock stepped back a little since issue.
	clockSkew = time.Minute
)

var b64 = base64.RawURLEncoding

// decodeB64 decodes a cookie value, refusing CR and LF, which Go's
// base64 skips: one value must have one spelling.
func decodeB64(v string) ([]byte, error) {
	if strings.ContainsAny(v, "\r\n") {
		return nil, errNotCanonical
	}
	return b64.DecodeString(v)
}

var errNotCanonical = errors.New("line breaks in a base64 value")

func encodeSession(key []byte, s *session) string {
	buf := make([]byte, 0, headerLen+len(s.user)+macLen)
	buf = append(buf, sessionVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(s.issued.Unix()))
	buf = binary.BigEndian.AppendUint64(buf, uint64(s.expires.Unix()))
	buf = append(buf, s.id[:]...)
	buf = append(buf, s.bind[:]...)
	buf = append(buf, s.user...)
	m := hmac.New(sha256.New, key)
	m.Write(buf)
	buf = m.Sum(buf)
	return b64.EncodeToString(buf)
}

// decodeSession checks the signature and layout only; validity against
// the clock and the users is sessionValid's job.
func decodeSession(key []byte, v string) (*session, bool) {
	if len(v) > maxCookieLen {
		return nil, false
	}
	raw, err := decodeB64(v)
	if err != nil || len(raw) < headerLen+1+macLen {
		return nil, false
	}
	body, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	m := hmac.New(sha256.New, key)
	m.Write(body)
	if !hmac.Equal(sum, m.Sum(nil)) || body[0] != sessionVersion {
		return nil, false
	}
	s := &session{
		issued:  time.Unix(int64(binary.BigEndian.Uint64(body[1:9])), 0),
		expires: time.Unix(int64(binary.BigEndian.Uint64(body[9:17])), 0),
		user:    string(body[headerLen:]),
	}
	copy(s.id[:], body[17:17+idLen])
	copy(s.bind[:], body[17+idLen:headerLen])
	return s, true
}

func passwordBind(macKey []byte, user, hash string) [bindLen]byte {
	m := hmac.New(sha256.New, macKey)
	m.Write([]byte("password\x00"))
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(hash))
	var b [bindLen]byte
	copy(b[:], m.Sum(nil))
	return b
}

// sessionFromRequest returns the request's session if it is valid now.
func (a *Auth) sessionFromRequest(st *authState, r *http.Request) (*session, bool) {
	c, err := r.Cookie(sessionCookieName(st))
	if err != nil {
		return nil, false
	}
	s, ok := decodeSession(st.macKey, c.Value)
	if !ok {
		return nil, false
	}
	now := a.now()
	if !now.Before(s.expires) || !now.Before(s.issued.Add(st.ttl)) || s.issued.After(now.Add(clockSkew)) {
		return nil, false
	}
	u, ok := st.users[s.user]
	if !ok || !hmac.Equal(u.bind[:], s.bind[:]) {
		return nil, false
	}
	if a.revoked.has(s.id, now) {
		return nil, false
	}
	return s, true
}

func (a *Auth) newSession(st *authState, u *userEntry) *session {
	now := a.now()
	s := &session{user: u.name, issued: now, expires: now.Add(st.ttl), bind: u.bind}
	copy(s.id[:], randomBytes(idLen))
	return s
}

func sessionCookieName(st *authState) string {
	if st.secure {
		// __Host- cookies cannot be set by a sibling subdomain or over
		// plain HTTP.
		return "__Host-wp_session"
	}
	return "wp_session"
}

func loginCookieName(st *authState) string {
	if st.secure {
		return "__Host-wp_login"
	}
	return "wp_login"
}

func sessionCookie(st *authState, s *session, value string) *http.Cookie {
	return &http.Cookie{
		Name: sessionCookieName(st), Value: value, Path: "/",
		Expires: s.expires, MaxAge: int(s.expires.Sub(s.issued) / time.Second),
		HttpOnly: true, Secure: st.secure, SameSite: http.SameSiteStrictMode,
	}
}

func clearCookie(st *authState, name string) *http.Cookie {
	return &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: st.secure, SameSite: http.SameSiteStrictMode}
}

// sessionCSRF is the session's CSRF token: derived, so it needs no
// storage, and bound to the session id, so it dies with the session.
func sessionCSRF(st *authState, s *session) string {
	m := hmac.New(sha256.New, st.csrfKey)
	m.Write([]byte("session\x00"))
	m.Write(s.id[:])
	return b64.EncodeToString(m.Sum(nil))
}

// The login form has no session yet, so its CSRF token is a signed double
// submit: a random nonce in a cookie, and the form carries the nonce's MAC.
// Signing it means a cookie planted by a sibling subdomain is useless
// without the key.
func loginCSRF(st *authState, nonce string) string {
	m := hmac.New(sha256.New, st.csrfKey)
	m.Write([]byte("login\x00"))
	m.Write([]byte(nonce))
	return b64.EncodeToString(m.Sum(nil))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(b)
	return b
}

// RevocationStore keeps logged-out session ids across restarts.
type RevocationStore interface {
	// Revoke records id as signed out until expires, and may forget the
	// ids whose expiry is before now.
	Revoke(ctx context.Context, id []byte, expires, now time.Time) error
	// Revoked returns the ids still signed out at now.
	Revoked(ctx context.Context, now time.Time) (map[[idLen]byte]time.Time, error)
}

// SQLRevocations is a RevocationStore in the loghost's database (table
// revoked_sessions).
type SQLRevocations struct{ DB *sql.DB }

func (s SQLRevocations) Revoke(ctx context.Context, id []byte, expires, now time.Time) error {
	if _, err := s.DB.ExecContext(ctx, `DELETE FROM revoked_sessions WHERE expires < ?`, now.Unix()); err != nil {
		return fmt.Errorf("prune signed-out sessions: %w", err)
	}
	if _, err := s.DB.ExecContext(ctx, `INSERT OR REPLACE INTO revoked_sessions(id, expires) VALUES(?, ?)`, id, expires.Unix()); err != nil {
		return fmt.Errorf("record signed-out session: %w", err)
	}
	return nil
}

func (s SQLRevocations) Revoked(ctx context.Context, now time.Time) (map[[idLen]byte]time.Time, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, expires FROM revoked_sessions WHERE expires >= ?`, now.Unix())
	if err != nil {
		return nil, fmt.Errorf("read signed-out sessions: %w", err)
	}
	defer rows.Close()
	m := map[[idLen]byte]time.Time{}
	for rows.Next() {
		var id []byte
		var exp int64
		if err := rows.Scan(&id, &exp); err != nil {
			return nil, fmt.Errorf("read signed-out sessions: %w", err)
		}
		var k [idLen]byte
		if len(id) == len(k) {
			copy(k[:], id)
			m[k] = time.Unix(exp, 0)
		}
	}
	return m, rows.Err()
}

// revocations holds logged-out session ids until they would expire.
type revocations struct {
	mu sync.Mutex
	m  map[[idLen]byte]time.Time
}

func newRevocations() *revocations {
	return &revocations{m: map[[idLen]byte]time.Time{}}
}

// load adds ids read back from a RevocationStore.
func (rv *revocations) load(m map[[idLen]byte]time.Time) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	for k, v := range m {
		rv.m[k] = v
	}
}

func (rv *revocations) add(id [idLen]byte, expires, now time.Time) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	// Logouts are rare, so pruning on each one keeps the set at the
	// number of sessions logged out within one TTL.
	for k, exp := range rv.m {
		if !now.Before(exp) {
			delete(rv.m, k)
		}
	}
	rv.m[id] = expires
}

func (rv *revocations) has(id [idLen]byte, now time.Time) bool {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	exp, ok := rv.m[id]
	return ok && now.Before(exp)
}

func (rv *revocations) len() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return len(rv.m)
}

func hmacEqualString(a, b string) bool {
	return hmac.Equal([]byte(a), []byte(b))
}
