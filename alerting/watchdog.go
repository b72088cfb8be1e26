package alerting

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Watchdog pings a heartbeat URL elsewhere while the loghost runs: when
// the pings stop, that service tells someone the watcher is down.
type Watchdog struct {
	URL    string
	Every  time.Duration
	Client *http.Client
	Logger *slog.Logger

	ok, failed *metrics.Counter
}

// NewWatchdog returns a watchdog; Run pings.
func NewWatchdog(url string, every time.Duration, set *metrics.Set, logger *slog.Logger) *Watchdog {
	if every <= 0 {
		every = time.Minute
	}
	if logger == nil {
		logger = slog.Default()
	}
	if set == nil {
		set = metrics.NewSet()
	}
	return &Watchdog{URL: url, Every: every, Client: &http.Client{Timeout: 10 * time.Second}, Logger: logger,
		ok:     set.NewCounter(`watchpost_watchdog_pings_total{result="ok"}`),
		failed: set.NewCounter(`watchpost_watchdog_pings_total{result="failed"}`)}
}

// Run pings at once and then every Every until ctx ends.
func (w *Watchdog) Run(ctx context.Context) {
	t := time.NewTicker(w.Every)
	defer t.Stop()
	for {
		w.ping(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Watchdog) ping(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.URL, nil)
	if err != nil {
		w.Logger.Error("watchdog URL unusable", "url", RedactURL(w.URL))
		return
	}
	resp, err := w.Client.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 300 {
			w.ok.Inc()
			return
		}
	}
	if ctx.Err() != nil {
		return
	}
	w.failed.Inc()
	// The URL holds a secret: log the failure, not the address.
	status := ""
	if resp != nil {
		status = resp.Status
	}
	w.Logger.Warn("watchdog ping failed", "url", RedactURL(w.URL), "err", scrubURL(err, w.URL), "status", status)
}
