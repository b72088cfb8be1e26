package alerting

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

const stormYAML = `  email: {smtp: "m.example.test:25", from: w@example.test, to: [a@example.test]}
  rate_limit: 20
  routes:
    - match: {source: rule}
      receiver: default
      group_by: [service]
      group_wait: 30s
      group_interval: 5m
`

func stormRows(t testing.TB, db *sql.DB, n int, at time.Time) {
	tx, _ := db.Begin()
	for i := range n {
		if _, err := tx.Exec(`INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, at.Add(time.Duration(i)*6*time.Millisecond).UnixNano(), "rule_alert",
			ruleAlert("critical", fmt.Sprintf("incident %d <script>@room\r\n", i), fmt.Sprintf(`"service":"svc%d"`, i%50))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestAlertStorm: 10,000 alerts within a minute collapse into one message
// per group, and the receiver never gets more than its rate a minute.
func TestAlertStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 alerts")
	}
	d, rec, c := groupDispatcher(t, stormYAML)
	stormRows(t, d.db, 10000, t0)
	perMinute := map[int]int{}
	for c.t.Before(t0.Add(10 * time.Minute)) {
		before := len(rec.msgs)
		drain(t, d)
		perMinute[int(c.t.Sub(t0)/time.Minute)] += len(rec.msgs) - before
		c.add(10 * time.Second)
	}
	if len(rec.msgs) != 50 {
		t.Errorf("%d messages for 50 groups", len(rec.msgs))
	}
	for m, n := range perMinute {
		if n > 20 {
			t.Errorf("minute %d: %d messages, over the limit of 20", m, n)
		}
	}
	for _, m := range rec.msgs {
		if !strings.HasPrefix(m.Subject, "[watchpost] 200 alerts (200 firing, 0 resolved) {service=") || !strings.Contains(m.Text, "... and 170 more") ||
			strings.Contains(m.HTML, "<script>") {
			t.Fatalf("message %q\n%s", m.Subject, m.Text)
		}
	}
	var pending int
	d.db.QueryRow(`SELECT count(*) FROM deliveries WHERE sent IS NULL`).Scan(&pending)
	if pending != 0 {
		t.Errorf("%d deliveries pending", pending)
	}
}

// BenchmarkAlertStorm routes and sends 10,000 alerts in 50 groups.
func BenchmarkAlertStorm(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		d, _, c := groupDispatcher(b, stormYAML)
		stormRows(b, d.db, 10000, t0)
		b.StartTimer()
		for i := 0; i < 40; i++ {
			if err := d.Drain(context.Background()); err != nil {
				b.Fatal(err)
			}
			c.add(10 * time.Second)
		}
	}
}
