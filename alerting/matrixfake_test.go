package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHomeserver implements the one client-server endpoint the notifier
// uses, PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId},
// as the specification has it (a repeated txnId from the same token is
// the same event), with faults a real homeserver will not show on demand:
// each request takes the next fault from the queue.
type fakeHomeserver struct {
	mu     sync.Mutex
	faults []string          // "429", "500", "lost" (stored, answer dropped), "" (normal)
	events map[string]string // txnId → event id
	order  []string          // event ids in the room
	txns   []string          // txnId of every request, in order
}

func (f *fakeHomeserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "/_matrix/client/v3/rooms/"
	if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, prefix) || r.Header.Get("Authorization") != "Bearer tok" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errcode":"M_UNKNOWN_TOKEN","error":"who?"}`)
		return
	}
	txn := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	f.mu.Lock()
	defer f.mu.Unlock()
	f.txns = append(f.txns, txn)
	fault := ""
	if len(f.faults) > 0 {
		fault, f.faults = f.faults[0], f.faults[1:]
	}
	switch fault {
	case "429":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":45000}`)
		return
	case "500":
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"errcode":"M_UNKNOWN","error":"database is sad"}`)
		return
	}
	id, seen := f.events[txn]
	if !seen {
		id = fmt.Sprintf("$event%d", len(f.order)+1)
		f.events[txn] = id
		f.order = append(f.order, id)
	}
	if fault == "lost" {
		// Stored, but the answer never reaches the client.
		if hj, ok := w.(http.Hijacker); ok {
			c, _, _ := hj.Hijack()
			c.Close()
			return
		}
	}
	json.NewEncoder(w).Encode(map[string]string{"event_id": id})
}

// TestMatrixFaults: a 429 is waited out for the homeserver's
// retry_after_ms, a 5xx retried with backoff, and an answer lost after
// the event was stored retried with the same txnId, so the room holds
// the message exactly once.
func TestMatrixFaults(t *testing.T) {
	fake := &fakeHomeserver{faults: []string{"429", "500", "lost"}, events: map[string]string{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	mx, err := NewMatrix(MatrixConfig{Homeserver: srv.URL, AccessToken: "tok", Room: "!ops:test"})
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t)
	c := &clock{t: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)}
	d := New(db, Config{Matrix: mx, Hostname: "loghost.test", Now: c.now})
	ctx := context.Background()
	queue(t, db, c.now(), "check_down", `{"check":"wiki","from":"up","to":"down","since":"2026-11-25T02:59:00Z","detail":"status 503","incident":1}`)
	attempts := func() int {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return len(fake.txns)
	}
	d.Drain(ctx) // 429
	if attempts() != 1 {
		t.Fatalf("%d attempts", attempts())
	}
	c.add(40 * time.Second)
	d.Drain(ctx)
	if attempts() != 1 {
		t.Fatal("retried before the homeserver's retry_after_ms")
	}
	c.add(6 * time.Second)
	d.Drain(ctx) // 500
	if attempts() != 2 {
		t.Fatalf("not retried after retry_after_ms: %d attempts", attempts())
	}
	for i := 0; i < 20 && attempts() < 4; i++ {
		c.add(time.Minute)
		d.Drain(ctx) // lost, then delivered
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.order) != 1 {
		t.Fatalf("the room holds %d events, want exactly 1", len(fake.order))
	}
	for _, txn := range fake.txns {
		if txn != fake.txns[0] {
			t.Fatalf("txnIds changed across retries: %v", fake.txns)
		}
	}
	var sent, ref string
	db.QueryRow(`SELECT COALESCE(sent, ''), COALESCE(ref, '') FROM deliveries WHERE receiver = 'matrix'`).Scan(&sent, &ref)
	if sent == "" || ref != "$event1" {
		t.Fatalf("delivery not recorded as sent with the event id: sent %q ref %q (attempts %v)", sent, ref, fake.txns)
	}
}
