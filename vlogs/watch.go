package vlogs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/watchpost/watchpost/alerting"
)

// Raise opens (or updates) a source=loghost incident about VictoriaLogs:
// lines that will not reach it, or that it dropped. It resolves itself
// after a day without a new loss.
func Raise(ctx context.Context, db *sql.DB, key, title, text string, now time.Time) error {
	payload := struct {
		Source   string            `json:"source"`
		Key      string            `json:"key"`
		Title    string            `json:"title"`
		Severity string            `json:"severity"`
		Labels   map[string]string `json:"labels"`
		Started  time.Time         `json:"started"`
		Time     time.Time         `json:"time"`
		Text     string            `json:"text"`
	}{alerting.SourceLoghost, key, title, "warning", nil, now.UTC(), now.UTC(), text}
	labels := map[string]string{"source": alerting.SourceLoghost, "service": "victorialogs", "severity": "warning"}
	payload.Labels = labels
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("victorialogs incident: %w", err)
	}
	defer tx.Rollback()
	if _, _, err := alerting.Fire(ctx, tx, alerting.Alert{Source: alerting.SourceLoghost, Key: key, Labels: labels,
		Severity: "warning", Title: title, Time: now, Kind: alerting.KindIncident, Payload: payload,
		ResolveAfter: 24 * time.Hour}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("victorialogs incident: %w", err)
	}
	return nil
}

// Resolve ends the incident Raise opened under key, if it is open.
func Resolve(ctx context.Context, db *sql.DB, key, text string, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("victorialogs incident: %w", err)
	}
	defer tx.Rollback()
	if _, _, err := alerting.Resolve(ctx, tx, alerting.Resolution{Source: alerting.SourceLoghost, Key: key, Time: now, Text: text}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("victorialogs incident: %w", err)
	}
	return nil
}

// modeName is the component_state row saying that VictoriaLogs is the
// primary log store, for `watchpost grep -data`.
const modeName = "victorialogs.mode"

// RecordMode notes in the store whether VictoriaLogs answers searches
// ("primary", "mirror", or "" for none).
func RecordMode(ctx context.Context, db *sql.DB, mode string) error {
	var err error
	if mode == "" {
		_, err = db.ExecContext(ctx, `DELETE FROM component_state WHERE name = ?`, modeName)
	} else {
		_, err = db.ExecContext(ctx, `INSERT INTO component_state(name, data) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET data = excluded.data`,
			modeName, []byte(mode))
	}
	if err != nil {
		return fmt.Errorf("record victorialogs mode: %w", err)
	}
	return nil
}

// Mode reads what RecordMode noted.
func Mode(ctx context.Context, db *sql.DB) string {
	var b []byte
	db.QueryRowContext(ctx, `SELECT data FROM component_state WHERE name = ?`, modeName).Scan(&b)
	return string(b)
}

// dropCounters are VictoriaLogs' counters of rows it took and then
// dropped: outside its retention, too many fields, a line too long.
var dropCounters = []string{"vl_rows_dropped_total", "vl_too_long_lines_skipped_total"}

// Watcher reads VictoriaLogs' own /metrics and raises an incident when
// its drop counters grow: VictoriaLogs answers 200 for rows it then drops.
type Watcher struct {
	Client *Client
	// URLs of the /metrics pages to read; default the client's. In a
	// cluster, every vlinsert and vlstorage node.
	URLs   []string
	DB     *sql.DB
	Every  time.Duration // default one minute
	Now    func() time.Time
	Logger *slog.Logger

	mu   sync.Mutex
	last map[string]float64
}

// Run checks every Every until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	every := w.Every
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := w.Check(ctx); err != nil && ctx.Err() == nil {
			w.Logger.Warn("victorialogs: cannot read its drop counters", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check reads the counters once; the first reading is the baseline.
func (w *Watcher) Check(ctx context.Context) error {
	urls := w.URLs
	if len(urls) == 0 {
		urls = []string{w.Client.URL() + "/metrics"}
	}
	now := map[string]float64{}
	for _, u := range urls {
		m, err := w.Client.MetricsAt(ctx, u, dropCounters...)
		if err != nil {
			return err
		}
		for k, v := range m {
			if strings.Contains(k, `reason="debug"`) {
				continue // rows logged instead of stored on request
			}
			now[u+" "+k] = v
		}
	}
	w.mu.Lock()
	first := w.last == nil
	prev := w.last
	w.last = now
	w.mu.Unlock()
	if first {
		return nil
	}
	var grew float64
	var what []string
	for k, v := range now {
		d := v - prev[k]
		if v < prev[k] {
			d = v // restarted: its counters began again
		}
		if d > 0 {
			grew += d
			what = append(what, fmt.Sprintf("%s +%g", k, d))
		}
	}
	if grew == 0 {
		return nil
	}
	sort.Strings(what)
	w.Logger.Error("victorialogs dropped log lines", "lines", grew, "counters", strings.Join(what, "; "))
	return Raise(ctx, w.DB, "victorialogs:dropped", fmt.Sprintf("VictoriaLogs dropped %g log line(s)", grew),
		"VictoriaLogs accepted these lines and then dropped them (older than its -retentionPeriod, newer than -futureRetention, "+
			"too many fields or too long). The loghost's copy is in its own store while it keeps it.\n"+strings.Join(what, "\n"), w.Now())
}
