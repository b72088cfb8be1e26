package alerting

import (
	"strings"
	"testing"
	"time"
)

// TestDependencies: while a parent check is down, a child's outage (a
// check-level depends_on) and a route's alerts (route depends_on) are
// suppressed and say why; the child's recovery follows silently; the
// parent's own alert goes out; once the parent is up, alerts flow.
func TestDependencies(t *testing.T) {
	db := openDB(t)
	a := alertingConfig(t, `  email: {smtp: "m.example.test:25", from: w@example.test, to: [a@example.test]}
  routes:
    - match: {service: "=~db.*"}
      receiver: default
      depends_on: [router-ping]
`)
	router, err := NewRouter(a)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	c := &clock{t0}
	d := New(db, Config{Email: rec, Router: router, Now: c.now, Hostname: "lh",
		Checks: map[string]CheckInfo{"wiki": {DependsOn: []string{"router-ping"}}, "router-ping": {DependsOn: []string{"router-ping"}}}})
	setState := func(status int) {
		db.Exec(`INSERT OR REPLACE INTO check_state(check_name, status, since, last_time, pending, pending_since, streak) VALUES('router-ping', ?, 0, 0, 0, 0, 0)`, status)
	}
	setState(statusDown)
	parent := queue(t, db, t0, "check_down", `{"check":"router-ping","from":"up","to":"down","detail":"100% loss","incident":1}`)
	child := queue(t, db, t0, "check_down", `{"check":"wiki","from":"up","to":"down","detail":"timeout","incident":2}`)
	rule := queue(t, db, t0, "rule_alert", ruleAlert("critical", "db gone", `"service":"db1"`))
	other := queue(t, db, t0, "rule_alert", ruleAlert("critical", "disk full", `"service":"files"`))
	drain(t, d)
	c.add(time.Minute)
	childUp := queue(t, db, c.t, "check_up", `{"check":"wiki","from":"down","to":"up","incident":2}`)
	drain(t, d)
	for id, want := range map[int64]string{
		parent:  "",
		child:   "suppressed: depends on router-ping, which is down",
		rule:    "suppressed: depends on router-ping, which is down",
		other:   "",
		childUp: "suppressed: its outage was not announced",
	} {
		if got := note(t, db, id); got != want {
			t.Errorf("row %d: %q, want %q", id, got, want)
		}
	}
	if got := rec.subjects(); len(got) != 2 || !strings.Contains(got[0], "router-ping") || !strings.Contains(got[1], "disk full") {
		t.Errorf("sent %q", got)
	}
	setState(statusUp)
	again := queue(t, db, c.t, "rule_alert", ruleAlert("critical", "db gone", `"service":"db1"`))
	drain(t, d)
	if got := note(t, db, again); got != "" || len(rec.subjects()) != 3 {
		t.Errorf("with the parent up: %q, sent %q", got, rec.subjects())
	}
}

// TestHostSilent: a collector that stops reporting opens one "host
// silent" alert; when it reports again, one "back", threaded; hostile
// host names stay inert.
func TestHostSilent(t *testing.T) {
	db := openDB(t)
	rec := &recorder{}
	c := &clock{t0}
	d := New(db, Config{Email: rec, Now: c.now, Hostname: "lh", HostSilentAfter: 15 * time.Minute})
	db.Exec(`INSERT INTO hosts(name, first_seen, last_seen) VALUES('web1', ?, ?), ('db1', ?, ?), (?, ?, ?)`,
		t0.UnixNano(), t0.UnixNano(), t0.UnixNano(), t0.Add(20*time.Minute).UnixNano(), "<script>@room\r\nBcc: x", t0.UnixNano(), t0.Add(20*time.Minute).UnixNano())
	for _, at := range []time.Duration{10 * time.Minute, 16 * time.Minute, 17 * time.Minute} {
		c.t = t0.Add(at)
		drain(t, d)
	}
	if got := rec.subjects(); len(got) != 1 || got[0] != "[watchpost] host web1 is silent" {
		t.Fatalf("sent %q", got)
	}
	var labels string
	db.QueryRow(`SELECT labels FROM outbox WHERE kind = 'host_silent'`).Scan(&labels)
	if labels != `{"host":"web1","severity":"critical","source":"host_silent"}` {
		t.Errorf("labels %s", labels)
	}
	db.Exec(`UPDATE hosts SET last_seen = ? WHERE name = 'web1'`, t0.Add(18*time.Minute).UnixNano())
	c.t = t0.Add(18 * time.Minute)
	drain(t, d)
	c.t = t0.Add(40 * time.Minute) // db1 and the hostile one go quiet too
	db.Exec(`UPDATE hosts SET last_seen = ? WHERE name = 'web1'`, t0.Add(39*time.Minute).UnixNano())
	drain(t, d)
	got := rec.subjects()
	if len(got) != 4 || !strings.Contains(rec.msgs[1].Text, "REPORTING AGAIN") || rec.msgs[1].InReplyTo != rec.msgs[0].MessageID {
		t.Fatalf("sent %q", got)
	}
	for _, m := range rec.msgs[2:] {
		if strings.ContainsAny(m.Subject, "\r\n") || strings.Contains(m.HTML, "<script>") || strings.ContainsAny(m.MessageID, "<>@\r\n ") && !strings.HasSuffix(m.MessageID, "@lh") {
			t.Errorf("hostile host name not inert: %+v", m)
		}
	}
}

// TestDependencyWhileWaiting: a child's outage waiting in its group when
// the parent goes down is muted at send time; its recovery follows it
// into silence.
func TestDependencyWhileWaiting(t *testing.T) {
	d, rec, c := groupDispatcher(t, groupYAML)
	d.cfg.Checks = map[string]CheckInfo{"wiki": {DependsOn: []string{"router-ping"}}}
	db := d.db
	child := queue(t, db, t0, "check_down", `{"check":"wiki","from":"up","to":"down","detail":"timeout","incident":1}`)
	drain(t, d) // waits for the group
	c.add(10 * time.Second)
	db.Exec(`INSERT INTO check_state(check_name, status, since, last_time, pending, pending_since, streak) VALUES('router-ping', ?, 0, 0, 0, 0, 0)`, statusDown)
	queue(t, db, c.t, "check_down", `{"check":"router-ping","from":"up","to":"down","detail":"loss","incident":2}`)
	drain(t, d)
	c.add(30 * time.Second)
	drain(t, d)
	up := queue(t, db, c.t, "check_up", `{"check":"wiki","from":"down","to":"up","incident":1}`)
	drain(t, d)
	if got := rec.subjects(); len(got) != 1 || got[0] != "[watchpost] router-ping (incident #2)" {
		t.Errorf("sent %q", got)
	}
	var why string
	db.QueryRow(`SELECT last_error FROM deliveries WHERE outbox_id = ?`, child).Scan(&why)
	if why != "suppressed: depends on router-ping, which is down" || note(t, db, up) != "suppressed: its outage was not announced" {
		t.Errorf("child delivery %q, recovery %q", why, note(t, db, up))
	}
}
