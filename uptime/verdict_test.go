package uptime

import (
	"context"
	"testing"
	"time"
)

// at is t0 plus m minutes.
func at(m float64) time.Time { return t0.Add(time.Duration(m * float64(time.Minute))) }

func minutesOf(t *testing.T, rd *Reader, check string) [5]int64 {
	t.Helper()
	days, err := rd.Days(context.Background(), check, 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	d := days[0]
	return [5]int64{d.Up / 60000, d.Degraded / 60000, d.Down / 60000, d.Unknown / 60000, d.Maintenance / 60000}
}

func observe(t *testing.T, tr *Tracker, o Observation) *Change {
	t.Helper()
	c, err := tr.Observe(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A decision taken elsewhere (several vantages' quorum) applies at once,
// and an outage confirmed after a suspected failure counts from that
// failure.
func TestVerdictAndSuspect(t *testing.T) {
	tr, rd, _ := openTracker(t, Config{FailThreshold: 2, MaxGap: func(string) time.Duration { return 5 * time.Minute }})
	if c := observe(t, tr, Observation{Check: "web", Time: at(0), OK: true, Verdict: true}); c == nil || c.To != Up {
		t.Fatalf("first verdict: %+v", c)
	}
	if c := observe(t, tr, Observation{Check: "web", Time: at(2), Suspect: true}); c != nil {
		t.Fatalf("a suspect changed the state: %+v", c)
	}
	// Up verdicts while the failure is being confirmed keep it pending.
	observe(t, tr, Observation{Check: "web", Time: at(3), OK: true, Degraded: false, Verdict: true, NoSample: true})
	if cur, _ := rd.Current(context.Background(), "web"); cur.Status != Up {
		t.Fatalf("state %v", cur.Status)
	}
	// A blip: the pending failure is dropped, its time was up.
	if got := minutesOf(t, rd, "web"); got != [5]int64{3, 0, 0, 0, 0} {
		t.Fatalf("minutes %v", got)
	}
	observe(t, tr, Observation{Check: "web", Time: at(4), Suspect: true})
	c := observe(t, tr, Observation{Check: "web", Time: at(5), OK: false, Verdict: true, Detail: "down from a, b"})
	if c == nil || c.To != Down || !c.Since.Equal(at(4)) {
		t.Fatalf("confirmed: %+v", c)
	}
	// One verdict is enough to recover.
	if c := observe(t, tr, Observation{Check: "web", Time: at(7), OK: true, Verdict: true}); c == nil || c.To != Up || !c.Since.Equal(at(7)) {
		t.Fatalf("recovered: %+v", c)
	}
	if got := minutesOf(t, rd, "web"); got != [5]int64{4, 0, 3, 0, 0} {
		t.Errorf("minutes %v, want 4 up and 3 down", got)
	}
	// A partial outage (degraded) confirmed after a suspect counts from it too.
	observe(t, tr, Observation{Check: "web", Time: at(8), Suspect: true})
	if c := observe(t, tr, Observation{Check: "web", Time: at(9), OK: true, Degraded: true, Verdict: true}); c == nil || c.To != Degraded || !c.Since.Equal(at(8)) {
		t.Fatalf("degraded: %+v", c)
	}
}

// Time nobody watched is unknown until late results fill it, once.
func TestFillGapOnce(t *testing.T) {
	tr, rd, s := openTracker(t, Config{FailThreshold: 2, MaxGap: func(string) time.Duration { return 2 * time.Minute }})
	observe(t, tr, Observation{Check: "web", Time: at(0), OK: true, Verdict: true})
	observe(t, tr, Observation{Check: "web", Time: at(1), OK: true, Verdict: true})
	observe(t, tr, Observation{Check: "web", Time: at(13), OK: true, Verdict: true})
	if got := minutesOf(t, rd, "web"); got != [5]int64{3, 0, 0, 10, 0} {
		t.Fatalf("before: %v", got)
	}
	gaps, err := tr.Gaps(context.Background(), "web", t0)
	if err != nil || len(gaps) != 1 || !gaps[0].From.Equal(at(3)) || !gaps[0].To.Equal(at(13)) {
		t.Fatalf("gaps %+v %v", gaps, err)
	}
	spans := []Span{{From: at(2), To: at(6), Status: Up}, {From: at(6), To: at(8), Status: Down}, {From: at(8), To: at(10), Status: Unknown}, {From: at(10), To: at(14), Status: Up}}
	samples := []Sample{{Time: at(5), OK: true, Duration: time.Millisecond}, {Time: at(7), OK: false}}
	filled, err := tr.Fill(context.Background(), "web", spans, samples)
	if err != nil || filled != 8*time.Minute {
		t.Fatalf("filled %v %v", filled, err)
	}
	if got := minutesOf(t, rd, "web"); got != [5]int64{9, 0, 2, 2, 0} {
		t.Fatalf("after: %v", got)
	}
	// Again: nothing more to fill; what nobody saw stays unknown.
	if filled, err := tr.Fill(context.Background(), "web", spans, samples); err != nil || filled != 0 {
		t.Fatalf("second fill %v %v", filled, err)
	}
	gaps, _ = tr.Gaps(context.Background(), "web", t0)
	if len(gaps) != 1 || !gaps[0].From.Equal(at(8)) || !gaps[0].To.Equal(at(10)) {
		t.Fatalf("left %+v", gaps)
	}
	var n int
	s.ReadDB().QueryRow(`SELECT count(*) FROM check_samples WHERE check_name = 'web'`).Scan(&n)
	if n != 5 { // three verdicts and two late results
		t.Errorf("samples %d, want 5", n)
	}
	// The state did not change: no incident from late results.
	var incidents int
	s.ReadDB().QueryRow(`SELECT count(*) FROM incidents`).Scan(&incidents)
	if incidents != 0 {
		t.Errorf("%d incidents", incidents)
	}
}
