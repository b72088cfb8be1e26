package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestDiskFull: a write that finds the disk full (here SQLite's page
// limit, as a full file system answers) fails with ErrDiskFull, the store
// says so until a commit succeeds again, and nothing acknowledged is lost.
func TestDiskFull(t *testing.T) {
	s, _ := openTest(t, nil)
	ctx := context.Background()
	if _, err := s.Append(ctx, "h", genRecords(100, 1, t0)); err != nil {
		t.Fatal(err)
	}
	var pages int64
	s.wdb.QueryRow("PRAGMA page_count").Scan(&pages)
	// The writer's one connection keeps the pragma.
	if _, err := s.wdb.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := range 50 {
		if _, err = s.Append(ctx, "h", genRecords(2000, uint64(i+2), t0)); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrDiskFull) || !s.DiskFull() {
		t.Fatalf("append on a full disk: %v (DiskFull %v)", err, s.DiskFull())
	}
	if _, err := s.wdb.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "h", genRecords(10, 99, t0)); err != nil || s.DiskFull() {
		t.Fatalf("append with room again: %v (DiskFull %v)", err, s.DiskFull())
	}
	recs, err := s.ReadAfter(ctx, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("gap in the stream at %d", i)
		}
	}
}
