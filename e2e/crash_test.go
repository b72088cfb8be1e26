package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
)

// sender plays a collector: batches of lines with (source, gen, offset),
// each resent until the loghost acknowledges it.
type sender struct {
	base, token, source string
	next                int64
	mu                  *sync.Mutex
	acked               map[string]int
	sent                map[string]bool
}

func (s *sender) batch(n int) ([]byte, []string) {
	var buf bytes.Buffer
	var lines []string
	for i := 0; i < n; i++ {
		line := fmt.Sprintf("%s line %08d the quick brown fox", s.source, s.next)
		item := map[string]any{"source": s.source, "gen": "g1", "offset": s.next * 100, "line": line}
		b, _ := json.Marshal(item)
		buf.Write(b)
		buf.WriteByte('\n')
		lines = append(lines, line)
		s.next++
	}
	return buf.Bytes(), lines
}

func (s *sender) post(ctx context.Context, body []byte) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/api/v1/ingest", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return resp.StatusCode == 200
}

func (s *sender) run(stop <-chan struct{}, deadline time.Time) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		body, lines := s.batch(50 + rand.IntN(200))
		s.mu.Lock()
		for _, l := range lines {
			s.sent[l] = true
		}
		s.mu.Unlock()
		// Resend until acknowledged, even after stop: a collector never
		// gives a batch up.
		for !s.post(context.Background(), body) {
			if time.Now().After(deadline) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		s.mu.Lock()
		for _, l := range lines {
			s.acked[l]++
		}
		s.mu.Unlock()
	}
}

func TestKill9DuringIngest(t *testing.T) {
	dir := t.TempDir()
	c := loghostConfig{dir: dir, httpPort: freePort(t), syslogPort: freePort(t)}
	cfgPath := c.write(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", c.httpPort)
	var lh *loghost
	start := func() {
		lh = startLoghost(t, "-config", cfgPath)
		lh.waitReady(base)
	}
	start()

	var mu sync.Mutex
	acked, sent := map[string]int{}, map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * time.Minute)
	for i, tok := range []string{"token-web1", "token-web1", "token-db1", "token-db1-old"} {
		s := &sender{base: base, token: tok, source: fmt.Sprintf("file:/var/log/s%d.log", i), mu: &mu, acked: acked, sent: sent}
		wg.Add(1)
		go func() { defer wg.Done(); s.run(stop, deadline) }()
	}
	for i := 0; i < 10; i++ {
		time.Sleep(time.Duration(300+rand.IntN(400)) * time.Millisecond)
		lh.kill()
		start()
	}
	close(stop)
	wg.Wait()
	waitConsumer(t, filepath.Join(dir, "watchpost.db"), "hoststats")
	lh.stop()

	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(dir, "watchpost.db"), ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stored := map[string]int{}
	var lastSeq int64
	for {
		recs, err := s.ReadAfter(context.Background(), lastSeq, 5000)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for i, r := range recs {
			if r.Seq != lastSeq+1 {
				t.Fatalf("stream gap: seq %d after %d", r.Seq, lastSeq)
			}
			lastSeq = r.Seq
			stored[recs[i].Raw]++
		}
	}
	if len(acked) < 1000 {
		t.Fatalf("only %d lines acknowledged: the test did not exercise ingest", len(acked))
	}
	for l := range acked {
		if stored[l] != 1 {
			t.Fatalf("acknowledged line %q stored %d times", l, stored[l])
		}
	}
	for l, n := range stored {
		if n != 1 {
			t.Fatalf("line %q stored %d times", l, n)
		}
		if !sent[l] {
			t.Fatalf("stored line %q was never sent", l)
		}
	}
	// The built-in consumer counted every record once and its cursor is at the end.
	var counted, cursor int64
	db := s.ReadDB()
	if err := db.QueryRow("SELECT COALESCE(SUM(lines),0) FROM host_daily").Scan(&counted); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT seq FROM cursors WHERE name='hoststats'").Scan(&cursor); err != nil {
		t.Fatal(err)
	}
	if counted != int64(len(stored)) || cursor != lastSeq {
		t.Fatalf("consumer counted %d lines up to seq %d; the store holds %d up to %d", counted, cursor, len(stored), lastSeq)
	}
	t.Logf("%d lines acknowledged, %d stored, across 10 kill -9 restarts", len(acked), len(stored))
	if !strings.Contains(lh.out.String(), "stopped") {
		t.Errorf("no clean stop logged:\n%s", lh.out.String())
	}
}

// waitConsumer waits until the named consumer's cursor reaches the newest record.
func waitConsumer(t *testing.T, path, name string) {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var last, cur int64
		s.ReadDB().QueryRow("SELECT COALESCE(MAX(max_seq),0) FROM blocks").Scan(&last)
		s.ReadDB().QueryRow("SELECT COALESCE((SELECT seq FROM cursors WHERE name=?),0)", name).Scan(&cur)
		if cur == last && last > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("consumer %s did not catch up", name)
}
