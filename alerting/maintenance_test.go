package alerting

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// down opens an incident for check as the uptime tracker would and
// queues its check_down row.
func down(t *testing.T, db *sql.DB, at time.Time, check string) (incident, row int64) {
	t.Helper()
	res, err := db.Exec(`INSERT INTO incidents(check_name, title, public, started) VALUES(?,?,0,?)`, check, check+" is down", at.UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	incident, _ = res.LastInsertId()
	setState(t, db, check, statusDown, at)
	return incident, queue(t, db, at, "check_down", fmt.Sprintf(`{"check":%q,"from":"up","to":"down","since":%q,"detail":"HTTP 502","incident":%d}`,
		check, at.Format(time.RFC3339), incident))
}

func up(t *testing.T, db *sql.DB, at time.Time, check string, incident int64) int64 {
	t.Helper()
	if _, err := db.Exec(`UPDATE incidents SET resolved = ? WHERE id = ?`, at.UnixNano(), incident); err != nil {
		t.Fatal(err)
	}
	setState(t, db, check, statusUp, at)
	return queue(t, db, at, "check_up", fmt.Sprintf(`{"check":%q,"from":"down","to":"up","since":%q,"incident":%d}`, check, at.Format(time.RFC3339), incident))
}

func setState(t *testing.T, db *sql.DB, check string, status int, at time.Time) {
	t.Helper()
	if _, err := db.Exec(`INSERT INTO check_state(check_name, status, since, last_time, pending, pending_since, streak) VALUES(?,?,?,?,0,0,0)
		ON CONFLICT(check_name) DO UPDATE SET status = excluded.status`, check, status, at.UnixNano(), at.UnixNano()); err != nil {
		t.Fatal(err)
	}
}

// TestMaintenance: inside a window (by check name or by labels) alerts
// are recorded as suppressed "maintenance" and not sent; others are. When
// the window ends, an outage still down is sent then, once, threaded as
// the incident's root so its recovery follows it; one that recovered
// inside the window is never heard of.
func TestMaintenance(t *testing.T) {
	db := openDB(t)
	rec := &recorder{}
	c := &clock{t0}
	from, until := t0.Add(time.Hour), t0.Add(2*time.Hour)
	var asked []string
	inWindow := func(check string, labels map[string]string, at time.Time) bool {
		asked = append(asked, check)
		return !at.Before(from) && at.Before(until) && (check == "wiki" || labels["team"] == "db")
	}
	d := New(db, Config{Email: rec, Now: c.now, Hostname: "lh", Maintenance: inWindow,
		Checks: map[string]CheckInfo{"mysql": {Labels: map[string]string{"team": "db"}}}})

	c.add(70 * time.Minute)
	wikiInc, wikiDown := down(t, db, c.t, "wiki")
	dbInc, dbDown := down(t, db, c.t, "mysql")
	_, webDown := down(t, db, c.t, "web")
	rule := queue(t, db, c.t, "rule_alert", ruleAlert("critical", "disk full", `"team":"db","host":"db1"`))
	drain(t, d)
	if got := rec.subjects(); len(got) != 1 || got[0] != "[watchpost] web (incident #3)" {
		t.Fatalf("inside the window sent %q, want only web's outage", got)
	}
	for _, id := range []int64{wikiDown, dbDown, rule} {
		if n := note(t, db, id); n != "suppressed: maintenance" {
			t.Errorf("row %d says %q", id, n)
		}
	}
	if note(t, db, webDown) != "" {
		t.Errorf("web's outage says %q", note(t, db, webDown))
	}

	// mysql recovers inside the window: nothing is said about it, ever.
	c.add(10 * time.Minute)
	dbUp := up(t, db, c.t, "mysql", dbInc)
	drain(t, d)
	if len(rec.subjects()) != 1 {
		t.Errorf("a recovery inside the window was sent: %q", rec.subjects())
	}
	if n := note(t, db, dbUp); n != "suppressed: its outage was not announced" {
		t.Errorf("mysql's recovery says %q", n)
	}

	// The window ends with the wiki still down: its outage goes out now,
	// as the incident's root; mysql's stays untold.
	c.t = until
	drain(t, d)
	drain(t, d)
	rec.mu.Lock()
	msgs := append([]Message(nil), rec.msgs...)
	rec.mu.Unlock()
	if len(msgs) != 2 || msgs[1].Subject != "[watchpost] wiki (incident #1)" || msgs[1].MessageID != d.incidentID(wikiInc) ||
		!strings.Contains(msgs[1].Text, "still down when the maintenance window ended") {
		t.Fatalf("after the window: %+v", msgs)
	}
	if n := note(t, db, wikiDown); !strings.HasPrefix(n, "suppressed: maintenance (ended; still down, sent as #") {
		t.Errorf("wiki's muted row says %q", n)
	}
	if n := note(t, db, dbDown); n != "suppressed: maintenance (ended; recovered during the window)" {
		t.Errorf("mysql's muted row says %q", n)
	}
	var flaps int
	db.QueryRow(`SELECT count(*) FROM outbox WHERE kind = 'flap_start'`).Scan(&flaps)

	// Its recovery threads under the re-sent outage.
	c.add(5 * time.Minute)
	up(t, db, c.t, "wiki", wikiInc)
	drain(t, d)
	msgs = rec.msgs
	if len(msgs) != 3 || msgs[2].InReplyTo != d.incidentID(wikiInc) || !strings.Contains(msgs[2].Text, "RECOVERED") {
		t.Errorf("recovery: %+v", msgs[len(msgs)-1])
	}
	c.add(time.Hour)
	drain(t, d)
	if len(rec.subjects()) != 3 || flaps != 0 {
		t.Errorf("later: %q, %d flap notices", rec.subjects(), flaps)
	}
	if len(asked) == 0 {
		t.Error("the maintenance hook was never asked")
	}
}

// TestNoMaintenanceHook: without the hook nothing is muted.
func TestNoMaintenanceHook(t *testing.T) {
	db := openDB(t)
	rec := &recorder{}
	d := New(db, Config{Email: rec, Now: (&clock{t0}).now, Hostname: "lh"})
	down(t, db, t0, "wiki")
	drain(t, d)
	if len(rec.subjects()) != 1 {
		t.Errorf("sent %q", rec.subjects())
	}
}

// TestMaintenanceStartsWhileGrouped: an outage waiting in its group when a
// window starts is muted as if the window had begun before it was routed,
// and announced when the window ends with the check still down.
func TestMaintenanceStartsWhileGrouped(t *testing.T) {
	db := openDB(t)
	rec := &recorder{}
	c := &clock{t0}
	from, until := t0.Add(5*time.Minute), t0.Add(time.Hour)
	inWindow := func(check string, _ map[string]string, at time.Time) bool {
		return check == "wiki" && !at.Before(from) && at.Before(until)
	}
	router, err := NewRouter(alertingConfig(t, "  email: {smtp: 'm:25', from: a@b, to: [c@d]}\n  routes:\n    - {match: {check: wiki}, receiver: default, group_wait: 10m}\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := New(db, Config{Email: rec, Router: router, Now: c.now, Hostname: "lh", Maintenance: inWindow})
	_, wikiDown := down(t, db, c.t, "wiki")
	drain(t, d) // routed before the window: waits in its group
	c.add(11 * time.Minute)
	drain(t, d) // the group is due, inside the window
	if got := rec.subjects(); len(got) != 0 {
		t.Fatalf("sent inside the window: %q", got)
	}
	var muted string
	db.QueryRow(`SELECT suppressed FROM outbox WHERE id = ?`, wikiDown).Scan(&muted)
	if muted != mutedMaintenance {
		t.Fatalf("the outage is marked %q, want %q", muted, mutedMaintenance)
	}
	c.t = until
	for i := 0; i < 3; i++ {
		drain(t, d)
		c.add(11 * time.Minute) // the re-queued outage waits out its group too
	}
	if got := rec.subjects(); len(got) != 1 || !strings.Contains(got[0], "wiki") {
		t.Fatalf("after the window: %q, want the wiki's outage once", got)
	}
}
