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
	// DefaultTick is the grid start times are rounded to: 1,000 checks
	// every 30 s spread over 15 s start on 150 ticks, so the loghost wakes
	// 5 times a second to start a handful of probes together rather than
	// 33 times for one.
	DefaultTick = 100 * time.Millisecond
)

// Scheduler runs probes at their intervals, no more than MaxConcurrent at
// once, and hands every result to the sink.
type Scheduler struct {
	// MaxConcurrent bounds the probes running at once (set before Run).
	MaxConcurrent int
	// MaxSpread bounds each check's start offset (set before Run).
	MaxSpread time.Duration
	// Tick rounds each check's start offset down to a multiple of it
	// (set before Run; 0 does not round).
	Tick time.Duration

	// Skip, when set, is asked before each scheduled probe: true skips
	// it (a paused check runs no probe). Set before Run.
	Skip func(check string) bool

	probes  []*Probe
	kicks   map[string]chan struct{} // RunNow, per check
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
		Tick:          DefaultTick,
		probes:        probes,
		now:           now,
		sink:          sink,
		set:           set,
		log:           logger,
		kicks:         make(map[string]chan struct{}, len(probes)),
	}
	for _, p := range probes {
		s.kicks[p.Name] = make(chan struct{}, 1)
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

// job is one due probe, handed from its check's loop to a worker.
type job struct {
	p    *Probe
	r    Result
	done chan struct{} // one token per finished run
}

// Run probes until ctx is cancelled, then waits for the probes under way.
// Their results, cut short by the shutdown, are not reported: a restart
// is not an outage.
//
// Each check has a goroutine that only keeps its time; MaxConcurrent
// workers run the probes. A worker's stack stays grown across probes,
// where a goroutine per check grew its stack anew for nearly every probe
// (the collector shrinks idle stacks between them).
func (s *Scheduler) Run(ctx context.Context) error {
	n := s.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	jobs := make(chan *job)
	var workers, loops sync.WaitGroup
	for range n {
		workers.Go(func() { s.work(ctx, jobs) })
	}
	// One origin for every check, so offsets on the same tick share a
	// timer expiry, and a wake-up.
	base := time.Now()
	for _, p := range s.probes {
		loops.Go(func() { s.loop(ctx, p, base, jobs) })
	}
	s.log.Info("checker started", "checks", len(s.probes), "max_concurrent", n)
	loops.Wait()
	workers.Wait()
	return nil
}

func (s *Scheduler) work(ctx context.Context, jobs <-chan *job) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-jobs:
			s.running.Add(1)
			started := s.now()
			j.r = j.p.Run(ctx)
			j.r.Time = started
			s.running.Add(-1)
			j.done <- struct{}{}
		}
	}
}

// RunNow asks for an extra probe of check at once (the console's "run
// now"); its schedule stays as it was. False when no such check runs
// here. A request while one waits is the same request.
func (s *Scheduler) RunNow(check string) bool {
	k, ok := s.kicks[check]
	if !ok {
		return false
	}
	select {
	case k <- struct{}{}:
	default:
	}
	return true
}

func (s *Scheduler) loop(ctx context.Context, p *Probe, base time.Time, jobs chan<- *job) {
	interval := p.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	off := offset(p.Name, interval, s.MaxSpread)
	if s.Tick > 0 {
		off -= off % s.Tick
	}
	next := base.Add(off)
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	m := s.checkMetrics(p)
	j := &job{p: p, done: make(chan struct{}, 1)}
	kick := s.kicks[p.Name]
	for {
		extra := false
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-kick:
			extra = true
		}
		if !extra && s.Skip != nil && s.Skip(p.Name) {
			next = next.Add(interval)
			if late := time.Since(next); late > 0 {
				next = next.Add((late/interval + 1) * interval)
			}
			timer.Reset(time.Until(next))
			continue
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return
		}
		// A worker that took the job always answers: the probe ends at
		// its timeout or with ctx.
		<-j.done
		r := j.r
		j.r = Result{}
		if ctx.Err() != nil {
			return
		}
		m.record(s, p, r)
		// The sink runs here, not on the worker: it may wait (for a
		// database commit) without holding a probe slot.
		if s.sink != nil {
			s.sink(r)
		}
		if extra {
			continue // the timer still runs for the scheduled probe
		}
		next = next.Add(interval)
		// A slow probe or a full pool made us late: skip the missed runs
		// rather than firing them back to back.
		if late := time.Since(next); late > 0 {
			missed := late/interval + 1
			m.skipped.Add(int(missed))
			next = next.Add(missed * interval)
		}
		timer.Reset(time.Until(next))
	}
}

// checkMetrics are one check's series, looked up once rather than by
// name (built anew, escaped) after every probe.
type checkMetrics struct {
	success, degraded, failure, skipped *metrics.Counter
	duration                            *metrics.Histogram
}

func (s *Scheduler) checkMetrics(p *Probe) *checkMetrics {
	name := escapeLabel(p.Name)
	label := `{check="` + name + `"}`
	probes := func(result string) *metrics.Counter {
		return s.set.GetOrCreateCounter(`watchpost_checker_probes_total{check="` + name + `",result="` + result + `"}`)
	}
	return &checkMetrics{
		success:  probes("success"),
		degraded: probes("degraded"),
		failure:  probes("failure"),
		skipped:  s.set.GetOrCreateCounter("watchpost_checker_skipped_total" + label),
		duration: s.set.GetOrCreateHistogram("watchpost_checker_probe_duration_seconds" + label),
	}
}

func (m *checkMetrics) record(s *Scheduler, p *Probe, r Result) {
	switch {
	case r.Degraded:
		m.degraded.Inc()
	case r.Success:
		m.success.Inc()
	default:
		m.failure.Inc()
	}
	m.duration.Update(r.Duration.Seconds())
	if !r.Success {
		s.log.Debug("check failed", "check", p.Name, "type", p.Type, "error", r.Error)
	}
}

// escapeLabel escapes a label value as the Prometheus text format wants.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
