package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/logparse"
)

// TestRecentMatchesBlocks: the consumers' in-memory window gives exactly
// the records the blocks give back, whatever the window (across commits,
// hosts, kinds, replays dropped), and stops cleanly at its edges.
func TestRecentMatchesBlocks(t *testing.T) {
	s, _ := openTest(t, func(o *Options) { o.BlockLines = 64 }) // a window of 128 records
	ctx := context.Background()
	var wg sync.WaitGroup
	for round := range 6 {
		for i, host := range []string{"web1", "db1", "web1"} {
			recs := genRecords(40, uint64(round*10+i), t0.Add(time.Duration(round)*time.Minute))
			for j := range recs {
				recs[j].Source, recs[j].Gen, recs[j].Offset = fmt.Sprintf("file:/var/log/%s.%d", host, i), "g1", int64(round*1000+i*100+j)
				if j%7 == 0 {
					recs[j].Fields = append(recs[j].Fields, logparse.Field{Key: "k", Value: fmt.Sprint(j)})
				}
			}
			recs = append(recs, Record{Kind: KindMetric, Data: []byte(`{"type":"metric"}`), Offset: -1, Event: logparse.NewEvent()})
			// Concurrent Appends land in one commit, with several blocks.
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Append(ctx, host, recs); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	last := s.LastSeq()
	if last != 6*3*41 {
		t.Fatalf("last seq %d, want %d", last, 6*3*41)
	}
	fromDisk := func(after, hi int64, kind int) []Record {
		keep := s.recent
		s.recent = nil
		defer func() { s.recent = keep }()
		out, err := s.readWindow(ctx, after, hi, kind)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	served := 0
	for _, w := range [][2]int64{{0, 50}, {last - 300, last}, {last - 256, last}, {last - 100, last - 20}, {last - 10, last + 100}, {last - 1, last}, {last, last + 5}} {
		for _, kind := range []int{-1, int(KindLog), int(KindMetric)} {
			got, ok := s.recent.read(w[0], w[1], kind)
			if !ok {
				continue
			}
			served++
			want := fromDisk(w[0], w[1], kind)
			if len(got) == 0 && len(want) == 0 {
				continue
			}
			for i := range want {
				if len(want[i].Fields) == 0 {
					want[i].Fields = nil // decoded: empty, not nil
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("window (%d,%d] kind %d: memory gives %d records, blocks %d; first differ: %s", w[0], w[1], kind, len(got), len(want), firstDiff(got, want))
			}
		}
	}
	if served < 6 {
		t.Errorf("the window served only %d reads", served)
	}
	if _, ok := s.recent.read(0, 50, -1); ok {
		t.Error("the window claims records it has evicted")
	}
	if _, ok := s.recent.read(last, last+5, -1); ok {
		t.Error("the window claims records not yet committed")
	}
}

func firstDiff(a, b []Record) string {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("#%d\n memory %+v\n blocks %+v", i, a[i], b[i])
		}
	}
	return "lengths"
}

// TestAppendAsyncChain: parts of one batch queued together are stored in
// order, and a part after a failed one is not stored at all, so a sender
// that resends the batch finds a prefix stored and nothing after a gap.
func TestAppendAsyncChain(t *testing.T) {
	ctx := context.Background()
	part := func(src string, from int) []Record {
		recs := genRecords(10, uint64(from), t0)
		for j := range recs {
			recs[j].Source, recs[j].Gen, recs[j].Offset = src, "g", int64(from+j)
		}
		return recs
	}
	t.Run("in order", func(t *testing.T) {
		s, _ := openTest(t, nil)
		var prev *Pending
		var ps []*Pending
		for k := range 5 {
			p, err := s.AppendAsync("web1", part("f", k*10), prev)
			if err != nil {
				t.Fatal(err)
			}
			ps, prev = append(ps, p), p
		}
		for k, p := range ps {
			if r, err := p.Wait(ctx); err != nil || r.Stored != 10 {
				t.Fatalf("part %d: %+v %v", k, r, err)
			}
		}
	})
	t.Run("after a failed part", func(t *testing.T) {
		// A quota of one byte: the first part gets in, the second is over.
		s, _ := openTest(t, func(o *Options) { o.HostQuotaPerDay = 1 })
		p1, _ := s.AppendAsync("web1", part("f", 0), nil)
		if _, err := p1.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		p2, _ := s.AppendAsync("web1", part("f", 10), p1)
		p3, _ := s.AppendAsync("web1", part("f", 20), p2)
		if _, err := p2.Wait(ctx); !errors.Is(err, ErrQuota) {
			t.Fatalf("part 2: %v", err)
		}
		if _, err := p3.Wait(ctx); !errors.Is(err, ErrPredecessor) {
			t.Fatalf("part 3: %v", err)
		}
		if _, err := s.AppendAsync("web1", part("f", 30), p3); !errors.Is(err, ErrPredecessor) {
			t.Fatalf("part 4 after a known failure: %v", err)
		}
		if n := s.LastSeq(); n != 10 {
			t.Fatalf("%d records stored, want the first part's 10", n)
		}
	})
}
