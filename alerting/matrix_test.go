package alerting

import (
	"context"
	"fmt"
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
