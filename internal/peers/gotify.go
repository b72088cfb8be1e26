package peers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// GotifyVersion is the Gotify server the receiver is tested against.
const GotifyVersion = "v2.6.3"

// Gotify is a running Gotify server with one application.
type Gotify struct {
	URL      string
	AppToken string // the application's token, for sending
	t        testing.TB
}

// StartGotify builds Gotify (once, cached; minutes when cold) with a stub
// in place of its web UI, runs it on loopback with SQLite, and makes an
// application to send to.
func StartGotify(t testing.TB) Gotify {
	t.Helper()
	bin := BuildGoSource(t, "github.com/gotify/server/v2", GotifyVersion, func(src string) error {
		// The UI is built with yarn in Gotify's release process; its
		// module zip has none, and go:embed needs the files.
		ui := filepath.Join(src, "ui", "build")
		if err := os.MkdirAll(ui, 0o755); err != nil {
			return err
		}
		for _, f := range []string{"index.html", "manifest.json", "asset-manifest.json"} {
			if err := os.WriteFile(filepath.Join(ui, f), []byte("{}"), 0o644); err != nil {
				return err
			}
		}
		return nil
	}, ".")
	dir := t.TempDir()
	port := FreePort(t)
	cmd := exec.Command(filepath.Join(bin, "server"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GOTIFY_SERVER_PORT="+strconv.Itoa(port), "GOTIFY_SERVER_LISTENADDR=127.0.0.1",
		"GOTIFY_DATABASE_DIALECT=sqlite3", "GOTIFY_DATABASE_CONNECTION="+filepath.Join(dir, "gotify.db"),
		"GOTIFY_DEFAULTUSER_NAME=admin", "GOTIFY_DEFAULTUSER_PASS=admin-pass",
		"GOTIFY_UPLOADEDIMAGESDIR="+filepath.Join(dir, "images"), "GOTIFY_PLUGINSDIR="+filepath.Join(dir, "plugins"),
		"GIN_MODE=release")
	p := StartCmd(t, cmd)
	p.WaitTCP(Addr(port), 60*time.Second)
	g := Gotify{URL: "http://" + Addr(port), t: t}
	var app struct {
		Token string `json:"token"`
	}
	g.admin("POST", "/application", map[string]any{"name": "watchpost"}, &app)
	if app.Token == "" {
		t.Fatalf("no application token from Gotify\n%s", p.Output())
	}
	g.AppToken = app.Token
	return g
}

// GotifyMessage is a message as Gotify stores it.
type GotifyMessage struct {
	ID       int64          `json:"id"`
	Title    string         `json:"title"`
	Message  string         `json:"message"`
	Priority int            `json:"priority"`
	Extras   map[string]any `json:"extras"`
}

// Messages lists what the application received, oldest first.
func (g Gotify) Messages() []GotifyMessage {
	var page struct {
		Messages []GotifyMessage `json:"messages"`
	}
	g.admin("GET", "/message", nil, &page)
	out := page.Messages
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (g Gotify) admin(method, path string, body, out any) {
	g.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, g.URL+path, rd)
	req.SetBasicAuth("admin", "admin-pass")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatalf("gotify %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		g.t.Fatalf("gotify %s %s: %s", method, path, resp.Status)
	}
	json.NewDecoder(resp.Body).Decode(out)
}
