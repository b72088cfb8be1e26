package e2e

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/watchpost/watchpost/internal/peers"
)

// clockBuild is the loghost built with -tags testclock: the same program,
// but it reads its wall clock's starting instant from
// WATCHPOST_TEST_CLOCK, so a test can start it on any date.
var clockBuild struct {
	once sync.Once
	path string
	err  error
}

func clockBinary(t *testing.T) string {
	t.Helper()
	clockBuild.once.Do(func() {
		clockBuild.path = filepath.Join(filepath.Dir(binary), "watchpost-testclock")
		build := exec.Command("go", "build", "-tags", "testclock", "-o", clockBuild.path, "../cmd/watchpost")
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := build.CombinedOutput(); err != nil {
			clockBuild.err = fmt.Errorf("build with -tags testclock: %v\n%s", err, out)
		}
	})
	if clockBuild.err != nil {
		t.Fatal(clockBuild.err)
	}
	return clockBuild.path
}

// startLoghostAt starts the loghost with its wall clock set to at.
func startLoghostAt(t *testing.T, at time.Time, args ...string) *loghost {
	t.Helper()
	cmd, out, done := startBinary(t, clockBinary(t), []string{"WATCHPOST_TEST_CLOCK=" + at.Format(time.RFC3339Nano)}, append([]string{"serve"}, args...)...)
	l := &loghost{t: t, cmd: cmd, out: out, done: done}
	t.Cleanup(func() { l.kill() })
	return l
}

// monthlyReports lists the months of the monthly reports in the outbox.
func monthlyReports(t *testing.T, dir string) []string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "watchpost.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT json_extract(payload, '$.month'), json_extract(payload, '$.text') FROM outbox WHERE kind = 'monthly_report' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var months []string
	for rows.Next() {
		var m, text sql.NullString
		if err := rows.Scan(&m, &text); err != nil {
			t.Fatal(err)
		}
		months = append(months, m.String+"|"+text.String)
	}
	return months
}

// TestMonthlyReportCalendar runs the real loghost on chosen dates: one
// first started on the 3rd queues no report of the month before it
// existed; one that ran through November queues exactly one report on
// 1 December, saying from when it watched, and never a second one.
func TestMonthlyReportCalendar(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer web.Close()
	extra := fmt.Sprintf(`timezone: Europe/Berlin
checks:
  - {name: wiki, type: http, target: "%s/", interval: 1s, conditions: ["status == 200"], public: true}
`, web.URL)
	// run starts the loghost on dir at the given time, waits for the
	// report loop's first decision, and stops it.
	run := func(dir string, at time.Time, wantUp bool) {
		t.Helper()
		lc := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t), extra: extra}
		cfg := lc.write(t)
		base := fmt.Sprintf("http://127.0.0.1:%d", lc.httpPort)
		lh := startLoghostAt(t, at, "-config", cfg)
		lh.waitReady(base)
		peers.Eventually(t, 60*time.Second, func() bool { return strings.Contains(lh.out.String(), "monthly report") })
		if wantUp {
			peers.Eventually(t, 30*time.Second, func() bool { return componentStatus(statusOf(t, base), "wiki") == "up" })
		}
		lh.stop()
	}

	fresh := t.TempDir()
	run(fresh, time.Date(2026, 12, 3, 9, 30, 0, 0, berlin), false)
	if got := monthlyReports(t, fresh); len(got) != 0 {
		t.Errorf("a loghost first started on the 3rd queued %d reports of a month it never watched: %q", len(got), got)
	}

	dir := t.TempDir()
	run(dir, time.Date(2026, 11, 20, 10, 0, 0, 0, berlin), true)
	if got := monthlyReports(t, dir); len(got) != 0 {
		t.Fatalf("queued in the middle of the month: %q", got)
	}
	run(dir, time.Date(2026, 12, 1, 0, 0, 5, 0, berlin), false)
	got := monthlyReports(t, dir)
	if len(got) != 1 || !strings.HasPrefix(got[0], "2026-11|") || !strings.Contains(got[0], "Watched since 2026-11-20 10:00, when this loghost started") {
		t.Fatalf("on 1 December: %q, want one report of November saying from when it was watched", got)
	}
	run(dir, time.Date(2026, 12, 2, 8, 0, 0, 0, berlin), false)
	if got := monthlyReports(t, dir); len(got) != 1 {
		t.Errorf("back up on the 2nd: %d reports, want still 1", len(got))
	}
}
