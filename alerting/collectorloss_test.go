package alerting

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCollectorLossIncident: a self-report counting lost bytes opens one
// incident for the host naming the file; the same totals again (the
// report comes every minute) change nothing; more loss updates the open
// incident; a restarted collector counts from zero again.
func TestCollectorLossIncident(t *testing.T) {
	r := newIncidentRig(t, Config{})
	started := t0.Add(-time.Hour).Format(time.RFC3339Nano)
	report := func(started string, bytes int64) []byte {
		return []byte(fmt.Sprintf(`{"type":"report","started":%q,"lost_bytes":%d,"losses":[{"source":"file:/var/log/app.log","file":"/var/log/app.log","bytes":%d,"lines":%d}]}`,
			started, bytes, bytes, bytes/61))
	}
	send := func(host string, b []byte) {
		inTx(t, r.db, func(tx *sql.Tx) error { return CollectorLoss(context.Background(), tx, host, b, r.c.now()) })
	}
	send("web1", []byte(`{"type":"report","started":"2026-11-25T02:00:00Z","lost_bytes":0}`))
	if got := r.at(t, 0); len(got) != 0 {
		t.Fatalf("no loss, yet %q", got)
	}
	send("web1", report(started, 12200))
	got := r.at(t, time.Minute)
	if len(got) != 1 || got[0] != "[watchpost] collector on web1 lost log lines of /var/log/app.log" {
		t.Fatalf("loss: %q", got)
	}
	last := r.def.msgs[len(r.def.msgs)-1]
	if !strings.Contains(last.Text, "/var/log/app.log: 12200 bytes (about 200 lines) could not be read") {
		t.Errorf("message: %s", last.Text)
	}
	var source, labels string
	r.db.QueryRow(`SELECT source, labels FROM incidents WHERE id = 1`).Scan(&source, &labels)
	if source != "host" || !strings.Contains(labels, `"file":"/var/log/app.log"`) || !strings.Contains(labels, `"host":"web1"`) {
		t.Errorf("incident source %q labels %s", source, labels)
	}
	send("web1", report(started, 12200)) // the next minute's report
	if _, _, fired := r.state(t, 1); fired != 1 {
		t.Errorf("the same totals fired again (%d)", fired)
	}
	send("web1", report(started, 24400))
	if _, _, fired := r.state(t, 1); fired != 2 {
		t.Errorf("more loss: fired %d, want 2", fired)
	}
	send("web1", report(t0.Format(time.RFC3339Nano), 100)) // restarted
	if _, _, fired := r.state(t, 1); fired != 3 {
		t.Errorf("a new run's loss: fired %d, want 3", fired)
	}
	send("db1", report(started, 61))
	var n int
	r.db.QueryRow(`SELECT count(*) FROM incidents WHERE source = 'host' AND resolved IS NULL`).Scan(&n)
	if n != 2 {
		t.Errorf("%d open host incidents, want one per host", n)
	}
}

func FuzzCollectorLossReport(f *testing.F) {
	f.Add([]byte(`{"started":"2026-11-25T02:00:00Z","losses":[{"source":"s","file":"f","bytes":1}]}`))
	f.Add([]byte(`{"losses":[{"bytes":-5,"generations":-1}]}`))
	f.Add([]byte(`{"losses":null}`))
	db := openDB(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := CollectorLoss(context.Background(), tx, "h", b, t0); err != nil {
			t.Fatal(err)
		}
	})
}
