package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/store"
)

// hostStats is the loghost's built-in stream consumer: lines and bytes per
// host and day, committed with its cursor, so its counts equal what the
// store holds, neither doubled nor short after any crash. The dashboard
// shows them; the crash tests check them.
//
// It also keeps each collector's latest self-report, so the loghost's
// /metrics shows every host's spool, lag and losses.
type hostStats struct {
	loc *time.Location
	set *metrics.Set

	mu      sync.Mutex
	reports map[string]collectorReport
}

// collectorReport is what the loghost reads of a collector's self-report
// (collector.Report).
type collectorReport struct {
	Version         string `json:"version"`
	UptimeSeconds   int64  `json:"uptime_seconds"`
	SpoolBatches    int    `json:"spool_batches"`
	SpoolBytes      int64  `json:"spool_bytes"`
	LostGenerations uint64 `json:"lost_generations"`
	LostBytes       int64  `json:"lost_bytes"`
	TruncatedLines  uint64 `json:"truncated_lines"`
	ShipErrors      uint64 `json:"ship_errors"`
	Sources         []struct {
		Lag int64 `json:"lag_bytes"`
	} `json:"sources"`
	received time.Time
}

func (h *hostStats) report(host string, data []byte, received time.Time) {
	var rep collectorReport
	if json.Unmarshal(data, &rep) != nil || host == "" {
		return
	}
	rep.received = received
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reports == nil {
		h.reports = map[string]collectorReport{}
	}
	if _, ok := h.reports[host]; !ok && h.set != nil && len(h.reports) < 10000 {
		get := func(f func(collectorReport) float64) func() float64 {
			return func() float64 {
				h.mu.Lock()
				defer h.mu.Unlock()
				return f(h.reports[host])
			}
		}
		l := fmt.Sprintf(`{host=%q}`, host)
		h.set.GetOrCreateGauge("watchpost_collector_report_spool_bytes"+l, get(func(r collectorReport) float64 { return float64(r.SpoolBytes) }))
		h.set.GetOrCreateGauge("watchpost_collector_report_lost_generations"+l, get(func(r collectorReport) float64 { return float64(r.LostGenerations) }))
		h.set.GetOrCreateGauge("watchpost_collector_report_lost_bytes"+l, get(func(r collectorReport) float64 { return float64(r.LostBytes) }))
		h.set.GetOrCreateGauge("watchpost_collector_report_truncated_lines"+l, get(func(r collectorReport) float64 { return float64(r.TruncatedLines) }))
		h.set.GetOrCreateGauge("watchpost_collector_report_lag_bytes"+l, get(func(r collectorReport) float64 {
			var n int64
			for _, s := range r.Sources {
				n += s.Lag
			}
			return float64(n)
		}))
		h.set.GetOrCreateGauge("watchpost_collector_last_report_timestamp_seconds"+l, get(func(r collectorReport) float64 { return float64(r.received.Unix()) }))
	}
	if old, ok := h.reports[host]; !ok || !received.Before(old.received) {
		h.reports[host] = rep
	}
}

const hostStatsConsumer = "hoststats"

func (h *hostStats) consume(ctx context.Context, tx *sql.Tx, recs []store.Record) error {
	type key struct{ host, day string }
	agg := map[key][2]int64{}
	for i := range recs {
		r := &recs[i]
		if r.Kind == store.KindReport {
			h.report(r.Host, r.Data, r.Received)
			// Lines the collector could not read raise the host's
			// incident, once per new loss (the report is read once).
			if err := alerting.CollectorLoss(ctx, tx, r.Host, r.Data, r.Received); err != nil {
				return err
			}
			continue
		}
		if r.Kind != store.KindLog {
			continue
		}
		k := key{r.Host, r.Time.In(h.loc).Format("2006-01-02")}
		v := agg[k]
		v[0]++
		v[1] += int64(len(r.Raw))
		agg[k] = v
	}
	for k, v := range agg {
		if _, err := tx.ExecContext(ctx, `INSERT INTO host_daily(host, day, lines, bytes) VALUES(?,?,?,?)
			ON CONFLICT(host, day) DO UPDATE SET lines = lines + excluded.lines, bytes = bytes + excluded.bytes`,
			k.host, k.day, v[0], v[1]); err != nil {
			return fmt.Errorf("host stats: %w", err)
		}
	}
	return nil
}
