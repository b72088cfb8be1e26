package alerting

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any, []map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: content type %q", method, path, ct)
	}
	var obj map[string]any
	var list []map[string]any
	if json.Unmarshal(w.Body.Bytes(), &obj) != nil {
		json.Unmarshal(w.Body.Bytes(), &list)
	}
	return w.Code, obj, list
}

// TestSilences: a silence made through the API mutes the alerts it
// matches (kept on the row as suppressed, counted), others go out; once
// expired, alerts go out again. Bad requests get 4xx JSON errors.
func TestSilences(t *testing.T) {
	db := openDB(t)
	rec := &recorder{}
	c := &clock{t0}
	d := New(db, Config{Email: rec, Now: c.now, Hostname: "lh"})
	h := SilencesHandler(db, c.now)

	code, s, _ := call(t, h, "POST", "/api/v1/silences",
		`{"match":["service=~mysql|postgres","host!=db9"],"duration":"2h","author":"ana <script>","comment":"upgrade\r\n@room"}`)
	if code != 201 || s["id"] != 1.0 || s["active"] != true {
		t.Fatalf("create: %d %v", code, s)
	}
	muted := queue(t, db, t0, "rule_alert", ruleAlert("critical", "replication broken", `"service":"mysql","host":"db1"`))
	loud := queue(t, db, t0, "rule_alert", ruleAlert("critical", "replication broken", `"service":"mysql","host":"db9"`))
	drain(t, d)
	c.add(ruleGroupWait) // rule alerts no route claims are grouped by rule
	drain(t, d)
	if got := note(t, db, muted); got != `suppressed: silenced by #1 (ana <script>: upgrade @room)` {
		t.Errorf("muted row says %q", got)
	}
	if got := rec.subjects(); len(got) != 1 {
		t.Errorf("sent %v, want only the unsilenced alert (#%d)", got, loud)
	}
	code, _, list := call(t, h, "GET", "/api/v1/silences", "")
	if code != 200 || len(list) != 1 || list[0]["author"] != "ana <script>" {
		t.Errorf("list: %d %v", code, list)
	}
	c.add(time.Minute)
	if code, obj, _ := call(t, h, "DELETE", "/api/v1/silences/1", ""); code != 200 || obj["expired"] != true {
		t.Errorf("expire: %d %v", code, obj)
	}
	again := queue(t, db, c.t, "rule_alert", ruleAlert("critical", "replication broken", `"service":"mysql","host":"db1"`))
	drain(t, d)
	c.add(5 * time.Minute) // the rule's group interval
	drain(t, d)
	if got := note(t, db, again); got != "" || len(rec.subjects()) != 2 {
		t.Errorf("after expiry: note %q, sent %v", got, rec.subjects())
	}
	if _, _, list := call(t, h, "GET", "/api/v1/silences", ""); len(list) != 0 {
		t.Errorf("expired silence still listed as running: %v", list)
	}
	if _, _, list := call(t, h, "GET", "/api/v1/silences?all=1", ""); len(list) != 1 || list[0]["active"] != false {
		t.Errorf("?all=1: %v", list)
	}
	for _, tc := range []struct {
		method, path, body string
		code               int
		err                string
	}{
		{"POST", "/api/v1/silences", `{`, 400, "want a JSON silence"},
		{"POST", "/api/v1/silences", `{"match":["a=b"],"duration":"1h","author":"x"}`, 400, "author and comment are required"},
		{"POST", "/api/v1/silences", `{"match":["a=~("],"duration":"1h","author":"x","comment":"y"}`, 400, "bad regular expression"},
		{"POST", "/api/v1/silences", `{"duration":"1h","author":"x","comment":"y"}`, 400, "at least one matcher"},
		{"POST", "/api/v1/silences", `{"match":["a=b"],"author":"x","comment":"y"}`, 400, "ends must be after"},
		{"POST", "/api/v1/silences", `{"match":["a=b"],"duration":"-1h","author":"x","comment":"y"}`, 400, "duration"},
		{"POST", "/api/v1/silences", `{"match":["a=b"],"duration":"1h","author":"x","comment":"y","evil":1}`, 400, "unknown field"},
		{"DELETE", "/api/v1/silences/1", ``, 404, "no running silence #1"},
		{"DELETE", "/api/v1/silences/x", ``, 400, "want a silence id"},
		{"PUT", "/api/v1/silences", ``, 405, "use GET, POST or DELETE"},
	} {
		code, obj, _ := call(t, h, tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(obj["error"].(string), tc.err) {
			t.Errorf("%s %s %s: %d %v, want %d %q", tc.method, tc.path, tc.body, code, obj, tc.code, tc.err)
		}
	}
	// A silence with explicit matchers and a future start mutes nothing yet.
	code, s, _ = call(t, h, "POST", "/api/v1/silences?id=", `{"matchers":[{"name":"service","op":"=","value":"web"}],"starts":"2026-11-26T00:00:00Z","ends":"2026-11-26T02:00:00Z","author":"b","comment":"later"}`)
	if code != 201 || s["active"] != false {
		t.Errorf("future silence: %d %v", code, s)
	}
	web := queue(t, db, c.t, "rule_alert", ruleAlert("warning", "slow", `"service":"web"`))
	drain(t, d)
	if got := note(t, db, web); got != "" {
		t.Errorf("a future silence muted now: %q", got)
	}
}

// FuzzSilencesPOST: whatever the body, the API answers 201 or a 4xx with
// a JSON error, never a 500 or a panic.
func FuzzSilencesPOST(f *testing.F) {
	db := openDB(f)
	h := SilencesHandler(db, func() time.Time { return t0 })
	for _, s := range []string{`{"match":["a=b"],"duration":"1h","author":"x","comment":"y"}`, `{"matchers":[{"name":"a","op":"=~","value":"("}]}`,
		`{"match":["=x"]}`, `[]`, `{"starts":"x"}`, `{"match":["a=b"],"starts":"2026-11-25T03:00:00Z","ends":"2026-11-25T02:00:00Z","author":"x","comment":"y"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/v1/silences", strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 201 && (w.Code < 400 || w.Code >= 500) {
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
		var obj map[string]any
		if json.Unmarshal(w.Body.Bytes(), &obj) != nil || (w.Code != 201 && obj["error"] == nil) {
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
	})
}
