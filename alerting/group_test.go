package alerting

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

const groupYAML = `  email: {smtp: "mail.example.test:587", from: w@example.test, to: [admins@example.test]}
  routes:
    - match: {source: rule}
      receiver: default
      group_by: [service]
      group_wait: 30s
      group_interval: 5m
    - match: {source: check}
      receiver: default
      group_by: [source]
      group_wait: 30s
      group_interval: 5m
`

func groupDispatcher(t testing.TB, yml string) (*Dispatcher, *recorder, *clock) {
	t.Helper()
	db := openDB(t)
	a := alertingConfig(t, yml)
	router, err := NewRouter(a)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	c := &clock{t0}
	rs := map[string]Receiver{}
	for name := range a.Receivers {
		rs[name] = Receiver{Email: &recorder{}}
	}
	rs[DefaultReceiver] = Receiver{Email: rec, RateLimit: a.RateLimit}
	return New(db, Config{Router: router, Receivers: rs, Now: c.now, Hostname: "lh"}), rec, c
}

// TestGrouping: alerts of one group within the group wait go as one
// message; later ones wait for the group interval; resolutions go at
// once; an outage and its recovery that both waited untried go as one.
func TestGrouping(t *testing.T) {
	d, rec, c := groupDispatcher(t, groupYAML)
	db := d.db
	step := func(at time.Duration, rows [][2]string, want []string) {
		t.Helper()
		c.t = t0.Add(at)
		for _, r := range rows {
			queue(t, db, c.t, r[0], r[1])
		}
		before := len(rec.subjects())
		drain(t, d)
		got := rec.subjects()[before:]
		if len(got) == 0 {
			got = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("at +%s sent %q, want %q", at, got, want)
		}
	}
	step(0, [][2]string{
		{"rule_alert", ruleAlert("warning", "db slow 1", `"service":"db"`)},
		{"rule_alert", ruleAlert("warning", "db slow 2", `"service":"db"`)},
		{"rule_alert", ruleAlert("critical", "web <b>down</b>", `"service":"web"`)},
		{"check_down", `{"check":"wiki","from":"up","to":"down","since":"2026-11-25T03:00:00Z","detail":"503","incident":1}`},
	}, nil)
	step(10*time.Second, [][2]string{{"rule_alert", ruleAlert("warning", "db slow 3", `"service":"db"`)}}, nil)
	step(30*time.Second, nil, []string{
		`[watchpost] 3 alerts (3 firing, 0 resolved) {service="db"}`,
		"[watchpost] CRITICAL: web <b>down</b>",
		"[watchpost] wiki (incident #1)",
	})
	// A new member of a group that spoke waits for the group interval.
	step(time.Minute, [][2]string{{"rule_alert", ruleAlert("warning", "db slow 4", `"service":"db"`)}}, nil)
	step(2*time.Minute, nil, nil)
	// The recovery goes at once, not held by the group interval.
	step(3*time.Minute, [][2]string{{"check_up", `{"check":"wiki","from":"down","to":"up","since":"2026-11-25T03:03:00Z","incident":1}`}},
		[]string{"[watchpost] wiki (incident #1)"})
	// An outage waiting for its group's interval and its recovery: one message.
	step(4*time.Minute, [][2]string{{"check_down", `{"check":"dns","from":"up","to":"down","since":"2026-11-25T03:04:00Z","detail":"SERVFAIL","incident":2}`}}, nil)
	step(4*time.Minute+20*time.Second, [][2]string{{"check_up", `{"check":"dns","from":"down","to":"up","since":"2026-11-25T03:04:20Z","incident":2}`}},
		[]string{"[watchpost] dns (incident #2)"})
	m := rec.msgs[len(rec.msgs)-1]
	if !strings.Contains(m.Text, "dns was DOWN from") || !strings.Contains(m.Text, "has RECOVERED") || !strings.Contains(m.Text, "SERVFAIL") ||
		m.MessageID != "watchpost.incident.2@lh" || m.InReplyTo != "" {
		t.Errorf("merged message %+v", m)
	}
	step(5*time.Minute+30*time.Second, nil, []string{"[watchpost] WARNING: db slow 4"})
	digest := rec.msgs[0]
	for _, w := range []string{"db slow 1", "db slow 2", "db slow 3"} {
		if !strings.Contains(digest.Text, w) {
			t.Errorf("digest lacks %q:\n%s", w, digest.Text)
		}
	}
	if rec.msgs[1].HTML != "" && strings.Contains(rec.msgs[1].HTML, "<b>down") {
		t.Errorf("HTML not escaped: %s", rec.msgs[1].HTML)
	}
	// The batch is fixed: its rows share one batch id, recorded.
	var n int
	db.QueryRow(`SELECT count(DISTINCT batch) FROM deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE o.payload LIKE '%db slow _%' AND o.payload NOT LIKE '%slow 4%'`).Scan(&n)
	if n != 1 {
		t.Errorf("the db digest's rows are in %d batches", n)
	}
}

// TestBatchRetrySendsTheSame: a group attempted while the receiver is
// down keeps its members, Message-ID and txnId on retry; what arrives
// meanwhile waits for the next message.
func TestBatchRetrySendsTheSame(t *testing.T) {
	d, rec, c := groupDispatcher(t, groupYAML)
	rec.down = true
	for i := range 2 {
		queue(t, d.db, c.t, "rule_alert", ruleAlert("warning", fmt.Sprintf("db slow %d", i), `"service":"db"`))
	}
	drain(t, d)
	c.add(30 * time.Second)
	drain(t, d)
	queue(t, d.db, c.t, "rule_alert", ruleAlert("warning", "db slow late", `"service":"db"`))
	rec.down = false
	c.add(time.Hour)
	drain(t, d)
	c.add(time.Minute) // the late one started a new wait
	drain(t, d)
	got := rec.subjects()
	if len(got) != 2 || got[0] != `[watchpost] 2 alerts (2 firing, 0 resolved) {service="db"}` || got[1] != "[watchpost] WARNING: db slow late" {
		t.Errorf("sent %q", got)
	}
	if rec.msgs[0].MessageID != "watchpost.batch.email.1@lh" {
		t.Errorf("batch Message-ID %q", rec.msgs[0].MessageID)
	}
	var attempts int
	d.db.QueryRow(`SELECT attempts FROM deliveries WHERE outbox_id = 1`).Scan(&attempts)
	if attempts != 2 {
		t.Errorf("attempts %d, want 2", attempts)
	}
}

// TestRateLimit: a receiver gets at most rate_limit messages a minute;
// the rest wait, none is lost.
func TestRateLimit(t *testing.T) {
	d, rec, c := groupDispatcher(t, "  email: {smtp: \"m.example.test:25\", from: w@example.test, to: [a@example.test]}\n  rate_limit: 2\n")
	for i := range 5 {
		queue(t, d.db, c.t, "check_down", fmt.Sprintf(`{"check":"c%d","from":"up","to":"down","incident":%d}`, i, i+1))
	}
	for i, want := range []int{2, 2, 4, 4, 5} {
		drain(t, d)
		if got := len(rec.subjects()); got != want {
			t.Fatalf("pass %d: %d sent, want %d", i, got, want)
		}
		c.add(30 * time.Second)
	}
}

// TestRuleFloodGrouped: a rule whose title is the line ($0) fed 200
// distinct lines sends one message, after the group wait, not 200; more
// lines in the next minutes wait for the group interval. The default
// configuration also caps the default receiver at 20 messages a minute.
func TestRuleFloodGrouped(t *testing.T) {
	d, rec, c := groupDispatcher(t, "  email: {smtp: \"m.example.test:25\", from: w@example.test, to: [a@example.test]}\n")
	if d.cfg.Receivers[DefaultReceiver].RateLimit != 20 {
		t.Errorf("default rate limit %d, want 20", d.cfg.Receivers[DefaultReceiver].RateLimit)
	}
	flood := func(n int) {
		for i := range n {
			queue(t, d.db, c.t, "rule_alert", ruleAlert("warning", fmt.Sprintf("sshd: Invalid user u%d from 203.0.113.%d", c.t.Unix()+int64(i), i%250),
				`"rule":"/etc/watchpost/rules.conf:12"`))
		}
		drain(t, d)
	}
	flood(200)
	if n := len(rec.subjects()); n != 0 {
		t.Fatalf("%d messages before the group wait", n)
	}
	c.add(ruleGroupWait)
	drain(t, d)
	if got := rec.subjects(); len(got) != 1 || !strings.Contains(got[0], "200 alerts") {
		t.Fatalf("after the wait: %q", got)
	}
	for range 4 {
		c.add(time.Minute)
		flood(50)
	}
	c.add(time.Minute)
	drain(t, d)
	if got := rec.subjects(); len(got) != 2 || !strings.Contains(got[1], "200 alerts") {
		t.Fatalf("after the group interval: %q", got)
	}
}
