package store

import (
	"context"
	"testing"
	"time"
)

// TestWatchingSince: the first writable open records when the store began
// watching and later opens keep it; a store made before the row existed
// takes the time of its oldest data, so an upgrade hides no watched month.
func TestWatchingSince(t *testing.T) {
	ctx := context.Background()
	s, c := openTest(t, nil)
	since, ok, err := WatchingSince(ctx, s.ReadDB())
	if err != nil || !ok || !since.Equal(t0) {
		t.Fatalf("first open: %v %v %v, want %v", since, ok, err, t0)
	}
	path := s.opts.Path
	s.Close()
	c.add(40 * 24 * time.Hour)
	s2, err := Open(ctx, Options{Path: path, Now: c.now, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if since, _, _ := WatchingSince(ctx, s2.ReadDB()); !since.Equal(t0) {
		t.Errorf("a later open moved it to %v", since)
	}

	// An older store: data from October, no row yet.
	if _, err := s2.DB().Exec(`DELETE FROM component_state WHERE name = ?`, watchingSinceName); err != nil {
		t.Fatal(err)
	}
	oct := time.Date(2026, 10, 2, 3, 4, 5, 0, time.UTC)
	if _, err := s2.DB().Exec(`INSERT INTO heartbeat_pings(name, time, kind) VALUES('backup', ?, 'success')`, oct.UnixNano()); err != nil {
		t.Fatal(err)
	}
	if since, ok, _ := WatchingSince(ctx, s2.ReadDB()); !ok || !since.Equal(oct) {
		t.Errorf("without the row: %v %v, want the oldest data %v", since, ok, oct)
	}
	if err := recordWatchingSince(ctx, s2.DB(), c.now()); err != nil {
		t.Fatal(err)
	}
	if since, _, _ := WatchingSince(ctx, s2.ReadDB()); !since.Equal(oct) {
		t.Errorf("upgraded store: %v, want %v", since, oct)
	}
}
