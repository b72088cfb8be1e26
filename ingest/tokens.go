package ingest

import (
	"crypto/sha256"
	"sync/atomic"
)

// Tokens maps ingest tokens to the host they belong to. Tokens are kept as
// SHA-256 digests so a lookup takes the same time whatever prefix of a
// token an attacker guessed right.
type Tokens struct {
	m atomic.Pointer[map[[32]byte]tokenEntry]
}

type tokenEntry struct {
	host   string
	enroll bool
}

// NewTokens builds the table: hosts maps a host name to its tokens (more
// than one while a token is rotated); enroll tokens let a collector name
// its own host (the token the loghost generates on first start).
func NewTokens(hosts map[string][]string, enroll []string) *Tokens {
	t := &Tokens{}
	t.Update(hosts, enroll)
	return t
}

// Update swaps in a new table (config reload).
func (t *Tokens) Update(hosts map[string][]string, enroll []string) {
	m := map[[32]byte]tokenEntry{}
	for host, toks := range hosts {
		for _, tok := range toks {
			if tok != "" {
				m[sha256.Sum256([]byte(tok))] = tokenEntry{host: host}
			}
		}
	}
	for _, tok := range enroll {
		if tok != "" {
			m[sha256.Sum256([]byte(tok))] = tokenEntry{enroll: true}
		}
	}
	t.m.Store(&m)
}

// Lookup returns the host of token, or enroll=true for an enrollment token.
func (t *Tokens) Lookup(token string) (host string, enroll, ok bool) {
	if token == "" {
		return "", false, false
	}
	e, ok := (*t.m.Load())[sha256.Sum256([]byte(token))]
	return e.host, e.enroll, ok
}
