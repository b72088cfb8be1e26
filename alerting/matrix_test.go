package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/store"
)

// homeserver is a real Dendrite on loopback with a bot user and a room.
type homeserver struct {
	url, token, room string
}

func matrixCall(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// startDendrite builds (once, cached) and starts Dendrite, the Matrix
// homeserver PEERS.md names, with federation and registration off.
func startDendrite(t *testing.T) homeserver {
	t.Helper()
	bin := peers.BuildGo(t, "github.com/element-hq/dendrite", "v0.15.2",
		"cmd/dendrite", "cmd/generate-keys", "cmd/generate-config", "cmd/create-account")
	dir := t.TempDir()
	run := func(name string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return out
	}
	run("generate-keys", "--private-key", "matrix_key.pem")
	conf := string(run("generate-config", "-ci", "-dir", dir, "-server", "localhost"))
	conf = strings.Replace(conf, "disable_federation: false", "disable_federation: true", 1)
	conf = strings.Replace(conf, "registration_disabled: false", "registration_disabled: true", 1)
	cfgPath := filepath.Join(dir, "dendrite.yaml")
	os.WriteFile(cfgPath, []byte(conf), 0o600)
	port := peers.FreePort(t)
	cmd := exec.Command(filepath.Join(bin, "dendrite"), "-config", cfgPath, "-http-bind-address", peers.Addr(port))
	cmd.Dir = dir
	p := peers.StartCmd(t, cmd)
	p.WaitTCP(peers.Addr(port), 60*time.Second)
	url := "http://" + peers.Addr(port)
	run("create-account", "-config", cfgPath, "-username", "watchpost", "-password", "correct-horse-battery", "-url", url)
	var login struct {
		AccessToken string `json:"access_token"`
	}
	matrixCall(t, "POST", url+"/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": "watchpost"}, "password": "correct-horse-battery"}, &login)
	if login.AccessToken == "" {
		t.Fatalf("no access token from Dendrite\n%s", p.Output())
	}
	var room struct {
		RoomID string `json:"room_id"`
	}
	matrixCall(t, "POST", url+"/_matrix/client/v3/createRoom", login.AccessToken, map[string]any{"name": "ops"}, &room)
	if room.RoomID == "" {
		t.Fatal("no room")
	}
	return homeserver{url: url, token: login.AccessToken, room: room.RoomID}
}

// roomEvents reads the room's messages through /sync, as a client does.
func (hs homeserver) roomEvents(t *testing.T) []map[string]any {
	t.Helper()
	var sync struct {
		Rooms struct {
			Join map[string]struct {
				Timeline struct {
					Events []map[string]any `json:"events"`
				} `json:"timeline"`
			} `json:"join"`
		} `json:"rooms"`
	}
	matrixCall(t, "GET", hs.url+"/_matrix/client/v3/sync?timeout=0", hs.token, nil, &sync)
	var out []map[string]any
	for _, ev := range sync.Rooms.Join[hs.room].Timeline.Events {
		if ev["type"] == "m.room.message" {
			out = append(out, ev)
		}
	}
	return out
}

// TestMatrixAgainstDendrite: an outage goes to the room as m.text, its
// recovery as m.notice in the outage's thread, a retry with the same
// transaction id posts nothing twice, and an @room in a log line pings
// nobody.
func TestMatrixAgainstDendrite(t *testing.T) {
	hs := startDendrite(t)
	mx, err := NewMatrix(MatrixConfig{Homeserver: hs.url, AccessToken: hs.token, Room: hs.room})
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
	peers.Eventually(t, 20*time.Second, func() bool { evs = hs.roomEvents(t); return len(evs) >= 2 })
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
	bad, _ := NewMatrix(MatrixConfig{Homeserver: hs.url, AccessToken: "wrong", Room: hs.room})
	if _, err := bad.Send(ctx, MatrixMessage{TxnID: "x", Text: "x"}); err == nil || !strings.Contains(err.Error(), "access token") {
		t.Errorf("wrong token: %v", err)
	}
}
