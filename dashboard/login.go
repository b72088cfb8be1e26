package dashboard

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const (
	loginPath = "/admin/login"
	// maxLoginBody bounds what a login POST may make us read.
	maxLoginBody = 16 << 10
)

// loginForm shows the form, or sends an already signed-in admin on.
func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	a := u.auth
	st := a.state.Load()
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok := a.sessionFromRequest(st, r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	u.renderLogin(w, r, st, http.StatusOK, pageData{Next: next})
}

// renderLogin shows the login form with a CSRF token, reusing the
// browser's login nonce when it has one so two open tabs both work.
func (u *UI) renderLogin(w http.ResponseWriter, r *http.Request, st *authState, status int, d pageData) {
	nonce := ""
	if c, err := r.Cookie(loginCookieName(st)); err == nil && validNonce(c.Value) {
		nonce = c.Value
	} else {
		nonce = b64.EncodeToString(randomBytes(18))
		http.SetCookie(w, &http.Cookie{
			Name: loginCookieName(st), Value: nonce, Path: "/", MaxAge: 3600,
			HttpOnly: true, Secure: st.secure, SameSite: http.SameSiteStrictMode,
		})
	}
	d.Title = "Sign in · Watchpost admin"
	d.CSRF = loginCSRF(st, nonce)
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, status, "login", d)
}

func validNonce(v string) bool {
	raw, err := decodeB64(v)
	return err == nil && len(raw) == 18
}

func safeNext(next string) string {
	if localPath(next) {
		return next
	}
	return "/admin/"
}

// login checks a user name and password. Failures slow down their client
// address, and the address and name together, with growing waits (see
// backoff); an unknown name costs a bcrypt comparison too, so the
// answer's timing does not tell which names exist.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	a := u.auth
	st := a.state.Load()
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "unreadable login form", http.StatusBadRequest)
		return
	}
	name := r.PostForm.Get("user")
	password := r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	shown := pageData{Name: truncate(name, maxUserName), Next: next}

	c, err := r.Cookie(loginCookieName(st))
	if err != nil || !validNonce(c.Value) || !csrfEqual(r.PostForm.Get("csrf"), loginCSRF(st, c.Value)) {
		a.m.loginCSRF.Inc()
		shown.Err = "The sign-in form expired; please try again."
		u.renderLogin(w, r, st, http.StatusForbidden, shown)
		return
	}

	now := a.now()
	ip, addr := clientKey(r), clientAddr(r)
	pair := ip + "\x00" + userKey(name)
	pairWait, pairOK := a.pairLimit.take(pair, now)
	if !pairOK {
		u.refuse(w, r, st, shown, addr, name, pairWait)
		return
	}
	addrWait, addrOK := a.addrLimit.take(ip, now)
	if !addrOK {
		a.pairLimit.refund(pair)
		u.refuse(w, r, st, shown, addr, name, addrWait)
		return
	}

	entry := st.users[name]
	hash := st.dummy
	if entry != nil {
		hash = entry.hash
	}
	// Compare even for unknown users, and only then decide.
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	if entry == nil || !match {
		a.m.loginFailed.Inc()
		// One line per failure with the address as it is: what a
		// fail2ban filter bans by (README, "Admin logins").
		a.log.Warn("admin login failed", "client", addr, "user", truncate(name, maxUserName),
			"failures", a.pairLimit.failed(pair, now))
		shown.Err = "Wrong user name or password."
		u.renderLogin(w, r, st, http.StatusUnauthorized, shown)
		return
	}
	// The address gets its attempt back; the pair starts over, since
	// whoever knows the password owns it.
	a.addrLimit.refund(ip)
	a.pairLimit.reset(pair)
	a.m.loginOK.Inc()
	s := a.newSession(st, entry)
	http.SetCookie(w, sessionCookie(st, s, encodeSession(st.macKey, s)))
	http.SetCookie(w, clearCookie(st, loginCookieName(st)))
	a.log.Info("admin signed in", "user", entry.name, "client", ip)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) refuse(w http.ResponseWriter, r *http.Request, st *authState, d pageData, addr, name string, wait time.Duration) {
	a := u.auth
	a.m.loginLimited.Inc()
	secs := int((wait + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	// Refusals cost nothing to provoke: one line per address a minute.
	if ok, skipped := a.refusedLog.Allow(addr, a.now()); ok {
		a.log.Warn("admin login refused: too many failures", "client", addr, "user", truncate(name, maxUserName), "retry_after_s", secs,
			"refused_since_last_line", skipped)
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	d.Err = fmt.Sprintf("Too many failed sign-ins; try again in %s.", roundWait(wait))
	u.renderLogin(w, r, st, http.StatusTooManyRequests, d)
}

func roundWait(d time.Duration) string {
	if d < time.Minute {
		return strconv.Itoa(max(int(d/time.Second), 1)) + " seconds"
	}
	m := int((d + time.Minute - 1) / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return strconv.Itoa(m) + " minutes"
}

// logout runs behind UI, so it has a session and a valid CSRF token: a
// third-party page cannot sign the admin out.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	a := u.auth
	st := a.state.Load()
	p, _ := r.Context().Value(ctxKey{}).(*principal)
	if p != nil && p.session != nil {
		now := a.now()
		a.revoked.add(p.session.id, p.session.expires, now)
		if a.persist != nil {
			if err := a.persist.Revoke(r.Context(), p.session.id[:], p.session.expires, now); err != nil {
				// Signed out until the next restart; say so.
				a.log.Error("admin sign-out not stored: a restart would bring the session back", "user", p.name, "err", err)
			}
		}
		a.log.Info("admin signed out", "user", p.name)
	}
	http.SetCookie(w, clearCookie(st, sessionCookieName(st)))
	http.Redirect(w, r, loginPath, http.StatusSeeOther)
}

func csrfEqual(got, want string) bool {
	return got != "" && len(got) == len(want) && hmacEqualString(got, want)
}
