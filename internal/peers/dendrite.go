package peers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Homeserver is a real Matrix homeserver (Dendrite v0.15.2, ../shared/
// PEERS.md) on loopback, with a bot account and a room it created.
type Homeserver struct {
	URL, Token, Room string

	t              testing.TB
	bin, dir, conf string
}

// MatrixCall makes one client-server API call and decodes the answer into
// out; it returns the HTTP status.
func MatrixCall(t testing.TB, method, url, token string, body any, out any) int {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
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

// StartDendrite builds Dendrite (once, cached; minutes when cold) and
// runs it with federation and registration off.
func StartDendrite(t testing.TB) Homeserver {
	t.Helper()
	bin := BuildGo(t, "github.com/element-hq/dendrite", "v0.15.2",
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
	port := FreePort(t)
	cmd := exec.Command(filepath.Join(bin, "dendrite"), "-config", cfgPath, "-http-bind-address", Addr(port))
	cmd.Dir = dir
	p := StartCmd(t, cmd)
	p.WaitTCP(Addr(port), 60*time.Second)
	url := "http://" + Addr(port)
	run("create-account", "-config", cfgPath, "-username", "watchpost", "-password", "correct-horse-battery", "-url", url)
	var login struct {
		AccessToken string `json:"access_token"`
	}
	MatrixCall(t, "POST", url+"/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": "watchpost"}, "password": "correct-horse-battery"}, &login)
	if login.AccessToken == "" {
		t.Fatalf("no access token from Dendrite\n%s", p.Output())
	}
	var room struct {
		RoomID string `json:"room_id"`
	}
	MatrixCall(t, "POST", url+"/_matrix/client/v3/createRoom", login.AccessToken, map[string]any{"name": "ops"}, &room)
	if room.RoomID == "" {
		t.Fatal("no room")
	}
	return Homeserver{URL: url, Token: login.AccessToken, Room: room.RoomID, t: t, bin: bin, dir: dir, conf: cfgPath}
}

// AddUser creates an account, has the bot invite it to the room, joins
// it, and returns its user id and access token: a person in the room.
func (hs Homeserver) AddUser(name string) (userID, token string) {
	t := hs.t
	t.Helper()
	cmd := exec.Command(filepath.Join(hs.bin, "create-account"), "-config", hs.conf, "-username", name, "-password", "correct-horse-battery", "-url", hs.URL)
	cmd.Dir = hs.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("create-account %s: %v: %s", name, err, out)
	}
	var login struct {
		AccessToken string `json:"access_token"`
		UserID      string `json:"user_id"`
	}
	MatrixCall(t, "POST", hs.URL+"/_matrix/client/v3/login", "", map[string]any{"type": "m.login.password",
		"identifier": map[string]string{"type": "m.id.user", "user": name}, "password": "correct-horse-battery"}, &login)
	if login.AccessToken == "" {
		t.Fatalf("no access token for %s", name)
	}
	if code := MatrixCall(t, "POST", hs.URL+"/_matrix/client/v3/rooms/"+hs.Room+"/invite", hs.Token, map[string]any{"user_id": login.UserID}, nil); code != 200 {
		t.Fatalf("invite %s: %d", name, code)
	}
	if code := MatrixCall(t, "POST", hs.URL+"/_matrix/client/v3/join/"+hs.Room, login.AccessToken, map[string]any{}, nil); code != 200 {
		t.Fatalf("join %s: %d", name, code)
	}
	return login.UserID, login.AccessToken
}

// RoomMessages reads the room's m.room.message events through /sync, as
// a client does.
func (hs Homeserver) RoomMessages(t testing.TB) []map[string]any {
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
	MatrixCall(t, "GET", hs.URL+"/_matrix/client/v3/sync?timeout=0", hs.Token, nil, &sync)
	var out []map[string]any
	for _, ev := range sync.Rooms.Join[hs.Room].Timeline.Events {
		if ev["type"] == "m.room.message" {
			out = append(out, ev)
		}
	}
	return out
}
