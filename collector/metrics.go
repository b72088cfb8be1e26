package collector

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/munin"
)

// MetricSource is one round of host metrics: the built-in /proc readers,
// or the munin plugins. A failing part is reported in err while the rest
// still comes back.
type MetricSource interface {
	Collect(ctx context.Context) ([]munin.Graph, []munin.Fetch, error)
}

// MetricSourceFunc adapts a function to MetricSource.
type MetricSourceFunc func(ctx context.Context) ([]munin.Graph, []munin.Fetch, error)

// Collect implements MetricSource.
func (f MetricSourceFunc) Collect(ctx context.Context) ([]munin.Graph, []munin.Fetch, error) {
	return f(ctx)
}

// NamedSource is a MetricSource with the origin its items carry.
type NamedSource struct {
	Origin string // "builtin", "plugin"
	Source MetricSource
}

// MetricsLoop collects every Interval, on the interval's boundaries (so
// rounds of all hosts line up with the loghost's consolidation steps),
// and sends each round's items.
type MetricsLoop struct {
	Sources  []NamedSource
	Interval time.Duration
	// Send delivers a round; it returns nil once the items are durable
	// (acknowledged or spooled).
	Send   func(ctx context.Context, items []any) error
	Now    func() time.Time
	Logger *slog.Logger
	// Metrics, when set, gets the loop's counters.
	Metrics *metrics.Set
}

// Items pairs fetched values with their graph's metadata, one ingest item
// per graph. Values of a graph the source did not describe are dropped:
// the loghost cannot store a field whose type it does not know.
func Items(origin string, at time.Time, graphs []munin.Graph, fetches []munin.Fetch) []any {
	byName := make(map[string]int, len(graphs))
	for i, g := range graphs {
		byName[g.Name] = i
	}
	items := make([]any, 0, len(fetches))
	for _, f := range fetches {
		i, ok := byName[f.Graph]
		if !ok || len(f.Values) == 0 {
			continue
		}
		items = append(items, munin.Item{Type: "metric", Time: at.Unix(), Origin: origin, Graph: graphs[i], Values: f.Values})
	}
	return items
}

// Round collects once from every source.
func (l *MetricsLoop) Round(ctx context.Context) []any {
	at := l.Now()
	var items []any
	for _, s := range l.Sources {
		graphs, fetches, err := s.Source.Collect(ctx)
		if err != nil {
			l.Logger.Warn("metric collection incomplete", "origin", s.Origin, "err", err)
		}
		items = append(items, Items(s.Origin, at, graphs, fetches)...)
	}
	return items
}

// Run collects and sends until ctx ends. A round the spool cannot take
// (full) is dropped and counted rather than delaying the next: metric
// rounds are independent, log lines are not.
func (l *MetricsLoop) Run(ctx context.Context) error {
	if l.Interval <= 0 {
		return errors.New("metrics: no interval")
	}
	if l.Logger == nil {
		l.Logger = slog.Default()
	}
	set := l.Metrics
	if set == nil {
		set = metrics.NewSet()
	}
	rounds := set.NewCounter("watchpost_collector_metric_rounds_total")
	lost := set.NewCounter("watchpost_collector_metric_rounds_lost_total")
	dur := set.NewHistogram("watchpost_collector_metric_round_seconds")
	for {
		now := l.Now()
		next := now.Truncate(l.Interval).Add(l.Interval)
		if !sleep(ctx, next.Sub(now)) {
			return nil
		}
		start := time.Now()
		items := l.Round(ctx)
		dur.UpdateDuration(start)
		rounds.Inc()
		if len(items) == 0 {
			continue
		}
		if err := l.Send(ctx, items); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			lost.Inc()
			l.Logger.Warn("metric round not sent; dropped", "items", len(items), "err", err)
		}
	}
}
