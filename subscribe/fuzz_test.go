package subscribe

import (
	"context"
	"net/mail"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
)

// FuzzNormalizeAddress: no input panics, and what is accepted is one
// bare address a mail library reads back the same, with no header
// breaks.
func FuzzNormalizeAddress(f *testing.F) {
	for _, s := range []string{"ana@example.org", "Ana <a@b>", "a@b\r\nBcc: x@y", "\"q\"@x.org", "a@[127.0.0.1]", "ü@ä.de", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeAddress(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(got, "\r\n<>,; ") {
			t.Fatalf("%q accepted as %q", s, got)
		}
		a, err := mail.ParseAddress(got)
		if err != nil || a.Address != got {
			t.Fatalf("%q accepted as %q, which reads back as %v %v", s, got, a, err)
		}
	})
}

// FuzzToken: no token panics, and none but the signed one is valid.
func FuzzToken(f *testing.F) {
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(f.TempDir(), "w.db")})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	st := &Store{DB: s.DB(), Key: []byte(strings.Repeat("k", 32))}
	if err := st.Subscribe(context.Background(), "ana@example.org", nil, time.Unix(0, 0)); err != nil {
		f.Fatal(err)
	}
	var nonce string
	s.DB().QueryRow(`SELECT nonce FROM subscribers WHERE id = 1`).Scan(&nonce)
	good := st.token(purposeConfirm, 1, nonce)
	for _, s := range []string{good, "1.", ".", "zzzzzzzzzzzzzzz.x", "-1.abc", good + "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, ok, err := st.check(context.Background(), purposeConfirm, tok)
		if err != nil {
			t.Fatal(err)
		}
		if ok && (tok != good || id != 1) {
			t.Fatalf("%q accepted", tok)
		}
	})
}
