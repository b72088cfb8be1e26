package server

import (
	"context"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/buildinfo"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/console"
	"github.com/watchpost/watchpost/uptime"
	"github.com/watchpost/watchpost/vantage"
)

// startVantages makes the loghost one vantage among the collectors that
// probe (package vantage decides; this only wires it).
func (l *loghost) startVantages(ctx context.Context, cfg *config.Config, tr *uptime.Tracker, set *metrics.Set) (*vantage.Engine, error) {
	var auth vantage.Auth
	if l.tokens != nil {
		auth = l.tokens.Lookup
	}
	eng, err := vantage.New(ctx, vantage.Config{DB: l.store.DB(), Tracker: tr, Checks: cfg.Checks, Vantages: cfg.Vantages,
		Auth: auth, Now: l.o.Now, Version: buildinfo.Version, Metrics: set, Logger: l.o.Logger.With("component", "vantage"),
		RunLocal: hotRunner{l}.RunNow, // the scheduler in force
		Changed: func() {
			if l.statusChanged != nil {
				l.statusChanged()
			}
		}})
	if err != nil {
		return nil, err
	}
	l.vantage.Store(eng)
	l.wg.Add(1)
	go func() { defer l.wg.Done(); eng.Run(ctx) }()
	return eng, nil
}

// publicNote is the status page's word on a check seen down from some
// places only.
func (l *loghost) publicNote(check string) string {
	if e := l.vantage.Load(); e != nil {
		return e.PublicNote(check)
	}
	return ""
}

// vantageView is the engine for the console (nil when none runs: an
// interface holding a nil pointer would not be nil).
func (l *loghost) vantageView() console.Vantages {
	if e := l.vantage.Load(); e != nil {
		return e
	}
	return nil
}
