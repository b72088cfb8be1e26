package e2e

import (
	"database/sql"
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
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// TestRuleAlertIncidentAck: a rule's alert action opens an incident; the
// same alert again sends nothing new; the unacknowledged incident is
// reminded, threaded under it; once acknowledged over the API it gets
// no reminder.
func TestRuleAlertIncidentAck(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer hook.Close()
	kinds := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, m := range got {
			out = append(out, fmt.Sprint(m["kind"]))
		}
		return out
	}
	dir := t.TempDir()
	ruleFile := filepath.Join(dir, "disk.conf")
	os.WriteFile(ruleFile, []byte(`'kernel: (sd[a-z]): I/O error' - - - 0 alert critical "I/O errors on $2" service=disk
`), 0o600)
	lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t),
		extra: fmt.Sprintf(`rules:
  - file: %s
alerting:
  webhook: {url: "%s", secret: e2e-webhook-secret}
  repeat_interval: 2s
  repeat_max: 50
  # A route of its own: rule alerts that no route claims wait 30 s to be
  # grouped, and reminders every 2 s exceed the default 20 a minute.
  rate_limit: 0
  routes:
    - {match: {source: rule}, receiver: default}
`, ruleFile, hook.URL)}
	cfg := lc.write(t)
	if out, errOut, rc := runCmd(t, "config", "check", cfg); rc != 0 {
		t.Fatalf("config check: %s %s", out, errOut)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
	lh := startLoghost(t, "-config", cfg)
	lh.waitReady(base)
	offset := 0
	send := func(line string) {
		body := fmt.Sprintf(`{"source":"file:/var/log/kern.log","gen":"g","offset":%d,"line":%q}`+"\n", offset, line)
		offset += 200
		if code, m := postIngest(t, base, "token-web1", "", body); code != 200 {
			t.Fatalf("ingest %d %v", code, m)
		}
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("%s never happened: %q\n%s", what, kinds(), lh.out.String())
	}
	send("Nov 25 10:00:01 web1 kernel: sdb: I/O error, dev sdb, sector 42")
	eventually("the alert delivered", func() bool { return len(kinds()) >= 1 })
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "watchpost.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int64
	var source, key string
	var public int
	if err := db.QueryRow(`SELECT id, source, incident_key, public FROM incidents`).Scan(&id, &source, &key, &public); err != nil {
		t.Fatal(err)
	}
	if source != "rule" || public != 0 || !strings.Contains(key, "I/O errors on sdb") {
		t.Errorf("incident %d %q %q public=%d", id, source, key, public)
	}
	// The same alert again: the incident counts it, nobody hears it twice.
	send("Nov 25 10:00:02 web1 kernel: sdb: I/O error, dev sdb, sector 43")
	eventually("the repeat counted", func() bool {
		var n int
		db.QueryRow(`SELECT fired FROM incidents WHERE id = ?`, id).Scan(&n)
		return n == 2
	})
	eventually("a reminder", func() bool { return strings.Contains(strings.Join(kinds(), " "), "reminder") })
	if k := kinds(); k[0] != "rule_alert" || strings.Count(strings.Join(k, " "), "rule_alert") != 1 {
		t.Errorf("messages %q: want one rule_alert", k)
	}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/incidents/%d/ack", base, id), nil)
	req.Header.Set("Authorization", "Bearer e2e-admin-token-0123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ack: %s", resp.Status)
	}
	ackedAt := time.Now()
	// A reminder queued just before the ack may still be in flight.
	time.Sleep(time.Second)
	settled := len(kinds())
	time.Sleep(5 * time.Second) // two and a half repeat intervals
	if k := kinds(); len(k) != settled {
		t.Errorf("messages after the ack: %q", k[settled:])
	}
	var late int
	db.QueryRow(`SELECT count(*) FROM outbox WHERE kind = 'reminder' AND created > ?`, ackedAt.Add(time.Second).UnixNano()).Scan(&late)
	if late != 0 {
		t.Errorf("%d reminders queued after the ack", late)
	}
	// A status-page update cannot resolve a rule's incident behind the
	// receivers' backs; the resolve API does, and tells them.
	if code := postAdmin(t, fmt.Sprintf("%s/api/v1/incidents/%d/updates", base, id), `{"status":"resolved","message":"gone"}`); code != http.StatusConflict {
		t.Errorf("resolving a rule incident by a status update: %d, want 409", code)
	}
	if code := postAdmin(t, fmt.Sprintf("%s/api/v1/incidents/%d/resolve", base, id), ``); code != 200 {
		t.Fatalf("resolve: %d", code)
	}
	eventually("a resolved message", func() bool { k := kinds(); return len(k) > settled })
}

// postAdmin posts body to url with the admin token and returns the status.
func postAdmin(t *testing.T, url, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer e2e-admin-token-0123")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
