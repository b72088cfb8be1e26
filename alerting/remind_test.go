package alerting

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestRemindersEscalationAck: an unacknowledged outage is escalated once
// after escalate_after, reminded every repeat_interval up to repeat_max
// (threaded under the incident, to the receivers that had it), and an
// acknowledged one gets neither.
func TestRemindersEscalationAck(t *testing.T) {
	db := openDB(t)
	a := alertingConfig(t, `  email: {smtp: "m.example.test:25", from: w@example.test, to: [a@example.test]}
  receivers:
    oncall: {email: {to: [oncall@example.test]}}
  repeat_interval: 1h
  repeat_max: 2
  routes:
    - match: {source: check}
      receiver: default
      escalate_after: 30m
      escalate_to: oncall
`)
	router, err := NewRouter(a)
	if err != nil {
		t.Fatal(err)
	}
	def, oncall, mx := &recorder{}, &recorder{}, &mxRecorder{}
	c := &clock{t0}
	d := New(db, Config{Router: router, Now: c.now, Hostname: "lh",
		Receivers: map[string]Receiver{DefaultReceiver: {Email: def, Matrix: mx}, "oncall": {Email: oncall}}})
	for _, name := range []string{"wiki", "dns"} {
		db.Exec(`INSERT INTO incidents(check_name, title, public, started) VALUES(?,?,0,?)`, name, name+" is down", t0.UnixNano())
	}
	queue(t, db, t0, "check_down", `{"check":"wiki","from":"up","to":"down","since":"2026-11-25T03:00:00Z","detail":"503","incident":1}`)
	queue(t, db, t0, "check_down", `{"check":"dns","from":"up","to":"down","since":"2026-11-25T03:00:00Z","detail":"SERVFAIL","incident":2}`)
	drain(t, d)
	c.add(10 * time.Minute)
	if ok, err := Ack(context.Background(), db, 2, "ana", c.t); !ok || err != nil {
		t.Fatalf("ack: %v %v", ok, err)
	}
	if ok, _ := Ack(context.Background(), db, 2, "bob", c.t); ok {
		t.Error("acknowledged twice")
	}
	if ok, _ := Ack(context.Background(), db, 99, "bob", c.t); ok {
		t.Error("acknowledged a missing incident")
	}
	var got []string
	for _, at := range []time.Duration{20 * time.Minute, 30 * time.Minute, 59 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 10 * time.Hour} {
		c.t = t0.Add(at)
		before, beforeOn := len(def.msgs), len(oncall.msgs)
		drain(t, d)
		drain(t, d) // queued in one pass, routed and sent in the next at the latest
		for _, m := range def.msgs[before:] {
			first, _, _ := strings.Cut(m.Text, ":")
			got = append(got, at.String()+" default "+first)
		}
		for _, m := range oncall.msgs[beforeOn:] {
			first, _, _ := strings.Cut(m.Text, ":")
			got = append(got, at.String()+" oncall "+first)
		}
	}
	want := []string{"30m0s oncall ESCALATED", "1h0m0s default Reminder 1", "2h0m0s default Reminder 2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	last := def.msgs[len(def.msgs)-1]
	if last.InReplyTo != "watchpost.incident.1@lh" || last.Subject != "[watchpost] wiki (incident #1)" {
		t.Errorf("reminder not threaded: %+v", last)
	}
	// Matrix: the reminder is a notice in the outage's thread.
	rem := mx.msgs[len(mx.msgs)-1]
	if !rem.Notice || rem.Thread != "$ev1" {
		t.Errorf("Matrix reminder %+v", rem)
	}
}
