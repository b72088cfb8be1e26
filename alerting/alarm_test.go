package alerting

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestFireLoghost: the loghost's own alarm opens one incident, repeats
// only count, and it resolves after its quiet period; the disk's
// incident, which resolves itself, is left alone by that.
func TestFireLoghost(t *testing.T) {
	r := newIncidentRig(t, Config{})
	ctx := context.Background()
	fire := func(at time.Duration) {
		t.Helper()
		if err := RaiseLoghost(ctx, r.db, "syslog:connections", "warning", "loghost syslog listener is full", "closed one", t0.Add(at), 15*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	fire(0)
	if got := r.at(t, time.Second); len(got) != 1 || !strings.Contains(got[0], "syslog listener is full") {
		t.Fatalf("opened: %q", got)
	}
	fire(5 * time.Minute)
	if got := r.at(t, 10*time.Minute); len(got) != 0 {
		t.Fatalf("a repeat sent %q", got)
	}
	if got := r.at(t, 21*time.Minute); len(got) != 1 {
		t.Fatalf("after 15 quiet minutes: %q", got)
	}
	var resolved int
	r.db.QueryRow(`SELECT count(*) FROM incidents WHERE source = 'loghost' AND resolved IS NOT NULL`).Scan(&resolved)
	if resolved != 1 {
		t.Errorf("%d resolved", resolved)
	}
}
