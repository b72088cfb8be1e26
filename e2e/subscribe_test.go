package e2e

import (
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// mailTo returns the messages in /var/mail/root delivered to addr, with
// their bodies decoded.
func mailTo(t testing.TB, addr string) []*mail.Message {
	t.Helper()
	var out []*mail.Message
	for _, m := range mailbox(t, "") {
		if !strings.Contains(m.Header.Get("To"), addr) && !strings.Contains(m.Header.Get("Delivered-To"), addr) {
			continue
		}
		body := m.Body.(*bytes.Buffer).Bytes()
		if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
			if err == nil {
				body = dec
			}
		}
		m.Body = bytes.NewBuffer(body)
		out = append(out, m)
	}
	return out
}

func bodyOf(m *mail.Message) string { return m.Body.(*bytes.Buffer).String() }

// TestSubscriberMail: a visitor subscribes on the status page; the
// confirmation arrives through Debian's postfix in a real mailbox, and
// its link confirms. The confirmed subscriber then gets exactly one
// message per public incident event (opened, an update, resolved); the
// address that never confirmed gets only its confirmation; after the
// one-click unsubscribe link, nothing more.
func TestSubscriberMail(t *testing.T) {
	pf := startPostfix(t)
	nonce := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	ana, bo := "root+ana"+nonce+"@localhost", "root+bo"+nonce+"@localhost"
	var down atomic.Bool
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer web.Close()
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lc.extra = fmt.Sprintf(`status_page:
  title: Example status
  subscriptions: {enabled: true, smtp: "127.0.0.1:25", tls: none, from: status@example.test}
checks:
  - {name: shop, type: http, target: "%s", interval: 1s, conditions: ["status == 200"], public: true}
`, web.URL)
	cfg := lc.write(t)
	text := readFile(t, cfg)
	writeFile(t, cfg, strings.Replace(text, "server:\n", "server:\n  public_url: "+base+"\n", 1))
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	logs := func() string { return "loghost:\n" + lh.out.String() + "\npostfix:\n" + pf.out.String() }
	waitFor := func(addr string, n int) []*mail.Message {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			got := mailTo(t, addr)
			if len(got) >= n {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d messages to %s\n%s", len(got), n, addr, logs())
			}
		}
	}
	for _, a := range []string{ana, bo} {
		resp, err := http.PostForm(base+"/subscribe", url.Values{"email": {a}})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("subscribe %s: %v %v", a, err, resp)
		}
		resp.Body.Close()
	}
	conf := waitFor(ana, 1)[0]
	link := regexp.MustCompile(regexp.QuoteMeta(base) + `/subscribe/confirm\?t=[A-Za-z0-9._-]+`).FindString(bodyOf(conf))
	if link == "" {
		t.Fatalf("no confirmation link in:\n%s", bodyOf(conf))
	}
	// The link shows a button; the button confirms.
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `action="/subscribe/confirm"`) {
		t.Fatalf("confirmation page: %s", page)
	}
	u, _ := url.Parse(link)
	resp, err = http.PostForm(base+"/subscribe/confirm", url.Values{"t": {u.Query().Get("t")}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("confirm: %v %v", err, resp)
	}
	resp.Body.Close()

	// Three events of one public incident: it opens, an update, it ends.
	down.Store(true)
	var id int64
	peers.Eventually(t, 60*time.Second, func() bool {
		var list []struct {
			ID    int64  `json:"id"`
			Check string `json:"check"`
		}
		adminDo(t, "GET", base+"/api/v1/incidents", "", &list)
		if len(list) > 0 {
			id = list[0].ID
		}
		return id > 0
	})
	waitFor(ana, 2)
	if code := adminDo(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/updates", base, id), `{"status":"identified","message":"The payment provider is down."}`, nil); code != 201 {
		t.Fatalf("update: %d", code)
	}
	waitFor(ana, 3)
	down.Store(false)
	got := waitFor(ana, 4)
	time.Sleep(4 * time.Second) // a duplicate would come now
	got = mailTo(t, ana)
	var subjects []string
	for _, m := range got {
		subjects = append(subjects, m.Header.Get("Subject"))
	}
	want := []string{"[Example status] Confirm your subscription", "[Example status] New incident: shop is down",
		"[Example status] Update: shop is down", "[Example status] Resolved: shop is down"}
	if strings.Join(subjects, "|") != strings.Join(want, "|") {
		t.Errorf("ana got %q, want %q", subjects, want)
	}
	if !strings.Contains(bodyOf(got[2]), "The payment provider is down.") {
		t.Errorf("update body:\n%s", bodyOf(got[2]))
	}
	if n := len(mailTo(t, bo)); n != 1 {
		t.Errorf("the unconfirmed address got %d messages, want only the confirmation", n)
	}
	// One-click unsubscribe (RFC 8058) from the last message's header.
	last := got[len(got)-1]
	unsub := strings.Trim(last.Header.Get("List-Unsubscribe"), "<>")
	if !strings.HasPrefix(unsub, base+"/unsubscribe?t=") || last.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" ||
		!strings.Contains(bodyOf(last), unsub) {
		t.Fatalf("unsubscribe header %q body:\n%s", unsub, bodyOf(last))
	}
	resp, err = http.Post(unsub, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("unsubscribe: %v %v", err, resp)
	}
	resp.Body.Close()
	// Another incident: routed to nobody.
	down.Store(true)
	peers.Eventually(t, 60*time.Second, func() bool {
		var n int
		var list []struct {
			ID int64 `json:"id"`
		}
		adminDo(t, "GET", base+"/api/v1/incidents", "", &list)
		for range list {
			n++
		}
		return n == 2
	})
	time.Sleep(4 * time.Second)
	if n := len(mailTo(t, ana)); n != 4 {
		t.Errorf("ana got %d messages, want 4 (none after unsubscribing)", n)
	}
	var subs []map[string]any
	adminDo(t, "GET", base+"/api/v1/subscribers", "", &subs)
	if len(subs) != 1 || subs[0]["email"] != bo || subs[0]["confirmed"] != false {
		t.Errorf("subscribers after ana left: %v", subs)
	}
}

// TestAlertLinksOpenIncident: the alert email (through postfix) and the
// Matrix message (Dendrite) about a check going down both link to the
// incident's page under server.public_url; opened in Chromium, the link
// asks for a login and then shows that incident.
func TestAlertLinksOpenIncident(t *testing.T) {
	pf := startPostfix(t)
	peers.Require(t, "chromium")
	hs := peers.StartDendrite(t)
	nonce := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	to := "root+oncall" + nonce + "@localhost"
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer web.Close()
	dir := t.TempDir()
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), adminUser: true}
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	check := "billing" + nonce
	lc.extra = fmt.Sprintf(`checks:
  - {name: %s, type: http, target: "%s", interval: 1s, conditions: ["status == 200"]}
alerting:
  email: {smtp: "127.0.0.1:25", tls: none, from: watchpost@example.test, to: [%s]}
  matrix: {homeserver: "%s", access_token: "%s", room: "%s"}
`, check, web.URL, to, hs.URL, hs.Token, hs.Room)
	cfg := lc.write(t)
	writeFile(t, cfg, strings.Replace(readFile(t, cfg), "server:\n", "server:\n  public_url: "+base+"\n", 1))
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	logs := func() string { return "loghost:\n" + lh.out.String() + "\npostfix:\n" + pf.out.String() }
	linkRE := regexp.MustCompile(regexp.QuoteMeta(base) + `/admin/incidents/(\d+)`)
	var mailLink string
	for deadline := time.Now().Add(60 * time.Second); mailLink == ""; time.Sleep(200 * time.Millisecond) {
		for _, m := range mailTo(t, to) {
			mailLink = linkRE.FindString(bodyOf(m))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email with an incident link\n%s", logs())
		}
	}
	var matrixLink string
	peers.Eventually(t, 60*time.Second, func() bool {
		for _, ev := range hs.RoomMessages(t) {
			c, _ := ev["content"].(map[string]any)
			body, _ := c["body"].(string)
			html, _ := c["formatted_body"].(string)
			if strings.Contains(body, check) && linkRE.MatchString(body) && linkRE.MatchString(html) {
				matrixLink = linkRE.FindString(body)
			}
		}
		return matrixLink != ""
	})
	if mailLink != matrixLink {
		t.Errorf("email links %s, Matrix %s", mailLink, matrixLink)
	}
	id := linkRE.FindStringSubmatch(mailLink)[1]
	b := peers.StartBrowser(t, 1280, 900)
	for i, link := range []string{mailLink, matrixLink} {
		b.Navigate(link)
		if i == 0 {
			b.WaitFor(`location.pathname === "/admin/login"`, 10*time.Second)
			submitLogin(b)
		}
		b.WaitFor(`location.pathname === "/admin/incidents/`+id+`" && document.body && document.body.textContent.includes("`+check+` is down")`, 20*time.Second)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
