package alerting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
)

// TestWebhookTemplate: a templated body reaches any JSON API (here one
// shaped like a chat's incoming webhook), with templated headers, the
// log line escaped by the json helper; the signature covers the body
// sent.
func TestWebhookTemplate(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	var hdrs []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies, hdrs = append(bodies, b), append(hdrs, r.Header.Clone())
		mu.Unlock()
	}))
	defer srv.Close()
	a := alertingConfig(t, fmt.Sprintf(`
  webhook:
    url: %s/hook
    secret: 0123456789abcdef0123
    body: |
      {"text": {{ printf "%%s: %%s" .State .Title | json }}, "line": {{ .Line | json }},
       "host": {{ .Labels.host | json }}, "url": {{ .URL | json }}, "for": {{ .Duration | duration | json }}}
    headers:
      X-Severity: "{{ .Severity }}"
`, srv.URL))
	rs, err := BuildReceivers(a, "lh")
	if err != nil {
		t.Fatal(err)
	}
	outage(t, rs)
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 {
		t.Fatalf("%d posts", len(bodies))
	}
	var first, second map[string]string
	if err := json.Unmarshal(bodies[0], &first); err != nil {
		t.Fatalf("not JSON: %s", bodies[0])
	}
	json.Unmarshal(bodies[1], &second)
	if first["text"] != "firing: sshd: failed logins" || first["line"] != hostileLine || first["host"] != "web1" ||
		first["url"] != "https://watchpost.example/admin/incidents/1" {
		t.Errorf("first %v", first)
	}
	if second["text"] != "resolved: sshd: failed logins" || second["for"] != "10m" {
		t.Errorf("second %v", second)
	}
	if hdrs[0].Get("X-Severity") != "critical" || hdrs[0].Get("X-Watchpost-Signature") != Sign("0123456789abcdef0123", bodies[0]) ||
		hdrs[0].Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", hdrs[0])
	}
}

// TestMatrixAndEmailTemplates: the Matrix room's plain and HTML bodies
// and an email's subject and body come from their templates.
func TestMatrixAndEmailTemplates(t *testing.T) {
	f := &fakeHomeserver{events: map[string]string{}}
	var mu sync.Mutex
	var sent []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var c map[string]any
		json.Unmarshal(b, &c)
		mu.Lock()
		sent = append(sent, c)
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		f.ServeHTTP(w, r)
	}))
	defer srv.Close()
	mx, err := NewMatrix(MatrixConfig{Homeserver: srv.URL, AccessToken: "tok", Room: "!r:x",
		Body: `{{ .State | upper }} {{ .Title }}: {{ .Line }}`, HTML: `<b>{{ .Title | matrixhtml }}</b> {{ .Line | matrixhtml }}`})
	if err != nil {
		t.Fatal(err)
	}
	outage(t, map[string]Receiver{DefaultReceiver: {Matrix: mx}})
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 2 {
		t.Fatalf("%d events", len(sent))
	}
	if sent[0]["body"] != "FIRING sshd: failed logins: "+hostileLine || !strings.HasPrefix(sent[1]["body"].(string), "RESOLVED sshd") {
		t.Errorf("bodies %q / %q", sent[0]["body"], sent[1]["body"])
	}
	if h := sent[0]["formatted_body"].(string); strings.Contains(h, "<script>") || !strings.Contains(h, "&lt;script&gt;") {
		t.Errorf("formatted body %q", h)
	}

	e, err := NewEmail(EmailConfig{SMTP: "127.0.0.1:25", From: "w@example.test", To: []string{"a@example.test"},
		Subject: `[{{ .Severity | upper }}] {{ .Title }} {{ .Line }}`, Body: "Host {{ .Host }}\n{{ .Line }}\n"})
	if err != nil {
		t.Fatal(err)
	}
	a := msgtmpl.Samples()[0]
	m, err := e.apply(Message{Subject: "default", Text: "default", HTML: "<p>default</p>", Alert: &a})
	if err != nil || !strings.HasPrefix(m.Subject, "[CRITICAL] sshd: too many failures <script>") || m.Text != "Host web1\n"+a.Line+"\n" || m.HTML != "" {
		t.Errorf("email %+v %v", m, err)
	}
}

// TestAlertsTestNotifier: `watchpost alerts test RECEIVER` renders the
// receiver's templates and sends through its chat services.
func TestAlertsTestNotifier(t *testing.T) {
	nt, ntSrv := newFakeNtfy(t)
	cfg := writeConfig(t, fmt.Sprintf(`alerting:
  receivers:
    phones:
      ntfy: {url: %q, topic: ops, token: %s, subject: "test of {{ .Receiver }} ({{ .Severity }})"}
`, ntSrv.URL, nt.token))
	var out, errb bytes.Buffer
	if rc := Main(t.Context(), []string{"test", "phones", "-config", cfg}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	if len(nt.msgs) != 1 || nt.msgs[0].Title != "test of phones (info)" || !strings.Contains(out.String(), "sent a test message to phones (ntfy topic ops on") {
		t.Errorf("ntfy got %+v; out %q", nt.msgs, out.String())
	}
}

func writeConfig(t *testing.T, yml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "w.yml")
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
