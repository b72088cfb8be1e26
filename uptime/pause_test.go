package uptime

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPauseCountsAsUnknown: a check paused while down neither counts as
// down nor runs up downtime while paused; its results are ignored; on
// resume, the paused time is unknown and results count again. The
// pause survives a new tracker (a restart) and a timed pause ends by
// itself.
func TestPauseCountsAsUnknown(t *testing.T) {
	ctx := context.Background()
	tr, rd, s := openTracker(t, Config{MaxGap: func(string) time.Duration { return 5 * time.Minute }})
	run(t, tr, "wiki", []probe{{0, 'u'}, {10, 'x'}, {11, 'x'}})
	if _, err := tr.Pause(ctx, "wiki", "alice", t0.Add(12*time.Minute), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Pause(ctx, "wiki", "alice", t0.Add(12*time.Minute), time.Time{}); !errors.Is(err, ErrPaused) {
		t.Fatalf("second pause: %v", err)
	}
	if p, ok := tr.Paused("wiki", t0.Add(20*time.Minute)); !ok || p.By != "alice" {
		t.Fatalf("paused %+v %v", p, ok)
	}
	// A late result while paused changes nothing.
	if ch := run(t, tr, "wiki", []probe{{15, 'u'}}); len(ch) != 0 {
		t.Fatalf("change while paused: %+v", ch[0])
	}
	// A restart keeps the pause.
	tr2 := New(s.DB(), Config{MaxGap: func(string) time.Duration { return 5 * time.Minute }, Location: time.UTC})
	if err := tr2.LoadPauses(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := tr2.Paused("wiki", t0.Add(30*time.Minute)); !ok {
		t.Fatal("pause lost across a restart")
	}
	if err := tr2.Resume(ctx, "wiki", t0.Add(72*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := tr2.Resume(ctx, "wiki", t0.Add(72*time.Minute)); !errors.Is(err, ErrPaused) {
		t.Fatalf("second resume: %v", err)
	}
	run(t, tr2, "wiki", []probe{{73, 'u'}})
	days, err := rd.Days(ctx, "wiki", 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	d := days[0]
	// up 0–5 (then the 5-minute gap to the next probe is unknown), down
	// 10–12 and 72–73 (the resumed check's first minute is its old state
	// until a probe says otherwise), unknown 5–10 and the pause, 12–72.
	if d.Up != (5*time.Minute).Milliseconds() || d.Down != (3*time.Minute).Milliseconds() || d.Unknown != (65*time.Minute).Milliseconds() {
		t.Errorf("day: up %v down %v unknown %v", time.Duration(d.Up)*time.Millisecond, time.Duration(d.Down)*time.Millisecond, time.Duration(d.Unknown)*time.Millisecond)
	}
	cur, _ := rd.Current(ctx, "wiki")
	if cur.Status != Up {
		t.Errorf("after resume: %v", cur.Status)
	}

	// A timed pause ends by itself: the first result after it counts.
	if _, err := tr2.Pause(ctx, "wiki", "cron", t0.Add(80*time.Minute), t0.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, ok := tr2.Paused("wiki", t0.Add(95*time.Minute)); ok {
		t.Error("timed pause still holds after its end")
	}
	if ch := run(t, tr2, "wiki", []probe{{91, 'x'}, {92, 'x'}}); len(ch) != 1 || ch[0].To != Down {
		t.Errorf("after a timed pause: %+v", ch)
	}
	if got := tr2.Resumed("wiki", t0.Add(95*time.Minute)); !got.Equal(t0.Add(90 * time.Minute)) {
		t.Errorf("resumed at %v", got)
	}
}
