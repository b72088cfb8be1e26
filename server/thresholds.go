package server

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/munin"
	"github.com/watchpost/watchpost/thresholds"
)

const thresholdStateName = "thresholds"

// thresholdWatch sees every stored metric value (as graphed: rates for
// counters) and turns level changes into outbox rows. The metric store
// calls FlushTx in the transaction that saves its own state and cursor,
// so a level change and its notification commit together, and a crash
// replays both or neither.
type thresholdWatch struct {
	mu      sync.Mutex
	eng     *thresholds.Engine
	pending []thresholds.Event
	now     func() time.Time
	changes *metrics.Counter
}

func thresholdEngine(cfg *config.Config) (*thresholds.Engine, error) {
	var rules []thresholds.Rule
	for _, t := range cfg.Thresholds {
		rules = append(rules, thresholds.Rule{Host: t.Host, Graph: t.Graph, Field: t.Field, Warning: t.Warning, Critical: t.Critical})
	}
	return thresholds.New(thresholds.Options{Rules: rules})
}

// reload swaps in the configuration's thresholds (SIGHUP), keeping every
// field's level and hysteresis: a level changes only when values cross
// the new lines.
func (w *thresholdWatch) reload(cfg *config.Config) error {
	eng, err := thresholdEngine(cfg)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := w.eng.MarshalState()
	if err != nil {
		return fmt.Errorf("threshold state: %w", err)
	}
	if err := eng.UnmarshalState(st); err != nil {
		return fmt.Errorf("threshold state: %w", err)
	}
	w.eng = eng
	return nil
}

func newThresholdWatch(ctx context.Context, db *sql.DB, cfg *config.Config, now func() time.Time, set *metrics.Set) (*thresholdWatch, error) {
	eng, err := thresholdEngine(cfg)
	if err != nil {
		return nil, err
	}
	var data []byte
	err = db.QueryRowContext(ctx, `SELECT data FROM component_state WHERE name = ?`, thresholdStateName).Scan(&data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("threshold state: %w", err)
	default:
		if err := eng.UnmarshalState(data); err != nil {
			return nil, err
		}
	}
	return &thresholdWatch{eng: eng, now: now, changes: set.NewCounter("watchpost_metric_threshold_changes_total")}, nil
}

// Observe implements rrd.Observer.
func (w *thresholdWatch) Observe(host string, g *munin.Graph, field string, t int64, v float64) {
	var f *munin.Field
	for i := range g.Fields {
		if g.Fields[i].Name == field {
			f = &g.Fields[i]
			break
		}
	}
	if f == nil {
		return
	}
	// Thresholds apply to what the graph shows: per graph_period.
	v *= munin.PeriodFactor(g, f)
	w.mu.Lock()
	defer w.mu.Unlock()
	if ev, ok := w.eng.Observe(host, g, f, time.Unix(t, 0), v); ok {
		w.pending = append(w.pending, ev)
	}
}

// FlushTx implements rrd.Observer: the level changes since the last
// flush become outbox rows, saved with the engine's state. They stay
// pending until Flushed: a failed transaction writes them again.
func (w *thresholdWatch) FlushTx(ctx context.Context, tx *sql.Tx) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now().UnixNano()
	for _, ev := range w.pending {
		if err := metricIncident(ctx, tx, ev, time.Unix(0, now)); err != nil {
			return err
		}
	}
	st, err := w.eng.MarshalState()
	if err != nil {
		return fmt.Errorf("threshold state: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO component_state(name, data) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET data = excluded.data`, thresholdStateName, st); err != nil {
		return fmt.Errorf("threshold state: %w", err)
	}
	return nil
}

// Flushed implements rrd.Observer: the transaction of FlushTx committed.
func (w *thresholdWatch) Flushed() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.changes.Add(len(w.pending))
	w.pending = w.pending[:0]
}

// Urgent implements rrd.Observer: a level change is sent now, not with
// the next periodic flush.
func (w *thresholdWatch) Urgent() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending) > 0
}

// metricIncident makes a level change an incident change: leaving ok
// opens the field's incident, warning and critical update it (one
// threaded message each), ok resolves it.
func metricIncident(ctx context.Context, tx *sql.Tx, ev thresholds.Event, now time.Time) error {
	key := ev.Host + "/" + ev.Graph + "/" + ev.Field
	if ev.To == "ok" {
		_, ok, err := alerting.Resolve(ctx, tx, alerting.Resolution{Source: alerting.SourceMetric, Key: key, Time: now,
			Kind: "metric_threshold", Payload: ev})
		if err != nil || ok {
			return err
		}
		// Opened before metric incidents existed: say so the old way.
		payload, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("threshold event: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), "metric_threshold", string(payload)); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		return nil
	}
	title := ev.Label
	if title == "" {
		title = ev.Field
	}
	labels := map[string]string{"host": ev.Host, "service": ev.Graph, "graph": ev.Graph, "field": ev.Field, "severity": ev.To}
	_, _, err := alerting.Fire(ctx, tx, alerting.Alert{Source: alerting.SourceMetric, Key: key, Labels: labels, Severity: ev.To,
		Title: ev.Host + ": " + cmp.Or(ev.GraphTitle, ev.Graph) + " " + title, Time: now, Kind: "metric_threshold", Payload: ev})
	return err
}
