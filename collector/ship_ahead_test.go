package collector

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/ingest"
	"github.com/watchpost/watchpost/store"
)

// TestShipAheadExactlyOnce runs the real runner and shipper against the
// real ingest handler and store, with the next batch encoded while one is
// in flight, through a loghost that fails requests: some before storing
// (the batch must come again), some after (stored, but the answer lost:
// the resend must be dropped as a replay), some with a 503. Every line is
// stored exactly once, in order, and the checkpoint ends at the file's end;
// a second run from that checkpoint sends nothing again.
func TestShipAheadExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.Options{Path: filepath.Join(dir, "w.db"), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := ingest.New(ingest.Options{Store: st, Tokens: ingest.NewTokens(map[string][]string{"web1": {"tok"}}, nil),
		Location: time.UTC, PartLines: 7})
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 5 {
		case 1:
			http.Error(w, `{"error":"down"}`, http.StatusBadGateway) // before storing
		case 3:
			h.ServeHTTP(httptest.NewRecorder(), r) // stored; the answer is lost
			http.Error(w, `{"error":"lost"}`, http.StatusBadGateway)
		case 4:
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"error":"busy"}`, http.StatusServiceUnavailable)
		default:
			h.ServeHTTP(w, r)
		}
	}))
	defer srv.Close()

	const lines = 3000
	logPath := filepath.Join(dir, "app.log")
	var b strings.Builder
	for i := range lines {
		fmt.Fprintf(&b, "Nov 25 10:00:00 web1 app[1]: line %05d\n", i)
	}
	if err := os.WriteFile(logPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() {
		sh, err := NewShipper(ShipperConfig{Server: srv.URL, Token: "tok", SpoolDir: filepath.Join(dir, "spool"), MaxBackoff: 20 * time.Millisecond},
			time.Now, metrics.NewSet(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		go sh.Run(ctx, 0)
		r, err := NewRunner(Config{Files: []FileConfig{{Path: logPath}}, Once: true, StateDir: filepath.Join(dir, "state"),
			BatchLines: 100, BatchDelay: time.Millisecond}, sh, time.Now, metrics.NewSet(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
		// Once returns when every batch is acknowledged or spooled: wait
		// for the spool to drain.
		for {
			if k, _ := sh.SpoolStats(); k == 0 {
				break
			}
			if ctx.Err() != nil {
				t.Fatal("the spool did not drain")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if cps, _ := readCheckpoints(filepath.Join(dir, "state", "checkpoints.json")); pathCheckpoint(cps, logPath).Offset != int64(b.Len()) {
			t.Fatalf("checkpoint %+v, want offset %d", cps, b.Len())
		}
	}
	run()
	run() // from the checkpoint: nothing new
	recs, err := st.ReadAfter(context.Background(), 0, 10*lines)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != lines {
		t.Fatalf("%d lines stored, want %d", len(recs), lines)
	}
	for i, r := range recs {
		if want := fmt.Sprintf("line %05d", i); !strings.HasSuffix(r.Raw, want) {
			t.Fatalf("stored #%d is %q, want %s", i, r.Raw, want)
		}
	}
	if n.Load() < 30 {
		t.Errorf("only %d requests: the failures were not exercised", n.Load())
	}
}
