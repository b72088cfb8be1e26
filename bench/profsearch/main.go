package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/watchpost/watchpost/query"
	"github.com/watchpost/watchpost/store"
)

func main() {
	dir := flag.String("dir", "", "")
	q := flag.String("q", "", "")
	prof := flag.String("prof", "", "")
	sum := flag.Bool("sum", false, "")
	since := flag.String("since", "", "")
	until := flag.String("until", "", "")
	step := flag.Duration("step", 0, "")
	maxb := flag.Int("max", 0, "")
	n := flag.Int("n", 1, "")
	flag.Parse()
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Path: *dir + "/watchpost.db", ReadOnly: true})
	if err != nil {
		panic(err)
	}
	qq, err := query.Parse(*q)
	if err != nil {
		panic(err)
	}
	var st, un time.Time
	if *since != "" {
		st, _ = time.Parse(time.RFC3339, *since)
		un, _ = time.Parse(time.RFC3339, *until)
	}
	if *prof != "" {
		f, _ := os.Create(*prof)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	for i := 0; i < *n; i++ {
		t := time.Now()
		if *sum {
			r, err := s.Summarize(ctx, store.SummaryOptions{Query: qq, Since: st, Until: un, Step: *step, Fields: []string{"*"}, MaxBlocks: *maxb})
			if err != nil {
				panic(err)
			}
			fmt.Println(r.Total, r.BlocksInRange, r.FromStats, r.Read, r.Sampled, time.Since(t))
			continue
		}
		hits, stt, err := s.Search(ctx, store.SearchOptions{Query: qq, Since: st, Until: un})
		if err != nil {
			panic(err)
		}
		fmt.Println(len(hits), stt, time.Since(t))
	}
}
