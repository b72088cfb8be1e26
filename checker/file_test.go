package checker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
)

func TestFileArrival(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	write := func(name string, size int, age time.Duration) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, now.Add(-age), now.Add(-age))
	}
	write("db-2026-11-24.sql.gz", 1000, 30*time.Hour)
	write("db-2026-11-25.sql.gz", 550, 6*time.Hour) // 45% smaller than the day before
	tests := []struct {
		name, target string
		conds, warns []string
		ok, degraded bool
		detail       string
	}{
		{"arrived", dir + "/db-*.sql.gz", []string{"count >= 2", "newest_age < 26h", "newest_size > 100"}, nil, true, false, ""},
		{"too old", dir + "/db-*.sql.gz", []string{"newest_age < 4h"}, nil, false, false, "newest_age"},
		{"shrank", dir + "/db-*.sql.gz", []string{"count > 0"}, []string{"size_change_pct > -40"}, true, true, "size_change_pct"},
		{"nothing there", dir + "/web-*.tar", nil, nil, false, false, "count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(config.Check{Name: "backup", Type: "file", Target: tt.target, Conditions: tt.conds, WarnConditions: tt.warns},
				Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			r := p.Run(context.Background())
			if r.Success != tt.ok || r.Degraded != tt.degraded {
				t.Fatalf("success %v degraded %v, want %v %v: %+v", r.Success, r.Degraded, tt.ok, tt.degraded, r)
			}
			if tt.detail != "" {
				found := false
				for _, c := range r.Failed() {
					found = found || strings.Contains(c.Condition, tt.detail)
				}
				if !found {
					t.Errorf("no failed condition on %s: %+v", tt.detail, r.ConditionResults)
				}
			}
		})
	}
	if _, err := Compile(config.Check{Name: "b", Type: "file", Target: "relative/*.gz"}, Options{}); err == nil {
		t.Error("a relative target compiled")
	}
	if _, err := Compile(config.Check{Name: "b", Type: "file", Target: "/x", Conditions: []string{"status == 200"}}, Options{}); err == nil {
		t.Error("an http placeholder compiled for a file check")
	}
}
