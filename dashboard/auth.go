package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/internal/logevery"
	"golang.org/x/crypto/bcrypt"
)

// User is an admin who signs in to /admin/ with a password.
type User struct {
	Name string
	// PasswordHash is a bcrypt hash (see HashPassword).
	PasswordHash string
}

// AuthConfig is what the loghost's configuration says about admins.
type AuthConfig struct {
	// AdminTokens are accepted as "Authorization: Bearer" on the API; more
	// than one so a token can be rotated.
	AdminTokens []string
	Users       []User
	// SessionKey signs session cookies and CSRF tokens. It must be 32+
	// random bytes kept in the data directory: sessions survive a restart
	// only as long as the key does, and rotating it signs everyone out.
	SessionKey []byte
	// SecureCookies marks cookies Secure (and uses the __Host- prefix);
	// set it when serving TLS. Cookies are HttpOnly and SameSite=Strict
	// either way.
	SecureCookies bool
	// SessionTTL is how long a login lasts; 12h when zero. Lowering it on
	// reload shortens sessions already issued.
	SessionTTL time.Duration
	// Revocations, when set, keeps logouts across restarts (read at
	// NewAuth; a later change of this field is ignored).
	Revocations RevocationStore
}

const (
	defaultSessionTTL = 12 * time.Hour
	minSessionKey     = 32
	// tokenPrincipal names requests authenticated by an admin token, in
	// logs and PrincipalFrom.
	tokenPrincipal = "admin-token"
)

// Auth authenticates admins: API tokens, password logins, sessions and
// CSRF tokens. It is safe for concurrent use; Update swaps the
// configuration without disturbing requests in flight.
type Auth struct {
	state atomic.Pointer[authState]
	now   func() time.Time
	log   *slog.Logger
	// equal compares token digests; it is subtle.ConstantTimeCompare,
	// a field only so a test can prove every token is compared.
	equal func(a, b []byte) int

	revoked *revocations
	persist RevocationStore // nil: logouts are kept in memory only
	// Failed logins slow down the address they come from, and the
	// address and name together; never the name alone.
	addrLimit  *backoff
	pairLimit  *backoff
	refusedLog *logevery.Limiter

	dummyMu sync.Mutex
	dummies map[int][]byte // by bcrypt cost

	m authMetrics
}

type authMetrics struct {
	loginOK, loginFailed, loginLimited, loginCSRF *metrics.Counter
	apiMissing, apiBadToken, apiCSRF, uiCSRF      *metrics.Counter
}

// authState is one configuration, immutable once published.
type authState struct {
	tokens  [][sha256.Size]byte // digests, so comparisons take the same time whatever the length
	users   map[string]*userEntry
	macKey  []byte // signs session cookies
	csrfKey []byte // derives CSRF tokens
	secure  bool
	ttl     time.Duration
	// dummy is compared against when the user is unknown, so a login
	// takes as long whether or not the name exists.
	dummy []byte
}

type userEntry struct {
	name string
	hash []byte
	// bind ties sessions to this password hash: a new password ends them.
	bind [bindLen]byte
}

// Failed logins: an address and user name may fail pairFree times, an
// address (whatever names it tries) addrFree times, before each further
// attempt waits loginBase, doubling up to loginMaxWait. Failures are
// forgotten after loginForget without an attempt.
const (
	pairFree        = 3
	addrFree        = 10
	loginBase       = 2 * time.Second
	loginMaxWait    = 15 * time.Minute
	loginForget     = time.Hour
	limiterCapacity = 10000
)

// NewAuth checks cfg and builds an Auth. now is the clock for sessions
// and rate limits; set receives the auth metrics.
func NewAuth(cfg AuthConfig, now func() time.Time, set *metrics.Set, logger *slog.Logger) (*Auth, error) {
	if now == nil {
		now = time.Now
	}
	if set == nil {
		set = metrics.NewSet()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &Auth{
		now:        now,
		log:        logger,
		equal:      subtle.ConstantTimeCompare,
		revoked:    newRevocations(),
		addrLimit:  newBackoff(addrFree, loginBase, loginMaxWait, loginForget, limiterCapacity),
		pairLimit:  newBackoff(pairFree, loginBase, loginMaxWait, loginForget, limiterCapacity),
		refusedLog: logevery.New(time.Minute, limiterCapacity),
		dummies:    map[int][]byte{},
	}
	a.m = authMetrics{
		loginOK:      set.NewCounter(`watchpost_admin_logins_total{result="success"}`),
		loginFailed:  set.NewCounter(`watchpost_admin_logins_total{result="failure"}`),
		loginLimited: set.NewCounter(`watchpost_admin_logins_total{result="rate_limited"}`),
		loginCSRF:    set.NewCounter(`watchpost_admin_logins_total{result="csrf"}`),
		apiMissing:   set.NewCounter(`watchpost_admin_auth_failures_total{reason="missing"}`),
		apiBadToken:  set.NewCounter(`watchpost_admin_auth_failures_total{reason="bad_token"}`),
		apiCSRF:      set.NewCounter(`watchpost_admin_auth_failures_total{reason="csrf"}`),
		uiCSRF:       set.NewCounter(`watchpost_admin_auth_failures_total{reason="ui_csrf"}`),
	}
	st, err := a.build(cfg)
	if err != nil {
		return nil, fmt.Errorf("admin auth: %w", err)
	}
	a.state.Store(st)
	if cfg.Revocations != nil {
		m, err := cfg.Revocations.Revoked(context.Background(), now())
		if err != nil {
			return nil, fmt.Errorf("admin auth: %w", err)
		}
		a.revoked.load(m)
		a.persist = cfg.Revocations
	}
	return a, nil
}

// Update swaps in a new configuration (tokens, users, TTL, key) for the
// requests that follow. An invalid cfg is refused and the old one kept.
// Sessions of removed users, or users whose password changed, end.
func (a *Auth) Update(cfg AuthConfig) error {
	st, err := a.build(cfg)
	if err != nil {
		a.log.Error("admin auth: keeping the old configuration", "err", err)
		return fmt.Errorf("admin auth: %w", err)
	}
	a.state.Store(st)
	return nil
}

func (a *Auth) build(cfg AuthConfig) (*authState, error) {
	if len(cfg.SessionKey) < minSessionKey {
		return nil, fmt.Errorf("session key has %d bytes, want at least %d", len(cfg.SessionKey), minSessionKey)
	}
	st := &authState{
		users:   make(map[string]*userEntry, len(cfg.Users)),
		macKey:  derive(cfg.SessionKey, "watchpost session mac v1"),
		csrfKey: derive(cfg.SessionKey, "watchpost csrf v1"),
		secure:  cfg.SecureCookies,
		ttl:     cfg.SessionTTL,
	}
	if st.ttl <= 0 {
		st.ttl = defaultSessionTTL
	}
	for i, t := range cfg.AdminTokens {
		if t == "" {
			// An empty token would let "Authorization: Bearer " in.
			return nil, fmt.Errorf("admin token %d is empty", i+1)
		}
		st.tokens = append(st.tokens, sha256.Sum256([]byte(t)))
	}
	maxCost := bcrypt.MinCost
	for _, u := range cfg.Users {
		if u.Name == "" || len(u.Name) > maxUserName {
			return nil, fmt.Errorf("user name %q: want 1 to %d bytes", u.Name, maxUserName)
		}
		if _, dup := st.users[u.Name]; dup {
			return nil, fmt.Errorf("user %q is listed twice", u.Name)
		}
		cost, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil {
			return nil, fmt.Errorf("user %q: password hash: %w", u.Name, err)
		}
		maxCost = max(maxCost, cost)
		e := &userEntry{name: u.Name, hash: []byte(u.PasswordHash)}
		e.bind = passwordBind(st.macKey, u.Name, u.PasswordHash)
		st.users[u.Name] = e
	}
	dummy, err := a.dummyHash(maxCost)
	if err != nil {
		return nil, err
	}
	st.dummy = dummy
	return st, nil
}

// dummyHash returns a hash of a random password at cost, cached: making
// one takes as long as a login.
func (a *Auth) dummyHash(cost int) ([]byte, error) {
	a.dummyMu.Lock()
	defer a.dummyMu.Unlock()
	if h, ok := a.dummies[cost]; ok {
		return h, nil
	}
	h, err := bcrypt.GenerateFromPassword(randomBytes(32), cost)
	if err != nil {
		return nil, fmt.Errorf("dummy hash: %w", err)
	}
	a.dummies[cost] = h
	return h, nil
}

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// principal is who a request runs as.
type principal struct {
	name    string
	session *session // nil for an admin token
	csrf    string
}

type ctxKey struct{}

// PrincipalFrom returns the authenticated admin of a request that passed
// API or UI: a user name, or "admin-token" for the bearer token.
func PrincipalFrom(ctx context.Context) (name string, ok bool) {
	p, ok := ctx.Value(ctxKey{}).(*principal)
	if !ok {
		return "", false
	}
	return p.name, true
}

// CSRFToken is the token forms must send back (field "csrf") for a
// request that passed UI or API with a session; "" otherwise.
func CSRFToken(r *http.Request) string {
	p, ok := r.Context().Value(ctxKey{}).(*principal)
	if !ok {
		return ""
	}
	return p.csrf
}

func withPrincipal(r *http.Request, p *principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
}

// API admits a request with a configured admin token as
// "Authorization: Bearer", or with a session cookie; with a cookie, unsafe
// methods also need the CSRF token (header X-CSRF-Token or form field
// csrf). A bearer token needs no CSRF token: browsers never add it on
// their own.
func (a *Auth) API(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := a.state.Load()
		if h := r.Header.Get("Authorization"); h != "" {
			tok, ok := bearerToken(h)
			if !ok || !a.tokenValid(st, tok) {
				a.m.apiBadToken.Inc()
				w.Header().Set("WWW-Authenticate", `Bearer realm="watchpost", error="invalid_token"`)
				WriteError(w, http.StatusUnauthorized, "invalid admin token")
				return
			}
			next.ServeHTTP(w, withPrincipal(r, &principal{name: tokenPrincipal}))
			return
		}
		s, ok := a.sessionFromRequest(st, r)
		if !ok {
			a.m.apiMissing.Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="watchpost"`)
			WriteError(w, http.StatusUnauthorized, "authentication required: an admin token (Authorization: Bearer) or an admin session")
			return
		}
		p := &principal{name: s.user, session: s, csrf: sessionCSRF(st, s)}
		if !safeMethod(r.Method) && !csrfValid(r, p.csrf) {
			a.m.apiCSRF.Inc()
			WriteError(w, http.StatusForbidden, "missing or invalid CSRF token (header X-CSRF-Token)")
			return
		}
		next.ServeHTTP(w, withPrincipal(r, p))
	})
}

// UI admits a request with a valid session; others are sent to the login
// page, which brings them back (GET only) once signed in. Unsafe methods
// need the CSRF token.
func (a *Auth) UI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := a.state.Load()
		s, ok := a.sessionFromRequest(st, r)
		if !ok {
			if _, err := r.Cookie(sessionCookieName(st)); err == nil {
				http.SetCookie(w, clearCookie(st, sessionCookieName(st)))
			}
			target := loginPath
			if safeMethod(r.Method) {
				if next := r.URL.RequestURI(); localPath(next) {
					target += "?next=" + url.QueryEscape(next)
				}
			}
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		p := &principal{name: s.user, session: s, csrf: sessionCSRF(st, s)}
		if !safeMethod(r.Method) && !csrfValid(r, p.csrf) {
			a.m.uiCSRF.Inc()
			http.Error(w, "Missing or invalid CSRF token: reload the page and try again.", http.StatusForbidden)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, withPrincipal(r, p))
	})
}

func (a *Auth) tokenValid(st *authState, tok string) bool {
	d := sha256.Sum256([]byte(tok))
	match := 0
	// No early exit: the time taken must not say which token matched.
	for i := range st.tokens {
		match |= a.equal(d[:], st.tokens[i][:])
	}
	return match == 1
}

func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func csrfValid(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		// Only form bodies are parsed: a JSON API body stays unread.
		if ct := r.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/x-www-form-urlencoded") ||
			strings.HasPrefix(ct, "multipart/form-data") {
			got = r.PostFormValue("csrf")
		}
	}
	return got != "" && want != "" && hmac.Equal([]byte(got), []byte(want))
}

// localPath reports whether next is a path on this server, so redirecting
// to it after login cannot send the user elsewhere ("//evil", "/\evil",
// "https://evil", control characters all fail).
func localPath(next string) bool {
	if next == "" || next[0] != '/' || len(next) > 2048 {
		return false
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return false
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return false
	}
	return strings.HasPrefix(u.Path, "/")
}

var errTooLong = errors.New("password longer than 72 bytes")

// passwordCost is the bcrypt cost of new hashes: about a quarter second
// on a small server, which is also what each login attempt costs.
const passwordCost = 12

// HashPassword returns a bcrypt hash of pw for the users list of the
// configuration (`watchpost user hash`).
func HashPassword(pw string) (string, error) {
	if len(pw) > 72 {
		// bcrypt ignores the rest; refuse rather than pretend.
		return "", fmt.Errorf("hash password: %w", errTooLong)
	}
	if pw == "" {
		return "", errors.New("hash password: empty password")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), passwordCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}
