package alerting

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/store"
)

// recorder is a receiver that keeps what it is given (the protocols
// themselves are tested against postfix and Dendrite elsewhere).
type recorder struct {
	mu   sync.Mutex
	msgs []Message
	down bool
}

func (r *recorder) Send(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return fmt.Errorf("connection refused")
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) subjects() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.msgs))
	for i, m := range r.msgs {
		out[i] = m.Subject
	}
	return out
}

type mxRecorder struct {
	mu   sync.Mutex
	msgs []MatrixMessage
}

func (r *mxRecorder) Send(_ context.Context, m MatrixMessage) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return fmt.Sprintf("$ev%d", len(r.msgs)), nil
}

func openDB(t testing.TB) *sql.DB {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.DB()
}

func queue(t testing.TB, db *sql.DB, at time.Time, kind, payload string) int64 {
	t.Helper()
	res, err := db.Exec(`INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, at.UnixNano(), kind, payload)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	return id
}

// alerting parses an alerting section as the loghost would.
func alertingConfig(t testing.TB, yml string) *config.Alerting {
	t.Helper()
	c, err := config.Parse("test.yml", []byte("alerting:\n"+yml))
	if err != nil {
		t.Fatal(err)
	}
	return &c.Alerting
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func ruleAlert(sev, title, labels string) string {
	return fmt.Sprintf(`{"Severity":%q,"Title":%q,"Labels":{%s},"Time":"2026-11-25T02:58:00Z","Line":"x"}`, sev, title, labels)
}

func drain(t testing.TB, d *Dispatcher) {
	t.Helper()
	if err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// note is what the outbox says about a row.
func note(t testing.TB, db *sql.DB, id int64) string {
	t.Helper()
	var n string
	db.QueryRow(`SELECT last_error FROM outbox WHERE id = ?`, id).Scan(&n)
	return n
}

var t0 = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
