package alerting

import (
	"fmt"
	"testing"
	"time"
)

// TestRateLimitSurvivesRestart: the messages a receiver had in the last
// minute count against its limit in a new Dispatcher on the same
// database, as they would after a restart.
func TestRateLimitSurvivesRestart(t *testing.T) {
	db := openDB(t)
	c := &clock{t0}
	rec := &recorder{}
	mk := func() *Dispatcher {
		return New(db, Config{Now: c.now, Hostname: "lh", Receivers: map[string]Receiver{DefaultReceiver: {Email: rec, RateLimit: 3}}})
	}
	for i := range 5 {
		queue(t, db, t0, "check_down", fmt.Sprintf(`{"check":"c%d","from":"up","to":"down","incident":%d}`, i, i+1))
	}
	d := mk()
	drain(t, d)
	drain(t, d)
	if len(rec.msgs) != 3 {
		t.Fatalf("%d messages in the first minute, limit 3", len(rec.msgs))
	}
	// A restart 10 s later: the window is not fresh.
	c.add(10 * time.Second)
	d = mk()
	drain(t, d)
	if len(rec.msgs) != 3 {
		t.Errorf("%d messages after a restart within the minute", len(rec.msgs))
	}
	var next int64
	db.QueryRow(`SELECT min(next_try) FROM deliveries WHERE sent IS NULL`).Scan(&next)
	if got := time.Unix(0, next); !got.Equal(t0.Add(time.Minute)) {
		t.Errorf("held until %v, want %v", got.UTC(), t0.Add(time.Minute))
	}
	c.t = t0.Add(time.Minute)
	d = mk()
	drain(t, d)
	if len(rec.msgs) != 5 {
		t.Errorf("%d messages after the minute", len(rec.msgs))
	}
}

// TestDigestRoute: a route with a digest collects its alerts, firing and
// resolved alike, into one message per interval.
func TestDigestRoute(t *testing.T) {
	d, rec, c := groupDispatcher(t, `  email: {smtp: "m.example.test:25", from: w@example.test, to: [a@example.test]}
  routes:
    - match: {severity: info}
      receiver: default
    - match: {source: rule}
      receiver: default
`)
	d.cfg.Router.Routes[0].Digest = time.Hour
	queue(t, d.db, t0, "rule_alert", ruleAlert("info", "cert renewed", `"service":"web"`))
	drain(t, d)
	queue(t, d.db, t0.Add(time.Minute), "rule_alert", ruleAlert("critical", "disk failed", `"service":"db"`))
	c.add(time.Minute)
	drain(t, d)
	if got := rec.subjects(); len(got) != 1 || got[0] != "[watchpost] CRITICAL: disk failed" {
		t.Fatalf("not held for the digest: %q", got)
	}
	for i := range 3 {
		c.add(10 * time.Minute)
		queue(t, d.db, c.t, "rule_alert", ruleAlert("info", fmt.Sprintf("backup %d done", i), `"service":"backup"`))
		drain(t, d)
	}
	c.t = t0.Add(59 * time.Minute)
	drain(t, d)
	if len(rec.msgs) != 1 {
		t.Fatalf("digest early: %q", rec.subjects())
	}
	c.t = t0.Add(time.Hour)
	drain(t, d)
	got := rec.subjects()
	if len(got) != 2 || got[1] != "[watchpost] 4 alerts (4 firing, 0 resolved) (digest)" {
		t.Fatalf("digest: %q", got)
	}
	// The next digest waits a full interval after this one.
	queue(t, d.db, c.t, "rule_alert", ruleAlert("info", "late", `"service":"web"`))
	c.add(30 * time.Minute)
	drain(t, d)
	if len(rec.msgs) != 2 {
		t.Errorf("second digest early")
	}
	c.add(30 * time.Minute)
	drain(t, d)
	if len(rec.msgs) != 3 {
		t.Errorf("second digest not sent: %q", rec.subjects())
	}
}
