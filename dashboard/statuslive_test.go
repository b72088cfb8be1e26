package dashboard

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestLiveTail: a live message carries each component's newest samples
// in page order (groups, then components), at most liveTailLen each, so
// that status.js can match them to the charts by position.
func TestLiveTail(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s := func(min int, ms float64, ok bool) StatusSample {
		return StatusSample{Time: now.Add(time.Duration(min) * time.Minute), MS: ms, OK: ok}
	}
	tests := []struct {
		name string
		page StatusPage
		want [][]StatusSample
	}{
		{"no groups", StatusPage{}, nil},
		{"no samples", StatusPage{Groups: []StatusGroup{{Components: []StatusComponent{{Name: "a"}}}}}, [][]StatusSample{nil}},
		{"one sample", StatusPage{Groups: []StatusGroup{{Components: []StatusComponent{{Name: "a", Samples: []StatusSample{s(0, 3, true)}}}}}},
			[][]StatusSample{{s(0, 3, true)}}},
		{"page order, newest two", StatusPage{Groups: []StatusGroup{
			{Components: []StatusComponent{{Name: "a", Samples: []StatusSample{s(0, 1, true), s(5, 2, false), s(10, 3, true)}}}},
			{Components: []StatusComponent{{Name: "b"}, {Name: "c", Samples: []StatusSample{s(0, 7, true), s(5, 8, true)}}}},
		}}, [][]StatusSample{{s(5, 2, false), s(10, 3, true)}, nil, {s(0, 7, true), s(5, 8, true)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := liveTail(&tt.page)
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(tt.want)
			if string(a) != string(b) {
				t.Fatalf("tail = %s, want %s", a, b)
			}
		})
	}
}

// TestLiveMessageTail: the message the hub pushes has the tail beside the
// rendered <main>, and stays a small share of it.
func TestLiveMessageTail(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c := NewStatusCache(func(context.Context) (StatusPage, error) { return bigStatusPage(now), nil }, 5*time.Second, nil)
	s, err := c.get(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		HTML string
		Tail [][]StatusSample
	}
	if err := json.Unmarshal(s.live, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Tail) != 50 {
		t.Fatalf("%d tails, want 50", len(m.Tail))
	}
	last := bigStatusPage(now).Groups[4].Components[9].Samples
	if got := m.Tail[49]; len(got) != 2 || !got[1].Time.Equal(last[len(last)-1].Time) || got[1].MS != last[len(last)-1].MS {
		t.Fatalf("last tail %+v, want the last two of %d samples", got, len(last))
	}
	tailJSON, _ := json.Marshal(m.Tail)
	t.Logf("live message %d bytes, of which the tail %d", len(s.live), len(tailJSON))
	if tail := len(s.live) - len(m.HTML); tail > len(m.HTML)/10 {
		t.Errorf("the message is %d bytes beyond its HTML (%d): the tail should be small", tail, len(m.HTML))
	}
}
