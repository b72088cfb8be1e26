package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/rules"
	"github.com/watchpost/watchpost/store"
)

// TestRuleCommandsOverflow: a batch making more commands than the queue
// holds queues what fits, counts the rest and raises one loghost incident
// saying so; once the queue has room again the incident resolves. The gate
// waits while too many commands wait.
func TestRuleCommandsOverflow(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := &loghost{o: Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }}, store: s}
	set := metrics.NewSet()
	rr := &ruleRunner{l: l, lost: set.GetOrCreateCounter("lost"), gateWaits: set.GetOrCreateCounter("waits"),
		cmdWait: 3, cmdMax: 5, cmdMaxBytes: 1 << 20, lostOpen: true}
	rr.exec = rules.NewExecutor(sqlCommandQueue{rdb: s.ReadDB(), wdb: s.DB()}, rules.ExecutorConfig{})
	batch := func(n int) {
		t.Helper()
		var cmds []queuedCommand
		for range n {
			cmds = append(cmds, queuedCommand{file: "f.conf", Command: rules.Command{Kind: "pipe", Argv: []string{"/bin/true"}, Stdin: []byte("x\n"), Src: "f.conf:1"}})
		}
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := rr.queueCommands(ctx, tx, commandBatch{cmds: cmds}, now); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	batch(7)
	if got := rr.lost.Get(); got != 2 {
		t.Errorf("lost %d, want 2", got)
	}
	var open int
	var title string
	s.DB().QueryRow(`SELECT count(*), coalesce(max(title), '') FROM incidents WHERE source = 'loghost' AND resolved IS NULL`).Scan(&open, &title)
	if open != 1 || !strings.Contains(title, "queue full") {
		t.Fatalf("open loghost incidents %d %q", open, title)
	}
	var payload string
	s.DB().QueryRow(`SELECT payload FROM outbox WHERE kind = 'incident' ORDER BY id DESC LIMIT 1`).Scan(&payload)
	if !strings.Contains(payload, "2 exec, pipe or report commands") {
		t.Errorf("incident message %s", payload)
	}
	// The gate waits while 5 wait; it lets the batch through once they ran.
	gctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if err := rr.gate(gctx); err == nil {
		t.Error("the gate let a batch through with the queue full")
	}
	cancel()
	queued, err := sqlCommandQueue{rdb: s.ReadDB(), wdb: s.DB()}.Next(ctx, 0, 100)
	if err != nil || len(queued) != 5 || string(queued[0].Stdin) != "x\n" || queued[0].Argv[0] != "/bin/true" {
		t.Fatalf("queued %+v %v", queued, err)
	}
	var ids []int64
	for _, q := range queued {
		ids = append(ids, q.ID)
	}
	if err := (sqlCommandQueue{rdb: s.ReadDB(), wdb: s.DB()}).Done(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if err := rr.gate(ctx); err != nil {
		t.Fatal(err)
	}
	batch(1)
	s.DB().QueryRow(`SELECT count(*) FROM incidents WHERE source = 'loghost' AND resolved IS NULL`).Scan(&open)
	if open != 0 {
		t.Errorf("the incident is still open with room in the queue")
	}
	// A batch holds no more commands than the queue could take: the rest
	// are counted as they come.
	fx := &batchEffects{maxCmds: 2, maxBytes: 1 << 20}
	for range 5 {
		fx.command("f.conf", rules.Command{Kind: "exec", Argv: []string{"/bin/true"}})
	}
	if _, _, cb := fx.take(); len(cb.cmds) != 2 || cb.over != 3 {
		t.Errorf("held %d, over %d; want 2 and 3", len(cb.cmds), cb.over)
	}
}
