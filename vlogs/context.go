package vlogs

import (
	"context"
	"sync"
	"time"

	"github.com/watchpost/watchpost/store"
)

// Context lines, as the SQLite store gives them: up to n lines before and
// after each match from the same host, collector source and file, in
// (time, seq) order; overlapping or touching runs join into one group
// (grep prints "--" between groups). VictoriaLogs' stream_context pipe
// goes by its stream (host and program here) and by time alone, so the
// lines are looked up here instead: the n+1 lines before and after each
// match, the extra one telling whether two runs touch.

type srcKey struct{ host, source, file string }

type window struct {
	before, after []store.Record // nearest last / nearest first
	pred, succ    int64          // seq of the line just outside, 0: none
}

// contextWorkers bounds the lookups in flight for one search.
const contextWorkers = 4

func (s *Searcher) withContext(ctx context.Context, matches []store.Record, n int, keep func(*store.Record) bool, st *store.SearchStats) ([]store.Hit, error) {
	wins := make([]window, len(matches))
	errs := make([]error, len(matches))
	stats := make([]store.SearchStats, len(matches))
	sem := make(chan struct{}, contextWorkers)
	var wg sync.WaitGroup
	for i := range matches {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m := &matches[i]
			src := sourceFilter(m)
			before, err := s.newest(ctx, and(src, beforeFilter(m)), time.Time{}, time.Time{}, n+1, func(*store.Record) bool { return true }, &stats[i])
			if err != nil {
				errs[i] = err
				return
			}
			after, err := s.oldest(ctx, and(src, afterFilter(m)), m.Time, n+1, &stats[i])
			if err != nil {
				errs[i] = err
				return
			}
			w := window{before: before, after: after}
			if len(w.before) > n {
				w.pred = w.before[0].Seq
				w.before = w.before[1:]
			}
			if len(w.after) > n {
				w.succ = w.after[n].Seq
				w.after = w.after[:n]
			}
			wins[i] = w
		}()
		if ctx.Err() != nil {
			break
		}
	}
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			return nil, errs[i]
		}
		st.Scanned += stats[i].Scanned
	}
	isMatch := make(map[int64]bool, len(matches))
	for i := range matches {
		isMatch[matches[i].Seq] = true
	}
	// next links a line to the line that follows it in its source, where
	// known.
	next := map[int64]int64{}
	rows := map[srcKey]map[int64]store.Record{}
	for i := range matches {
		m := &matches[i]
		k := srcKey{m.Host, m.Source, m.File}
		// A match older than the newest-N kept is not shown, nor the
		// lines before it (as the store's newest-N cuts).
		for j := len(wins[i].before) - 1; j >= 0; j-- {
			if r := &wins[i].before[j]; !isMatch[r.Seq] && keep(r) {
				wins[i].before, wins[i].pred = wins[i].before[j+1:], 0
				break
			}
		}
		if rows[k] == nil {
			rows[k] = map[int64]store.Record{}
		}
		run := make([]store.Record, 0, len(wins[i].before)+1+len(wins[i].after))
		run = append(run, wins[i].before...)
		run = append(run, *m)
		run = append(run, wins[i].after...)
		for j := range run {
			rows[k][run[j].Seq] = run[j]
			if j > 0 {
				next[run[j-1].Seq] = run[j].Seq
			}
		}
		if wins[i].pred != 0 {
			next[wins[i].pred] = run[0].Seq
		}
		if wins[i].succ != 0 {
			next[run[len(run)-1].Seq] = wins[i].succ
		}
	}
	var hits []store.Hit
	group := 0
	for _, byseq := range rows {
		recs := make([]store.Record, 0, len(byseq))
		for _, r := range byseq {
			recs = append(recs, r)
		}
		recs = sortDedup(recs)
		for j := range recs {
			if j == 0 || next[recs[j-1].Seq] != recs[j].Seq {
				group++
			}
			hits = append(hits, store.Hit{Record: recs[j], Match: isMatch[recs[j].Seq], Group: group})
		}
	}
	sortHits(hits)
	return hits, nil
}
