package peers

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Browser is a real headless Chromium driven over the DevTools protocol,
// for pages that need a login or JavaScript (the command line's
// --dump-dom and --screenshot cannot sign in or wait for a chart).
type Browser struct {
	t    testing.TB
	conn *websocket.Conn

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpReply
	session string
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// StartBrowser runs Chromium with the flags of ../shared/PEERS.md on a
// DevTools port of its own choosing, and opens one page (tab). The test's
// cleanup stops it.
func StartBrowser(t testing.TB, width, height int) *Browser {
	t.Helper()
	bin := Require(t, "chromium")["chromium"]
	dir := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+dir, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		fmt.Sprintf("--window-size=%d,%d", width, height), "about:blank")
	StartCmd(t, cmd)
	// Chromium writes the port it took, and the browser's path, here.
	var port, path string
	Eventually(t, 30*time.Second, func() bool {
		f, err := os.Open(filepath.Join(dir, "DevToolsActivePort"))
		if err != nil {
			return false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		var lines []string
		for sc.Scan() {
			lines = append(lines, strings.TrimSpace(sc.Text()))
		}
		if len(lines) < 2 {
			return false
		}
		port, path = lines[0], lines[1]
		return true
	})
	conn, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+port+path, nil)
	if err != nil {
		t.Fatalf("devtools: %v", err)
	}
	b := &Browser{t: t, conn: conn, waiting: map[int]chan cdpReply{}}
	go b.read()
	t.Cleanup(func() { conn.Close() })
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var att struct {
		SessionID string `json:"sessionId"`
	}
	b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att)
	b.session = att.SessionID
	b.Call("Page.enable", nil, nil)
	b.Call("Runtime.enable", nil, nil)
	b.Call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
	return b
}

func (b *Browser) read() {
	for {
		var msg struct {
			ID int `json:"id"`
			cdpReply
		}
		if err := b.conn.ReadJSON(&msg); err != nil {
			b.mu.Lock()
			for id, ch := range b.waiting {
				close(ch)
				delete(b.waiting, id)
			}
			b.mu.Unlock()
			return
		}
		if msg.ID == 0 {
			continue // an event
		}
		b.mu.Lock()
		ch := b.waiting[msg.ID]
		delete(b.waiting, msg.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- msg.cdpReply
		}
	}
}

func (b *Browser) call(session, method string, params any, out any) {
	b.t.Helper()
	if err := b.try(session, method, params, out); err != nil {
		b.t.Fatalf("devtools %s: %v", method, err)
	}
}

// errProtocol is an error the browser answered with (as opposed to losing
// the browser): "Inspected target navigated or closed" while a page
// loads, say.
type errProtocol struct{ msg string }

func (e errProtocol) Error() string { return e.msg }

// try is call that returns the browser's error answer instead of ending
// the test; losing the browser still ends it.
func (b *Browser) try(session, method string, params any, out any) error {
	b.t.Helper()
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpReply, 1)
	b.waiting[id] = ch
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	err := b.conn.WriteJSON(msg)
	b.mu.Unlock()
	if err != nil {
		b.t.Fatalf("devtools %s: %v", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			b.t.Fatalf("devtools %s: the browser went away", method)
		}
		if r.Error != nil {
			return errProtocol{r.Error.Message}
		}
		if out != nil {
			if err := json.Unmarshal(r.Result, out); err != nil {
				b.t.Fatalf("devtools %s: %v", method, err)
			}
		}
	case <-time.After(60 * time.Second):
		b.t.Fatalf("devtools %s: no answer in 60 s", method)
	}
	return nil
}

// Call sends a DevTools command to the page.
func (b *Browser) Call(method string, params any, out any) {
	b.t.Helper()
	b.call(b.session, method, params, out)
}

// Navigate opens url and waits until the document has loaded.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.Call("Page.navigate", map[string]any{"url": url}, nil)
	b.WaitFor(`document.readyState === "complete" && location.href !== "about:blank"`, 30*time.Second)
}

// Eval evaluates a JavaScript expression in the page and returns its value
// as JSON.
func (b *Browser) Eval(expr string) json.RawMessage {
	b.t.Helper()
	v, exception, err := b.evaluate(expr)
	if err != nil {
		b.t.Fatalf("devtools Runtime.evaluate: %v", err)
	}
	if exception != "" {
		b.t.Fatalf("evaluate %s: %s", expr, exception)
	}
	return v
}

// evaluate runs expr in the page: its value, the exception it threw, or
// the browser's error answer (the page navigating away meanwhile).
func (b *Browser) evaluate(expr string) (json.RawMessage, string, error) {
	b.t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.try(b.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res); err != nil {
		return nil, "", err
	}
	if res.Exception != nil {
		return nil, res.Exception.Text, nil
	}
	return res.Result.Value, "", nil
}

// WaitFor polls a JavaScript condition until it is true. While a page
// loads (after a form's submit, say) the evaluation may fail or throw:
// that is "not yet".
func (b *Browser) WaitFor(cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if v, exception, err := b.evaluate("!!(" + cond + ")"); err == nil && exception == "" && string(v) == "true" {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("browser: still not %s after %v (at %s)", cond, timeout, b.Eval("location.href"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Screenshot writes the page (the whole scroll height) as PNG to path and
// returns its size in bytes.
func (b *Browser) Screenshot(path string) int {
	b.t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	b.Call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return len(png)
}
