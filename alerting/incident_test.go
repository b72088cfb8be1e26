package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const incidentYAML = `  email: {smtp: "m.example.test:25", from: w@example.test, to: [a@example.test]}
  receivers:
    oncall: {email: {to: [oncall@example.test]}}
  repeat_interval: 1h
  repeat_max: 2
  routes:
    - match: {source: "=~rule|metric|host_silent|loghost"}
      receiver: default
      escalate_after: 30m
      escalate_to: oncall
`

type incidentRig struct {
	d           *Dispatcher
	db          *sql.DB
	def, oncall *recorder
	mx          *mxRecorder
	c           *clock
}

func newIncidentRig(t *testing.T, cfg Config) *incidentRig {
	t.Helper()
	db := openDB(t)
	router, err := NewRouter(alertingConfig(t, incidentYAML))
	if err != nil {
		t.Fatal(err)
	}
	r := &incidentRig{db: db, def: &recorder{}, oncall: &recorder{}, mx: &mxRecorder{}, c: &clock{t0}}
	cfg.Router, cfg.Now, cfg.Hostname = router, r.c.now, "lh"
	cfg.Receivers = map[string]Receiver{DefaultReceiver: {Email: r.def, Matrix: r.mx}, "oncall": {Email: r.oncall}}
	r.d = New(db, cfg)
	return r
}

// inTx runs f in a transaction, as a source does.
func inTx(t *testing.T, db *sql.DB, f func(tx *sql.Tx) error) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func (r *incidentRig) fire(t *testing.T, a Alert) (int64, bool) {
	t.Helper()
	var id int64
	var opened bool
	inTx(t, r.db, func(tx *sql.Tx) (err error) {
		id, opened, err = Fire(context.Background(), tx, a)
		return err
	})
	return id, opened
}

// at moves the clock and drains twice (queued in one pass, sent in the
// next at the latest); it returns the new email subjects (default and
// oncall, the latter prefixed "oncall: ").
func (r *incidentRig) at(t *testing.T, d time.Duration) []string {
	t.Helper()
	r.c.t = t0.Add(d)
	b1, b2 := len(r.def.subjects()), len(r.oncall.subjects())
	drain(t, r.d)
	drain(t, r.d)
	var out []string
	out = append(out, r.def.subjects()[b1:]...)
	for _, s := range r.oncall.subjects()[b2:] {
		out = append(out, "oncall: "+s)
	}
	return out
}

func (r *incidentRig) state(t *testing.T, id int64) (resolved, acked bool, fired int) {
	t.Helper()
	var res, ack sql.NullInt64
	if err := r.db.QueryRow(`SELECT resolved, acked, fired FROM incidents WHERE id = ?`, id).Scan(&res, &ack, &fired); err != nil {
		t.Fatal(err)
	}
	return res.Valid, ack.Valid, fired
}

func ruleAlertNow(at time.Time, labels map[string]string) Alert {
	return RuleAlert("critical", "sshd brute force", labels, at,
		map[string]any{"Severity": "critical", "Title": "sshd brute force", "Labels": labels, "Time": at, "Line": "Failed password for root"})
}

// TestRuleAlertIncident: a rule alert opens one incident; the same key
// firing again updates it without a second message; it is reminded and
// escalated while unacknowledged, threaded under its first message, and
// resolved (threaded) once quiet for the resolve period.
func TestRuleAlertIncident(t *testing.T) {
	r := newIncidentRig(t, Config{RuleResolveAfter: 3 * time.Hour})
	labels := map[string]string{"host": "web1", "service": "ssh"}
	id, opened := r.fire(t, ruleAlertNow(t0, labels))
	if !opened {
		t.Fatal("not opened")
	}
	got := r.at(t, 0)
	if len(got) != 1 || got[0] != "[watchpost] CRITICAL: sshd brute force" {
		t.Fatalf("first: %q", got)
	}
	if m := r.def.msgs[0]; m.MessageID != "watchpost.incident.1@lh" || m.InReplyTo != "" {
		t.Errorf("opening message ids %q %q", m.MessageID, m.InReplyTo)
	}
	for i := range 5 {
		again, opened := r.fire(t, ruleAlertNow(t0.Add(time.Duration(i+1)*10*time.Minute), labels))
		if again != id || opened {
			t.Fatalf("dedup: %d %v", again, opened)
		}
	}
	other, _ := r.fire(t, ruleAlertNow(t0.Add(time.Minute), map[string]string{"host": "web2", "service": "ssh"}))
	if other == id {
		t.Fatal("other labels, same incident")
	}
	r.d.db.Exec(`UPDATE incidents SET acked = 1 WHERE id = ?`, other) // only id is followed below
	var all []string
	for _, at := range []time.Duration{time.Minute, 20 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour} {
		for _, s := range r.at(t, at) {
			all = append(all, at.String()+" "+s)
		}
	}
	want := []string{
		"1m0s [watchpost] CRITICAL: sshd brute force", // web2's first message
		"30m0s oncall: [watchpost] sshd brute force (incident #1)",
		"1h0m0s [watchpost] sshd brute force (incident #1)",
		"2h0m0s [watchpost] sshd brute force (incident #1)",
	}
	if strings.Join(all, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(all, "\n"), strings.Join(want, "\n"))
	}
	if _, _, fired := r.state(t, id); fired != 6 {
		t.Errorf("fired %d times, want 6", fired)
	}
	rem := r.def.msgs[len(r.def.msgs)-1]
	if rem.InReplyTo != "watchpost.incident.1@lh" || !strings.Contains(rem.Text, "Reminder 2") {
		t.Errorf("reminder %+v", rem)
	}
	if mr := r.mx.msgs[len(r.mx.msgs)-1]; !mr.Notice || mr.Thread != "$ev1" {
		t.Errorf("Matrix reminder %+v", mr)
	}
	// web2 last fired at 1m, web1 at 50m: each resolves 3 h later.
	if got := r.at(t, 3*time.Hour+time.Minute); len(got) != 1 {
		t.Errorf("web2 resolution: %q", got)
	}
	if got := r.at(t, 3*time.Hour+49*time.Minute); len(got) != 0 {
		t.Errorf("resolved early: %q", got)
	}
	got = r.at(t, 3*time.Hour+50*time.Minute)
	if len(got) != 1 {
		t.Fatalf("resolution: %q", got)
	}
	if res, _, _ := r.state(t, id); !res {
		t.Error("not resolved")
	}
	var resolvedMsg Message
	for _, m := range r.def.msgs {
		if m.InReplyTo == "watchpost.incident.1@lh" && strings.HasPrefix(m.Text, "RESOLVED") {
			resolvedMsg = m
		}
	}
	if resolvedMsg.Subject != "[watchpost] CRITICAL: sshd brute force" {
		t.Errorf("resolved message %+v", resolvedMsg)
	}
	// Firing again after the resolution opens a new incident.
	if again, opened := r.fire(t, ruleAlertNow(t0.Add(5*time.Hour), labels)); again == id || !opened {
		t.Errorf("after resolution: %d %v", again, opened)
	}
}

// TestRuleAlertAckAndResolveByHand: an acknowledged rule incident gets no
// reminder nor escalation; resolving it by hand sends one threaded
// resolution; a check's incident cannot be resolved by hand.
func TestRuleAlertAckAndResolveByHand(t *testing.T) {
	r := newIncidentRig(t, Config{})
	id, _ := r.fire(t, RuleAlert("warning", "disk errors", map[string]string{"host": "db1", ResolveAfterLabel: "30m"}, t0, map[string]string{"Title": "disk errors"}))
	r.at(t, 0)
	if ok, err := Ack(context.Background(), r.db, id, "ana", t0.Add(5*time.Minute)); !ok || err != nil {
		t.Fatalf("ack %v %v", ok, err)
	}
	if got := r.at(t, 29*time.Minute); len(got) != 0 {
		t.Errorf("after ack: %q", got)
	}
	ok, err := ResolveByHand(context.Background(), r.db, id, "ana", t0.Add(29*time.Minute))
	if !ok || err != nil {
		t.Fatalf("resolve: %v %v", ok, err)
	}
	if ok, _ := ResolveByHand(context.Background(), r.db, id, "ana", t0.Add(29*time.Minute)); ok {
		t.Error("resolved twice")
	}
	got := r.at(t, 30*time.Minute)
	if len(got) != 1 || !strings.Contains(r.def.msgs[1].Text, "Resolved by ana") || r.def.msgs[1].InReplyTo != "watchpost.incident.1@lh" {
		t.Errorf("resolution %q %+v", got, r.def.msgs)
	}
	r.db.Exec(`INSERT INTO incidents(check_name, title, public, started) VALUES('wiki', 'wiki is down', 1, 0)`)
	if _, err := ResolveByHand(context.Background(), r.db, 2, "ana", t0); err != ErrCheckIncident {
		t.Errorf("check incident: %v", err)
	}
	var src, key string
	var public int
	r.db.QueryRow(`SELECT source, incident_key, public FROM incidents WHERE id = 1`).Scan(&src, &key, &public)
	if src != "rule" || public != 0 || !strings.Contains(key, `alertname="disk errors"`) || strings.Contains(key, "resolve_after") {
		t.Errorf("incident row %q %q %d", src, key, public)
	}
}

func metricEv(from, to string, at time.Time) map[string]any {
	return map[string]any{"host": "db1", "graph": "df", "field": "root", "label": "/", "from": from, "to": to,
		"value": 93.5, "range": ":90", "time": at, "since": t0}
}

// TestMetricIncident: warning opens, critical updates (threaded, one
// message), a repeat of the same level says nothing, ok resolves.
func TestMetricIncident(t *testing.T) {
	r := newIncidentRig(t, Config{})
	fire := func(from, to string, at time.Duration) {
		t.Helper()
		inTx(t, r.db, func(tx *sql.Tx) error {
			at := t0.Add(at)
			if to == "ok" {
				_, _, err := Resolve(context.Background(), tx, Resolution{Source: SourceMetric, Key: "db1/df/root", Time: at,
					Kind: "metric_threshold", Payload: metricEv(from, to, at)})
				return err
			}
			_, _, err := Fire(context.Background(), tx, Alert{Source: SourceMetric, Key: "db1/df/root", Severity: to, Title: "db1 df /",
				Labels: map[string]string{"host": "db1", "severity": to}, Time: at, Kind: "metric_threshold", Payload: metricEv(from, to, at)})
			return err
		})
	}
	fire("ok", "warning", 0)
	r.at(t, 0)
	fire("warning", "critical", time.Minute)
	r.at(t, time.Minute)
	fire("critical", "critical", 2*time.Minute) // a repeat: nothing to say
	r.at(t, 2*time.Minute)
	if got := r.at(t, 5*time.Minute); len(got) != 1 { // the group interval
		t.Errorf("update: %q", got)
	}
	fire("critical", "ok", 7*time.Minute)
	r.at(t, 7*time.Minute)
	if len(r.def.msgs) != 3 {
		t.Fatalf("%d messages: %q", len(r.def.msgs), r.def.subjects())
	}
	if r.def.msgs[0].MessageID != "watchpost.incident.1@lh" || r.def.msgs[1].InReplyTo != "watchpost.incident.1@lh" ||
		r.def.msgs[2].InReplyTo != "watchpost.incident.1@lh" || !strings.Contains(r.def.msgs[2].Text, "back inside") {
		t.Errorf("threading %+v", r.def.msgs)
	}
	if res, _, _ := r.state(t, 1); !res {
		t.Error("not resolved")
	}
	if r.mx.msgs[1].Thread != "$ev1" || r.mx.msgs[1].Notice || r.mx.msgs[2].Thread != "$ev1" || !r.mx.msgs[2].Notice {
		t.Errorf("Matrix %+v", r.mx.msgs)
	}
}

// TestHostSilentIncident: a silent collector opens an incident that is
// reminded and acknowledged like any other; its return resolves it.
func TestHostSilentIncident(t *testing.T) {
	r := newIncidentRig(t, Config{HostSilentAfter: 10 * time.Minute})
	r.db.Exec(`INSERT INTO hosts(name, first_seen, last_seen) VALUES('web1', 0, ?)`, t0.Add(-11*time.Minute).UnixNano())
	got := r.at(t, 0)
	if len(got) != 1 || got[0] != "[watchpost] host web1 is silent" {
		t.Fatalf("silent: %q", got)
	}
	if got := r.at(t, time.Minute); len(got) != 0 {
		t.Errorf("silent again: %q", got)
	}
	got = r.at(t, time.Hour)
	if strings.Join(got, "|") != "[watchpost] host web1 is silent (incident #1)|oncall: [watchpost] host web1 is silent (incident #1)" {
		t.Errorf("reminder/escalation: %q", got)
	}
	Ack(context.Background(), r.db, 1, "ana", t0.Add(time.Hour))
	if got := r.at(t, 2*time.Hour); len(got) != 0 {
		t.Errorf("after ack: %q", got)
	}
	r.db.Exec(`UPDATE hosts SET last_seen = ?`, t0.Add(3*time.Hour).UnixNano())
	got = r.at(t, 3*time.Hour)
	last := r.def.msgs[len(r.def.msgs)-1]
	if len(got) != 1 || !strings.Contains(last.Text, "REPORTING AGAIN") || last.InReplyTo != "watchpost.incident.1@lh" {
		t.Errorf("back: %q %+v", got, last)
	}
	if res, _, _ := r.state(t, 1); !res {
		t.Error("not resolved")
	}
}

// TestIncidentSilenceAndMaintenance: a silence matching a rule incident's
// labels mutes it and its reminders; a maintenance window mutes it, and
// what is still open when the window ends is announced then.
func TestIncidentSilenceAndMaintenance(t *testing.T) {
	inWindow := func(_ string, l map[string]string, at time.Time) bool {
		return l["host"] == "db1" && at.Before(t0.Add(20*time.Minute))
	}
	r := newIncidentRig(t, Config{Maintenance: inWindow})
	m, _ := ParseMatcher("host=web1")
	if _, err := CreateSilence(context.Background(), r.db, Silence{Matchers: []Matcher{m}, Ends: t0.Add(24 * time.Hour),
		Author: "ana", Comment: "rebuilding web1"}, t0); err != nil {
		t.Fatal(err)
	}
	r.fire(t, ruleAlertNow(t0, map[string]string{"host": "web1"}))
	r.fire(t, ruleAlertNow(t0, map[string]string{"host": "db1"}))
	if got := r.at(t, 0); len(got) != 0 {
		t.Fatalf("muted alerts sent: %q", got)
	}
	var notes []string
	rows, _ := r.db.Query(`SELECT suppressed FROM outbox ORDER BY id`)
	for rows.Next() {
		var s string
		rows.Scan(&s)
		notes = append(notes, s)
	}
	rows.Close()
	if len(notes) != 2 || !strings.HasPrefix(notes[0], "silenced by #1") || notes[1] != "maintenance" {
		t.Errorf("notes %q", notes)
	}
	got := r.at(t, 21*time.Minute)
	if len(got) != 1 || got[0] != "[watchpost] CRITICAL: sshd brute force" || r.def.msgs[0].MessageID != "watchpost.incident.2@lh" {
		t.Errorf("after the window: %q", got)
	}
	// The silenced incident is reminded into the void: its first message
	// was never sent, so there is nothing to remind of.
	for _, s := range r.at(t, 2*time.Hour) {
		if strings.Contains(s, "#1") {
			t.Errorf("silenced incident reminded: %q", s)
		}
	}
}

func TestFireErrors(t *testing.T) {
	db := openDB(t)
	inTx(t, db, func(tx *sql.Tx) error {
		if _, _, err := Fire(context.Background(), tx, Alert{Source: "check", Time: t0}); err == nil {
			t.Error("check source accepted")
		}
		if _, _, err := Fire(context.Background(), tx, Alert{Source: "rule"}); err == nil {
			t.Error("no time accepted")
		}
		if _, _, err := Fire(context.Background(), tx, Alert{Source: "rule", Time: t0, Kind: "rule_alert", Payload: []int{1}}); err == nil {
			t.Error("non-object payload accepted")
		}
		_, ok, err := Resolve(context.Background(), tx, Resolution{Source: "rule", Key: "x", Time: t0})
		if ok || err != nil {
			t.Errorf("resolve of nothing: %v %v", ok, err)
		}
		return nil
	})
	var payload string
	db.QueryRow(`SELECT count(*) FROM outbox`).Scan(&payload)
	if payload != "0" {
		t.Errorf("outbox rows: %s", payload)
	}
	_ = json.Valid
}

// TestIncidentOpenedAndResolvedWhileWaiting: a rule incident that opens
// and resolves within its group wait goes out as one message, the root
// of its thread, saying both.
func TestIncidentOpenedAndResolvedWhileWaiting(t *testing.T) {
	d, rec, c := groupDispatcher(t, `  email: {smtp: "m.example.test:25", from: w@example.test, to: [a@example.test]}
  routes:
    - match: {source: rule}
      receiver: default
      group_wait: 30s
`)
	tx, _ := d.db.Begin()
	if _, _, err := Fire(context.Background(), tx, ruleAlertNow(t0, map[string]string{"host": "web1"})); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	drain(t, d)
	c.add(10 * time.Second)
	if ok, err := ResolveByHand(context.Background(), d.db, 1, "ana", c.t); !ok || err != nil {
		t.Fatal(ok, err)
	}
	drain(t, d)
	drain(t, d)
	if len(rec.msgs) != 1 {
		t.Fatalf("%d messages: %q", len(rec.msgs), rec.subjects())
	}
	m := rec.msgs[0]
	if m.Subject != "[watchpost] CRITICAL: sshd brute force" || m.MessageID != "watchpost.incident.1@lh" || m.InReplyTo != "" ||
		!strings.Contains(m.Text, "already over") || !strings.Contains(m.Text, "Resolved by ana") {
		t.Errorf("message %+v", m)
	}
}
