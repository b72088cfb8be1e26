package alerting

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/store"
)

// TestMatrixAgainstDendrite: an outage goes to the room as m.text, its
// recovery as m.notice in the outage's thread, a retry with the same
// transaction id posts nothing twice, and an @room in a log line pings
// nobody.
func TestMatrixAgainstDendrite(t *testing.T) {
	hs := peers.StartDendrite(t)
	mx, err := NewMatrix(MatrixConfig{Homeserver: hs.URL, AccessToken: hs.Token, Room: hs.Room})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	d := New(s.DB(), Config{Matrix: mx, Hostname: "loghost.test"})
	ctx := context.Background()
	// The outage is sent before the recovery is queued (queued together,
	// never attempted, they would go as one message).
	for _, kp := range [][2]string{
		{"check_down", `{"check":"wiki","from":"up","to":"down","since":"2026-11-25T02:00:00Z","detail":"status 503 @room","incident":3}`},
		{"check_up", `{"check":"wiki","from":"down","to":"up","since":"2026-11-25T02:10:00Z","incident":3}`},
	} {
		s.DB().Exec(`INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), kp[0], kp[1])
		if err := d.Drain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var evs []map[string]any
	peers.Eventually(t, 20*time.Second, func() bool { evs = hs.RoomMessages(t); return len(evs) >= 2 })
	down, up := evs[0]["content"].(map[string]any), evs[1]["content"].(map[string]any)
	if down["msgtype"] != "m.text" || !strings.Contains(fmt.Sprint(down["body"]), "wiki is DOWN") {
		t.Errorf("outage message: %v", down)
	}
	if m, ok := down["m.mentions"].(map[string]any); !ok || len(m) != 0 {
		t.Errorf("the outage message may ping people: m.mentions = %v", down["m.mentions"])
	}
	rel, _ := up["m.relates_to"].(map[string]any)
	if up["msgtype"] != "m.notice" || rel["rel_type"] != "m.thread" || rel["event_id"] != evs[0]["event_id"] {
		t.Errorf("recovery message not a notice in the outage's thread: %v", up)
	}
	// A retry after a lost answer reuses the transaction id: no second post.
	id1, err := mx.Send(ctx, MatrixMessage{TxnID: "watchpost-1", Text: "again"})
	if err != nil || id1 != evs[0]["event_id"] {
		t.Errorf("resend with the same txn id gave %q (%v), want the first event %v", id1, err, evs[0]["event_id"])
	}
	// A wrong token is a configuration error, not a retry storm.
	bad, _ := NewMatrix(MatrixConfig{Homeserver: hs.URL, AccessToken: "wrong", Room: hs.Room})
	if _, err := bad.Send(ctx, MatrixMessage{TxnID: "x", Text: "x"}); err == nil || !strings.Contains(err.Error(), "access token") {
		t.Errorf("wrong token: %v", err)
	}
}

// TestMatrixAcknowledge: a person's reaction to an outage's first message
// in the real room acknowledges the incident; the bot's own events and
// reactions to other messages do not.
func TestMatrixAcknowledge(t *testing.T) {
	hs := peers.StartDendrite(t)
	mx, err := NewMatrix(MatrixConfig{Homeserver: hs.URL, AccessToken: hs.Token, Room: hs.Room})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := time.Now()
	db := s.DB()
	if _, err := db.Exec(`INSERT INTO incidents(id, check_name, title, started, public) VALUES(7, 'wiki', 'wiki is down', ?, 0)`, now.UnixNano()); err != nil {
		t.Fatal(err)
	}
	d := New(db, Config{Matrix: mx, Hostname: "loghost.test"})
	db.Exec(`INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), "check_down",
		`{"check":"wiki","from":"up","to":"down","since":"2026-11-25T02:00:00Z","detail":"status 503","incident":7}`)
	if err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var evs []map[string]any
	peers.Eventually(t, 20*time.Second, func() bool { evs = hs.RoomMessages(t); return len(evs) >= 1 })
	outage := evs[0]["event_id"].(string)
	other, _ := mx.Send(ctx, MatrixMessage{TxnID: "unrelated", Text: "not an incident"})

	go NewMatrixAcks(mx, db, time.Now, nil).Run(ctx)
	acked := func() string {
		var by sql.NullString
		db.QueryRow(`SELECT acked_by FROM incidents WHERE id = 7`).Scan(&by)
		return by.String
	}
	user, tok := hs.AddUser("ana")
	react := func(token, target, key string) {
		body := map[string]any{"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": target, "key": key}}
		if code := peers.MatrixCall(t, "PUT", hs.URL+"/_matrix/client/v3/rooms/"+hs.Room+"/send/m.reaction/"+key+target, token, body, nil); code != 200 {
			t.Fatalf("reaction: %d", code)
		}
	}
	react(tok, other, "👀")       // not an incident's message
	react(hs.Token, outage, "🤖") // the bot itself
	time.Sleep(2 * time.Second)
	if by := acked(); by != "" {
		t.Fatalf("acknowledged by %q before anyone reacted to the outage", by)
	}
	react(tok, outage, "👍")
	peers.Eventually(t, 30*time.Second, func() bool { return acked() != "" })
	if by := acked(); !strings.Contains(by, user) {
		t.Errorf("acknowledged by %q, want %s", by, user)
	}
}

// TestMatrixDiscovery: a homeserver given by server name is found through
// its /.well-known/matrix/client, once; a name without one is an error
// that is retried, not a panic.
func TestMatrixDiscovery(t *testing.T) {
	var wellKnown, sends int
	var base string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/.well-known/matrix/client":
			wellKnown++
			fmt.Fprintf(w, `{"m.homeserver":{"base_url":"%s/"}}`, base)
		case strings.HasPrefix(r.URL.Path, "/_matrix/client/v3/rooms/"):
			sends++
			if r.Header.Get("Authorization") != "Bearer tok" {
				t.Errorf("token not in the header")
			}
			fmt.Fprint(w, `{"event_id":"$e1"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	base = srv.URL
	name := strings.TrimPrefix(srv.URL, "https://")
	mx, err := NewMatrix(MatrixConfig{Homeserver: name, AccessToken: "tok", Room: "!r:x", Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if id, err := mx.Send(context.Background(), MatrixMessage{TxnID: fmt.Sprint(i), Text: "x"}); err != nil || id != "$e1" {
			t.Fatalf("send: %q %v", id, err)
		}
	}
	if wellKnown != 1 || sends != 2 {
		t.Errorf("well-known read %d times, %d sends", wellKnown, sends)
	}
	bad, _ := NewMatrix(MatrixConfig{Homeserver: "127.0.0.1:1", AccessToken: "tok", Room: "!r:x"})
	if _, err := bad.Send(context.Background(), MatrixMessage{TxnID: "1", Text: "x"}); err == nil {
		t.Error("an unreachable server name must be an error")
	}
}
