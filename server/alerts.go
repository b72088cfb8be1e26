package server

import (
	"context"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/config"
)

// startAlerting drains the outbox to the configured email and Matrix
// receivers.
// Without one, notifications are marked as not sent, so the outbox stays
// small and nothing stale goes out the day a receiver is added.
func (l *loghost) startAlerting(ctx context.Context, cfg *config.Config, st settings, set *metrics.Set) error {
	var email alerting.Sender
	if e := cfg.Alerting.Email; e != nil {
		s, err := alerting.NewEmail(alerting.EmailConfig{SMTP: e.SMTP, TLS: e.TLS, From: e.From, To: e.To,
			Username: e.Username, Password: string(e.Password), HELO: st.hostname})
		if err != nil {
			return err
		}
		email = s
	}
	var mx alerting.MatrixSender
	if m := cfg.Alerting.Matrix; m != nil {
		s, err := alerting.NewMatrix(alerting.MatrixConfig{Homeserver: m.Homeserver, AccessToken: string(m.AccessToken), Room: m.Room})
		if err != nil {
			return err
		}
		mx = s
	}
	var wh *alerting.Webhook
	if w := cfg.Alerting.Webhook; w != nil {
		wh = alerting.NewWebhook(w.URL, string(w.Secret))
	}
	d := alerting.New(l.store.DB(), alerting.Config{Email: email, Matrix: mx, Webhook: wh, Hostname: st.hostname, Now: l.o.Now, Metrics: set,
		Logger: l.o.Logger.With("component", "alerting")})
	l.wg.Add(1)
	go func() { defer l.wg.Done(); d.Run(ctx) }()
	if u := cfg.Alerting.Watchdog; u != "" {
		wd := alerting.NewWatchdog(string(u), time.Duration(cfg.Alerting.WatchdogEvery), set, l.o.Logger.With("component", "watchdog"))
		l.wg.Add(1)
		go func() { defer l.wg.Done(); wd.Run(ctx) }()
	}
	return nil
}
