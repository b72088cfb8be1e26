package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/collector"
	"github.com/watchpost/watchpost/collector/hoststat"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/munin"
	"github.com/watchpost/watchpost/rrd"
	"github.com/watchpost/watchpost/store"
)

// muninPollDefault is how often a munin-node is polled: munin's own
// five-minute cycle, which its plugins' counters are made for.
const muninPollDefault = 5 * time.Minute

// startMetrics opens the metric store and starts what feeds it besides
// the collectors: the loghost's own host and the munin-nodes of the
// config.
func (l *loghost) startMetrics(ctx context.Context, cfg *config.Config, st settings, set *metrics.Set) (dashboard.MetricsSource, error) {
	watch, err := newThresholdWatch(ctx, l.store.ReadDB(), cfg, l.o.Now, set)
	if err != nil {
		return nil, err
	}
	l.thresholds = watch
	opts := rrd.Options{Now: l.o.Now, Metrics: set, Logger: l.o.Logger.With("component", "rrd"), Observer: watch}
	src := &metricsSource{now: l.o.Now, log: l.o.Logger.With("component", "metrics")}
	if u := cfg.Storage.VictoriaMetrics; u != "" {
		vm, err := rrd.NewVictoria(rrd.VictoriaOptions{URL: u, Metrics: set, Logger: l.o.Logger.With("component", "victoriametrics")})
		if err != nil {
			return nil, err
		}
		opts.Victoria = vm
		src.vm = vm
		l.wg.Add(1)
		go func() { defer l.wg.Done(); vm.Run(ctx) }()
		func() {
			// The loghost's own metrics go there too, every 30 s.
			if err := rrd.PushMetrics(ctx, u, l.writeMetrics, 30*time.Second, fmt.Sprintf(`instance=%q`, st.hostname)); err != nil {
				l.o.Logger.Warn("push own metrics to VictoriaMetrics", "err", err)
			}
		}()
	}
	db, err := rrd.Open(ctx, l.store, opts)
	if err != nil {
		return nil, err
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			err := db.Run(ctx)
			if ctx.Err() != nil {
				return
			}
			l.o.Logger.Error("metric store consumer failed; restarting from its cursor", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	if st.selfEnabled {
		loop := &collector.MetricsLoop{
			Sources:  []collector.NamedSource{{Origin: "builtin", Source: hoststat.New(hoststat.Options{Metrics: set, Logger: l.o.Logger.With("component", "hoststat")})}},
			Interval: time.Minute, Now: l.o.Now, Logger: l.o.Logger.With("component", "self-metrics"), Metrics: set,
			Send: func(ctx context.Context, items []any) error {
				_, err := l.store.Append(ctx, st.hostname, metricRecords(items, l.o.Now()))
				return err
			},
		}
		l.wg.Add(1)
		go func() { defer l.wg.Done(); loop.Run(ctx) }()
	}
	src.db = db
	return src, nil
}

// pollMunin fetches every plugin of one munin-node and stores the values
// as that node's metric records, as if its collector had sent them.
func (l *loghost) pollMunin(ctx context.Context, n config.MuninNode) error {
	at := l.o.Now()
	host, graphs, fetches, err := munin.Poll(ctx, n.Address, 30*time.Second)
	if len(fetches) == 0 && err != nil {
		return err
	}
	if n.Name != "" {
		host = n.Name
	}
	if host == "" {
		host = n.Address
	}
	items := collector.Items("munin-node", at, graphs, fetches)
	if len(items) == 0 {
		return err
	}
	if _, aerr := l.store.Append(ctx, host, metricRecords(items, at)); aerr != nil {
		return aerr
	}
	return err
}

// metricRecords turns metric items into stream records.
func metricRecords(items []any, now time.Time) []store.Record {
	recs := make([]store.Record, 0, len(items))
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			continue
		}
		ev := logparse.NewEvent()
		ev.Time = now
		recs = append(recs, store.Record{Kind: store.KindMetric, Received: now, Event: ev, Offset: -1, Data: b})
	}
	return recs
}

// metricsSource serves the graph pages from the metric store, and from
// VictoriaMetrics when one is configured and can give a range finer than
// the consolidated tiers keep.
type metricsSource struct {
	db  *rrd.DB
	vm  *rrd.Victoria
	now func() time.Time
	log *slog.Logger
}

func (m *metricsSource) Hosts(ctx context.Context) ([]dashboard.MetricHost, error) {
	hosts, err := m.db.Hosts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]dashboard.MetricHost, 0, len(hosts))
	for _, h := range hosts {
		gs, err := m.db.Graphs(ctx, h)
		if err != nil {
			return nil, err
		}
		mh := dashboard.MetricHost{Name: h, Graphs: len(gs), LastSeen: m.db.LastUpdate(h)}
		for _, g := range gs {
			c := g.Category
			if c == "" {
				c = "other"
			}
			if !slices.Contains(mh.Categories, c) {
				mh.Categories = append(mh.Categories, c)
			}
		}
		slices.Sort(mh.Categories)
		out = append(out, mh)
	}
	return out, nil
}

func (m *metricsSource) Graphs(ctx context.Context, host string) ([]munin.Graph, error) {
	return m.db.Graphs(ctx, host)
}

// rawKeep is how far back the metric store keeps every sample.
const rawKeep = 48 * time.Hour

func (m *metricsSource) Query(ctx context.Context, host, graph string, from, to time.Time, points int) ([]dashboard.FieldSeries, error) {
	var ss []rrd.Series
	var err error
	if m.vm != nil && from.Before(m.now().Add(-rawKeep)) {
		// Beyond the raw window the tiers average over 5 minutes to a
		// day; VictoriaMetrics keeps every sample, so ask it for exactly
		// the resolution the graph can show.
		step := max(to.Sub(from)/time.Duration(max(points, 1)), time.Minute)
		ss, err = m.vm.Query(ctx, host, graph, from, to, step)
		if err != nil || len(ss) == 0 {
			if err != nil {
				m.log.Warn("graph from VictoriaMetrics failed; using the local tiers", "host", host, "graph", graph, "err", err)
			}
			ss, err = nil, nil
		}
	}
	if ss == nil {
		ss, err = m.db.Query(ctx, host, graph, from, to, points)
	}
	if err != nil {
		return nil, err
	}
	out := make([]dashboard.FieldSeries, len(ss))
	for i, s := range ss {
		fs := dashboard.FieldSeries{Field: s.Field, Times: make([]int64, len(s.Points)),
			Avg: make([]float64, len(s.Points)), Min: make([]float64, len(s.Points)), Max: make([]float64, len(s.Points))}
		for j, p := range s.Points {
			fs.Times[j], fs.Avg[j], fs.Min[j], fs.Max[j] = p.T, p.Avg, p.Min, p.Max
		}
		out[i] = fs
	}
	return out, nil
}
