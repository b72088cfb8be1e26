package uptime

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
)

// Many checks at once, each one result after the other as the scheduler
// gives them: batches form, and every check still sees its own results in
// order.
func TestBatchKeepsEachChecksOrder(t *testing.T) {
	tr, rd, s := openTracker(t, Config{FailThreshold: 2, BatchWindow: 20 * time.Millisecond,
		MaxGap: func(string) time.Duration { return time.Hour }})
	const checks = 40
	seq := []probe{{0, 'u'}, {1, 'x'}, {2, 'x'}, {3, 'x'}, {4, 'u'}, {5, 'd'}, {6, 'u'}}
	want := []string{"unknown→up", "up→down", "down→up", "up→degraded", "degraded→up"}
	got := make([][]string, checks)
	var wg sync.WaitGroup
	for i := range checks {
		wg.Go(func() {
			for _, c := range run(t, tr, fmt.Sprintf("svc-%d", i), seq) {
				got[i] = append(got[i], c.From.String()+"→"+c.To.String())
			}
		})
	}
	wg.Wait()
	for i := range checks {
		if strings.Join(got[i], " ") != strings.Join(want, " ") {
			t.Fatalf("svc-%d changes %v, want %v", i, got[i], want)
		}
		cur, err := rd.Current(context.Background(), fmt.Sprintf("svc-%d", i))
		if err != nil || cur.Status != Up || !cur.Last.Equal(t0.Add(6*time.Minute)) {
			t.Fatalf("svc-%d current %+v %v", i, cur, err)
		}
	}
	var samples, outbox int
	s.ReadDB().QueryRow(`SELECT count(*) FROM check_samples`).Scan(&samples)
	s.ReadDB().QueryRow(`SELECT count(*) FROM outbox`).Scan(&outbox)
	if samples != checks*len(seq) || outbox != checks*len(want) {
		t.Errorf("%d samples, %d outbox rows; want %d, %d", samples, outbox, checks*len(seq), checks*len(want))
	}
}

// A state change whose outbox row the database refuses is not recorded
// at all (no state, incident or sample), and the other results of its
// batch still commit.
func TestBatchChangeAndOutboxAreAtomic(t *testing.T) {
	tr, rd, s := openTracker(t, Config{FailThreshold: 1, BatchWindow: 100 * time.Millisecond})
	if _, err := s.DB().Exec(`CREATE TEMP TRIGGER refuse_down BEFORE INSERT ON outbox WHEN NEW.kind = 'check_down'
		BEGIN SELECT RAISE(ABORT, 'outbox refused'); END`); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		check string
		ch    *Change
		err   error
	}
	answers := make(chan answer, 6)
	var wg sync.WaitGroup
	for i := range 6 {
		check := fmt.Sprintf("ok-%d", i)
		if i == 3 {
			check = "broken"
		}
		wg.Go(func() {
			ch, err := tr.Observe(context.Background(), Observation{Check: check, Time: t0, OK: check != "broken", Detail: "status 503"})
			answers <- answer{check, ch, err}
		})
	}
	wg.Wait()
	close(answers)
	for a := range answers {
		switch {
		case a.check == "broken" && (a.err == nil || !strings.Contains(a.err.Error(), "outbox refused")):
			t.Errorf("broken: %v, want the outbox's refusal", a.err)
		case a.check != "broken" && (a.err != nil || a.ch == nil || a.ch.To != Up):
			t.Errorf("%s: change %+v, err %v", a.check, a.ch, a.err)
		}
	}
	for _, q := range []string{
		`SELECT count(*) FROM check_state WHERE check_name = 'broken'`,
		`SELECT count(*) FROM check_samples WHERE check_name = 'broken'`,
		`SELECT count(*) FROM incidents`,
		`SELECT count(*) FROM uptime_daily WHERE check_name = 'broken'`,
	} {
		var n int
		if err := s.ReadDB().QueryRow(q).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d %v, want nothing of the refused change", q, n, err)
		}
	}
	var ups int
	s.ReadDB().QueryRow(`SELECT count(*) FROM outbox WHERE kind = 'check_up'`).Scan(&ups)
	if ups != 5 {
		t.Errorf("%d check_up rows, want 5", ups)
	}
	if cur, _ := rd.Current(context.Background(), "ok-0"); cur.Status != Up {
		t.Errorf("ok-0 %+v", cur)
	}
}

// A caller whose context ends while its result waits for the window is
// answered at once with the commit's real outcome, not left guessing.
func TestCancelledCallerHurriesTheCommit(t *testing.T) {
	tr, rd, _ := openTracker(t, Config{BatchWindow: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := tr.Observe(ctx, Observation{Check: "wiki", Time: t0, OK: true})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Observe: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled caller still waits for the hour-long window")
	}
	if cur, _ := rd.Current(context.Background(), "wiki"); cur.Status != Up {
		t.Errorf("current %+v, want the committed result", cur)
	}
	if _, err := tr.Observe(ctx, Observation{Check: "wiki", Time: t0.Add(time.Minute), OK: true}); err == nil {
		t.Error("a result offered with an ended context was taken")
	}
}

const crashEnv = "WATCHPOST_UPTIME_CRASH_DB"

// A loghost killed in the middle of recording loses nothing it
// acknowledged: the child process prints each result Observe answered,
// is killed with SIGKILL, and every printed result is in the database.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "w.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		check string
		at    int64
	}
	var acks []ack
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ack" {
			continue
		}
		at, _ := strconv.ParseInt(f[2], 10, 64)
		acks = append(acks, ack{f[1], at})
		if len(acks) == 400 {
			cmd.Process.Kill()
		}
	}
	cmd.Wait()
	if len(acks) < 400 {
		t.Fatalf("the child acknowledged %d results before it ended", len(acks))
	}
	s, err := store.Open(context.Background(), store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, a := range acks {
		var n int
		if err := s.ReadDB().QueryRow(`SELECT count(*) FROM check_samples WHERE check_name = ? AND time = ?`, a.check, a.at).Scan(&n); err != nil || n != 1 {
			t.Fatalf("acknowledged %s at %d: %d rows, %v", a.check, a.at, n, err)
		}
	}
	t.Logf("%d acknowledged results survived the kill", len(acks))
}

func crashChild(path string) {
	s, err := store.Open(context.Background(), store.Options{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tr := New(s.DB(), Config{Location: time.UTC, BatchWindow: 5 * time.Millisecond})
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(60 * time.Second)
	for i := range 20 {
		wg.Go(func() {
			check := fmt.Sprintf("svc-%d", i)
			for n := 0; time.Now().Before(deadline); n++ {
				at := t0.Add(time.Duration(n) * time.Second)
				if _, err := tr.Observe(context.Background(), Observation{Check: check, Time: at, OK: n%5 != 0}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s %d\n", check, at.UnixNano())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(0)
}
