package probes

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/watchpost/watchpost/checker"
)

// scheduler runs a collector's probes at their intervals on one timer
// and a couple of workers. The loghost's scheduler (package checker)
// keeps a goroutine per check, and metrics per check; on a host where
// the agent's memory is the point, fifty checks a minute need neither.
type scheduler struct {
	probes  []*checker.Probe
	sink    func(checker.Result)
	workers int
	kick    chan string
}

func newScheduler(probes []*checker.Probe, sink func(checker.Result), workers int) *scheduler {
	return &scheduler{probes: probes, sink: sink, workers: max(workers, 1), kick: make(chan string, 64)}
}

// RunNow asks for an extra probe of check now; false when it is not run
// here.
func (s *scheduler) RunNow(check string) bool {
	for _, p := range s.probes {
		if p.Name == check {
			select {
			case s.kick <- check:
			default: // many asked at once: the ones queued will do
			}
			return true
		}
	}
	return false
}

// spread is where in its interval a check starts: derived from its name
// (not random), so it keeps its phase across restarts, within 15 s so a
// restart does not leave an hourly check unknown for long.
func spread(name string, interval time.Duration) time.Duration {
	window := min(interval, 15*time.Second)
	if window <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(window))
}

// Run probes until ctx ends, then waits for the probes under way (their
// results, cut short, are not reported).
func (s *scheduler) Run(ctx context.Context) {
	type slot struct {
		p       *checker.Probe
		next    time.Time
		running bool
		again   bool // a "probe now" came while it ran
	}
	start := time.Now()
	slots := make([]*slot, len(s.probes))
	byName := map[string]*slot{}
	for i, p := range s.probes {
		slots[i] = &slot{p: p, next: start.Add(spread(p.Name, p.Interval))}
		byName[p.Name] = slots[i]
	}
	jobs := make(chan *checker.Probe)
	done := make(chan string, len(s.probes))
	var wg sync.WaitGroup
	for range s.workers {
		wg.Go(func() {
			for p := range jobs {
				r := p.Run(ctx)
				if ctx.Err() == nil {
					s.sink(r)
				}
				done <- p.Name
			}
		})
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var queue []*slot // due, waiting for a worker
	for {
		now := time.Now()
		wake := now.Add(time.Hour)
		for _, sl := range slots {
			if sl.running {
				continue
			}
			if !sl.next.After(now) {
				sl.running = true
				queue = append(queue, sl)
				for !sl.next.After(now) {
					sl.next = sl.next.Add(sl.p.Interval) // late: skip, do not catch up
				}
			}
			if sl.next.Before(wake) {
				wake = sl.next
			}
		}
		var send chan *checker.Probe
		var head *checker.Probe
		if len(queue) > 0 {
			send, head = jobs, queue[0].p
		}
		timer.Reset(time.Until(wake))
		select {
		case <-ctx.Done():
			return
		case send <- head:
			queue = queue[1:]
		case name := <-done:
			if sl := byName[name]; sl != nil {
				sl.running = false
				if sl.again {
					sl.again = false
					sl.running = true
					queue = append(queue, sl)
				}
			}
		case name := <-s.kick:
			if sl := byName[name]; sl != nil {
				if sl.running {
					sl.again = true
				} else {
					sl.running = true
					queue = append(queue, sl)
				}
			}
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}
