package alerting

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkFireDedup fires the same rule alert again and again: the
// open incident is found and counted, nothing is queued.
func BenchmarkFireDedup(b *testing.B) {
	db := openDB(b)
	labels := map[string]string{"host": "web1", "service": "ssh"}
	ctx := context.Background()
	tx, _ := db.Begin()
	defer tx.Rollback()
	for b.Loop() {
		if _, _, err := Fire(ctx, tx, ruleAlertNow(t0, labels)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFireStorm opens 10,000 distinct rule incidents in one
// transaction, as a rules batch in an alert storm would.
func BenchmarkFireStorm(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		db := openDB(b)
		b.StartTimer()
		tx, _ := db.Begin()
		for i := range 10000 {
			if _, _, err := Fire(ctx, tx, ruleAlertNow(t0, map[string]string{"host": fmt.Sprintf("h%d", i), "service": fmt.Sprintf("svc%d", i%50)})); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
