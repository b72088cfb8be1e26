package checker

import (
	"context"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Scheduler defaults.
const (
	DefaultMaxConcurrent = 8
	// DefaultMaxSpread bounds the start offset: a restart must not leave
	// an hourly check unknown for most of an hour.
	DefaultMaxSpread = 15 * time.Second
)

// Scheduler runs probes at their intervals, no more than MaxConcurrent at
// once, and hands every result to the sink.
type Scheduler struct {
	// MaxConcurrent bounds the probes running at once (set before Run).
	MaxConcurrent int
	// MaxSpread bounds each check's start offset (set before Run).
	MaxSpread time.Duration

	probes  []*Probe
	now     func() time.Time
	sink    func(Result)
	set     *metrics.Set
	log     *slog.Logger
	running atomic.Int64
}

// NewScheduler prepares probes to run; nothing starts before Run. The
// sink is called from several goroutines at once; now stamps the results.
func NewScheduler(probes []*Probe, now func() time.Time, sink func(Result), set *metrics.Set, logger *slog.Logger) *Scheduler {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if set == nil {
		set = metrics.NewSet()
	}
	s := &Scheduler{
		MaxConcurrent: DefaultMaxConcurrent,
		MaxSpread:     DefaultMaxSpread,
		probes:        probes,
		now:           now,
		sink:          sink,
		set:           set,
		log:           logger,
	}
	set.GetOrCreateGauge("watchpost_checker_running", func() float64 { return float64(s.running.Load()) })
	return s
}

// offset spreads checks over the start of their interval. It is derived
// from the name, not drawn at random, so a check keeps its phase across
// restarts and two checks of the same site do not always collide.
func offset(name string, interval, spread time.Duration) time.Duration {
	window := min(interval, spread)
	if window <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(window))
}

// Run probes until ctx is cancelled, then waits for the probes under way.
// Their results, cut short by the shutdown, are not reported: a restart
// is not an outage.
func (s *Scheduler) Run(ctx context.Context) error {
	n := s.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, p := range s.probes {
		wg.Go(func() { s.loop(ctx, p, sem) })
	}
	s.log.Info("checker started", "checks", len(s.probes), "max_concurrent", n)
	wg.Wait()
	return nil
}

func (s *Scheduler) loop(ctx context.Context, p *Probe, sem chan struct{}) {
	interval := p.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	next := time.Now().Add(offset(p.Name, interval, s.MaxSpread))
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	label := `{check="` + escapeLabel(p.Name) + `"}`
	skipped := s.set.GetOrCreateCounter("watchpost_checker_skipped_total" + label)
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		s.running.Add(1)
		started := s.now()
		r := p.Run(ctx)
		r.Time = started
		s.running.Add(-1)
		<-sem
		if ctx.Err() != nil {
			return
		}
		s.record(p, label, r)
		if s.sink != nil {
			s.sink(r)
		}
		next = next.Add(interval)
		// A slow probe or a full pool made us late: skip the missed runs
		// rather than firing them back to back.
		if late := time.Since(next); late > 0 {
			missed := late/interval + 1
			skipped.Add(int(missed))
			next = next.Add(missed * interval)
		}
		timer.Reset(time.Until(next))
	}
}

func (s *Scheduler) record(p *Probe, label string, r Result) {
	outcome := "failure"
	switch {
	case r.Degraded:
		outcome = "degraded"
	case r.Success:
		outcome = "success"
	}
	s.set.GetOrCreateCounter(`watchpost_checker_probes_total{check="` + escapeLabel(p.Name) + `",result="` + outcome + `"}`).Inc()
	s.set.GetOrCreateHistogram("watchpost_checker_probe_duration_seconds" + label).Update(r.Duration.Seconds())
	if !r.Success {
		s.log.Debug("check failed", "check", p.Name, "type", p.Type, "error", r.Error)
	}
}

// escapeLabel escapes a label value as the Prometheus text format wants.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
