package alerting

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const routesYAML = `  email: {smtp: "mail.example.test:587", from: w@example.test, to: [admins@example.test], password: s3cret}
  matrix: {homeserver: "https://matrix.example.test", access_token: tok, room: "!ops:example.test"}
  receivers:
    db-team: {email: {to: [dba@example.test]}}
    oncall: {matrix: {room: "!oncall:example.test"}}
    web: {webhook: {url: "https://hooks.example.test/x", secret: "0123456789abcdef0123"}, rate_limit: 10}
  routes:
    - match: {service: "=~mysql|postgres"}
      receiver: db-team
      continue: true
    - match: {severity: critical, source: "!=rule"}
      receiver: oncall
    - match: {service: "=~(mysql|postgres)"}
      receiver: web
    - match: {host: "=~web[0-9]+"}
      receiver: web
`

// TestRouterMatch: equality, regular expressions (anchored), negation,
// first match wins unless continue, the default receiver when nothing
// matches.
func TestRouterMatch(t *testing.T) {
	r, err := NewRouter(alertingConfig(t, routesYAML))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		labels Labels
		want   []string
	}{
		{Labels{"service": "mysql", "severity": "warning"}, []string{"db-team", "web"}},
		{Labels{"service": "postgres", "severity": "critical", "source": "check"}, []string{"db-team", "oncall"}},
		{Labels{"service": "mysql2", "severity": "warning"}, []string{"default"}}, // anchored
		{Labels{"severity": "critical", "source": "rule"}, []string{"default"}},
		{Labels{"severity": "critical", "source": "check"}, []string{"oncall"}},
		{Labels{"host": "web12"}, []string{"web"}},
		{Labels{"host": "<script>web1</script>"}, []string{"default"}},
		{Labels{}, []string{"default"}},
	} {
		var got []string
		for _, rt := range r.Match(tc.labels) {
			got = append(got, rt.Receiver)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s went to %v, want %v", tc.labels, got, tc.want)
		}
	}
	var nilRouter *Router
	if got := nilRouter.Match(Labels{"a": "b"}); len(got) != 1 || got[0].Receiver != DefaultReceiver {
		t.Errorf("no router: %+v", got)
	}
}

// TestRoutedDeliveries: a row gets a delivery per channel of each
// receiver its routes name, not one per configured receiver; a named
// receiver's channels carry its name.
func TestRoutedDeliveries(t *testing.T) {
	db := openDB(t)
	def, dba, oncall := &recorder{}, &recorder{}, &mxRecorder{}
	a := alertingConfig(t, routesYAML)
	router, err := NewRouter(a)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t0}
	d := New(db, Config{Email: def, Router: router, Now: c.now, Hostname: "lh",
		Receivers: map[string]Receiver{"db-team": {Email: dba}, "oncall": {Matrix: oncall}, "web": {}},
		Checks:    map[string]CheckInfo{"db1-ping": {Labels: map[string]string{"host": "db1"}}}})
	mysql := queue(t, db, t0, "rule_alert", ruleAlert("warning", "slow queries", `"service":"mysql"`))
	other := queue(t, db, t0, "rule_alert", ruleAlert("warning", "disk", `"service":"backup"`))
	down := queue(t, db, t0, "check_down", `{"check":"db1-ping","from":"up","to":"down","incident":4}`)
	drain(t, d)
	c.add(ruleGroupWait) // the rule alert no route claims waits for its group
	drain(t, d)
	rows, _ := db.Query(`SELECT outbox_id, receiver FROM deliveries ORDER BY outbox_id, receiver`)
	var got []string
	for rows.Next() {
		var id int64
		var ch string
		rows.Scan(&id, &ch)
		got = append(got, ch+"@"+map[int64]string{mysql: "mysql", other: "other", down: "down"}[id])
	}
	rows.Close()
	want := []string{"db-team/email@mysql", "email@other", "oncall/matrix@down"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deliveries %v, want %v", got, want)
	}
	if len(dba.msgs) != 1 || len(def.msgs) != 1 || len(oncall.msgs) != 1 {
		t.Fatalf("db-team %v, default %v, oncall %d", dba.subjects(), def.subjects(), len(oncall.msgs))
	}
	if oncall.msgs[0].TxnID != "watchpost-oncall-3" || oncall.msgs[0].Notice {
		t.Errorf("oncall Matrix message %+v", oncall.msgs[0])
	}
	var labels string
	db.QueryRow(`SELECT labels FROM outbox WHERE id = ?`, down).Scan(&labels)
	if labels != `{"check":"db1-ping","host":"db1","service":"db1-ping","severity":"critical","source":"check"}` {
		t.Errorf("labels of a check row: %s", labels)
	}
}

// TestBuildReceiversInherit: a named receiver's email inherits server,
// sender and credentials from alerting.email, its Matrix room the
// homeserver and token of alerting.matrix.
func TestBuildReceiversInherit(t *testing.T) {
	rs, err := BuildReceivers(alertingConfig(t, routesYAML), "lh")
	if err != nil {
		t.Fatal(err)
	}
	if got := rs["db-team"].describe; !reflect.DeepEqual(got, []string{"email to dba@example.test through mail.example.test:587"}) {
		t.Errorf("db-team: %v", got)
	}
	if got := rs["oncall"].describe; !reflect.DeepEqual(got, []string{"Matrix room !oncall:example.test on https://matrix.example.test"}) {
		t.Errorf("oncall: %v", got)
	}
	if rs["oncall"].Matrix.(*Matrix).cfg.AccessToken != "tok" || rs["db-team"].Email == nil || rs["web"].RateLimit != 10 {
		t.Errorf("inheritance lost: %+v", rs)
	}
	if len(rs[DefaultReceiver].channels(DefaultReceiver)) != 2 {
		t.Errorf("default channels %v", rs[DefaultReceiver].channels(DefaultReceiver))
	}
}

// TestRouteTestCommand: `watchpost alerts route-test` prints the routes
// and where they lead; bad arguments are usage errors.
func TestRouteTestCommand(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "w.yml")
	os.WriteFile(cfg, []byte("alerting:\n"+routesYAML), 0o600)
	for _, tc := range []struct {
		args []string
		rc   int
		want []string
	}{
		{[]string{"service=mysql", "severity=critical", "source=check", "-config", cfg}, 0,
			[]string{`route 1 {service=~"mysql|postgres"} (continue)`, "-> db-team: email to dba@example.test through mail.example.test:587", "route 2", "-> oncall: Matrix room !oncall:example.test"}},
		{[]string{"-config=" + cfg, "service=backup"}, 0, []string{"no route matches: the default receiver", "-> default: email to admins@example.test"}},
		{[]string{"service"}, 2, nil},
		{[]string{"service=x"}, 2, nil},
	} {
		var out, errb strings.Builder
		rc := Main(context.Background(), append([]string{"route-test"}, tc.args...), &out, &errb)
		if rc != tc.rc {
			t.Errorf("%v: rc %d, want %d (%s)", tc.args, rc, tc.rc, errb.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out.String())
			}
		}
	}
}

func FuzzParseMatcher(f *testing.F) {
	for _, s := range []string{"service=mysql", "host=~web[0-9]+", "a!=b", "a!~(", "=x", "x", "a=~\x00", "sev=~.*\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMatcher(s)
		if err != nil {
			return
		}
		m.Matches(Labels{m.Name: s})
		_ = m.String()
	})
}

func FuzzLabelsOf(f *testing.F) {
	d := New(nil, Config{Checks: map[string]CheckInfo{"x": {Labels: map[string]string{"a": "b"}}}})
	for _, k := range []string{"check_down", "rule_alert", "metric_threshold", "host_silent", "reminder", "other"} {
		f.Add(k, `{"check":"x","labels":{"source":"evil","host":"<script>"},"Labels":{"@room":"\r\n"}}`)
	}
	f.Fuzz(func(t *testing.T, kind, payload string) {
		l := d.labelsOf(kind, []byte(payload))
		if l["severity"] == "" {
			t.Fatalf("no severity: %v", l)
		}
		r := row{id: 1, kind: kind, payload: []byte(payload)}
		d.render(r)
		d.renderBatch([]row{r, r})
	})
}

func BenchmarkRouterMatch(b *testing.B) {
	r, err := NewRouter(alertingConfig(b, routesYAML))
	if err != nil {
		b.Fatal(err)
	}
	l := Labels{"service": "postgres", "severity": "critical", "source": "check", "host": "db1"}
	b.ReportAllocs()
	for b.Loop() {
		r.Match(l)
	}
}

// TestAlertsTestReceiver: `watchpost alerts test RECEIVER` sends through
// that receiver's destinations; an unknown name is a usage error.
func TestAlertsTestReceiver(t *testing.T) {
	var got []WebhookPayload
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p WebhookPayload
		json.NewDecoder(r.Body).Decode(&p)
		got = append(got, p)
	}))
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "w.yml")
	os.WriteFile(cfg, []byte("alerting:\n  receivers:\n    hooks: {webhook: {url: \""+srv.URL+"\", secret: \"0123456789abcdef0\"}}\n"), 0o600)
	var out, errb strings.Builder
	if rc := Main(context.Background(), []string{"test", "hooks", "-config", cfg}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	if len(got) != 1 || got[0].Kind != "test" || !strings.Contains(out.String(), "sent a test message to hooks (webhook "+srv.URL+")") {
		t.Errorf("got %+v, output %q", got, out.String())
	}
	if rc := Main(context.Background(), []string{"test", "-config", cfg, "nobody"}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), `no receiver is named "nobody"`) {
		t.Errorf("unknown receiver: rc %d %q", rc, errb.String())
	}
}
