package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/uptime"
)

var berlin, _ = time.LoadLocation("Europe/Berlin")

func openDB(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestWindowsValidateAndRecur(t *testing.T) {
	for _, w := range []Window{
		{Name: ""},
		{Name: "x"},
		{Name: "x", Start: time.Unix(10, 0), End: time.Unix(5, 0)},
		{Name: "x", Schedule: "bogus", Duration: time.Hour},
		{Name: "x", Schedule: "0 2 * * 6"},
		{Name: "x", Schedule: "0 2 * * 6", Duration: time.Hour, Start: time.Unix(1, 0)},
	} {
		if err := w.Prepare(berlin); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", w, err)
		}
	}
	// Saturdays 02:00–04:00 Berlin time.
	w := Window{Name: "sat", Schedule: "0 2 * * 6", Duration: 2 * time.Hour}
	if err := w.Prepare(berlin); err != nil {
		t.Fatal(err)
	}
	fri := time.Date(2026, 12, 4, 12, 0, 0, 0, berlin)
	o, ok := w.Next(fri)
	if !ok || !o.Start.Equal(time.Date(2026, 12, 5, 2, 0, 0, 0, berlin)) || o.End.Sub(o.Start) != 2*time.Hour {
		t.Fatalf("next %+v", o)
	}
	if w.Active(fri) || !w.Active(o.Start.Add(time.Hour)) || w.Active(o.End) {
		t.Error("active wrong")
	}
	// Cancelled while running: it ends then, and never comes back.
	w.Cancelled = o.Start.Add(30 * time.Minute)
	if got, ok := w.Next(o.Start.Add(10 * time.Minute)); !ok || !got.End.Equal(w.Cancelled) {
		t.Errorf("cancelled occurrence %+v", got)
	}
	if _, ok := w.Next(o.End.Add(24 * time.Hour)); ok {
		t.Error("a cancelled window recurs")
	}
}

// TestSetAnnouncesOnce: a public window (description, public check) is
// shown from the announce period on and while it runs, scopes alerts by
// check, label and host, and queues one announcement and one start
// notice per occurrence however often Notify runs; a stored window
// survives a new Set (a restart) and pushes its windows to the tracker.
func TestSetAnnouncesOnce(t *testing.T) {
	ctx := context.Background()
	s := openDB(t)
	cfg, err := config.Parse("w.yml", []byte(`timezone: Europe/Berlin
storage: {path: w.db}
checks:
  - {name: wiki, type: tcp, target: "127.0.0.1:1", public: true, labels: {team: web}}
  - {name: db, type: tcp, target: "127.0.0.1:2"}
maintenance:
  - {name: backups, schedule: "0 3 * * *", duration: 30m, checks: [db]}
`))
	if err != nil {
		t.Fatal(err)
	}
	set := NewSet(s.DB(), cfg.Location())
	var pushed []uptime.Window
	set.OnChange = func(ws []uptime.Window) { pushed = ws }
	set.SetConfig(cfg)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, berlin)
	w, err := Create(ctx, s.DB(), Window{Name: "wiki upgrade", Start: now.Add(36 * time.Hour), End: now.Add(38 * time.Hour),
		Labels: map[string]string{"team": "web"}, Hosts: []string{"web1"}, Description: "The wiki is read-only."}, berlin, "alice", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Reload(ctx, now); err != nil {
		t.Fatal(err)
	}
	if len(pushed) != 2 || !pushed[1].Checks["wiki"] || pushed[1].Checks["db"] {
		t.Fatalf("pushed %+v", pushed)
	}
	if a := set.Public(now, 24*time.Hour); len(a) != 0 {
		t.Errorf("announced too early: %+v", a)
	}
	in := now.Add(37 * time.Hour)
	if !set.Covers("wiki", nil, in) || set.Covers("db", nil, in) || !set.Covers("", map[string]string{"host": "web1"}, in) || set.Covers("wiki", nil, now) {
		t.Error("covers wrong")
	}
	for _, at := range []time.Time{now, now.Add(13 * time.Hour), now.Add(14 * time.Hour), in, in.Add(time.Minute)} {
		if err := set.Notify(ctx, at, 24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	rows, _ := s.ReadDB().Query(`SELECT payload FROM outbox WHERE kind = 'status_notice' ORDER BY id`)
	var events []string
	for rows.Next() {
		var p string
		rows.Scan(&p)
		var n Notice
		json.Unmarshal([]byte(p), &n)
		if n.Name != "wiki upgrade" || len(n.Components) != 1 || n.Components[0] != "wiki" {
			t.Errorf("notice %s", p)
		}
		events = append(events, n.Event)
	}
	rows.Close()
	if len(events) != 2 || events[0] != "maintenance_announced" || events[1] != "maintenance_started" {
		t.Errorf("notices %v", events)
	}
	set2 := NewSet(s.DB(), berlin)
	set2.SetConfig(cfg)
	set2.Reload(ctx, now)
	if len(set2.All()) != 2 || set2.All()[1].ID != w.ID || set2.All()[1].CreatedBy != "alice" {
		t.Errorf("after restart %+v", set2.All())
	}
	if ok, err := Cancel(ctx, s.DB(), w.ID, now); err != nil || !ok {
		t.Fatal(ok, err)
	}
	set2.Reload(ctx, now)
	if set2.Covers("wiki", nil, in) {
		t.Error("a cancelled window still covers")
	}
}
