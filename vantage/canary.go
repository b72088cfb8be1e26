package vantage

import (
	"context"
	"fmt"
	"github.com/watchpost/watchpost/vantage/wire"
	"sync"
	"time"

	"github.com/watchpost/watchpost/alerting"
)

// localRound probes the loghost's canaries side by side and takes the
// round as a collector's would be taken.
func (e *Engine) localRound(ctx context.Context, at time.Time) {
	pl := e.plan.Load()
	if len(pl.canaries) == 0 {
		return // a reload took them away
	}
	l := wire.Line{ID: wire.NewID(), Canary: true, Time: at}
	res := make([]wire.CanaryResult, len(pl.canaries))
	var wg sync.WaitGroup
	for i, p := range pl.canaries {
		wg.Go(func() {
			r := p.Run(ctx)
			cr := wire.CanaryResult{Target: pl.canaryWire[i].Target, OK: r.Success, DurationMS: float64(r.Duration.Microseconds()) / 1000, Error: r.Error}
			if !r.Success && cr.Error == "" {
				cr.Error = "a condition failed"
			}
			res[i] = cr
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // cut short by the shutdown: not the network's fault
	}
	l.Canaries = res
	for i := range l.Canaries {
		l.Canaries[i].Target = pl.canaryTargets[i]
	}
	e.takeRound(ctx, Loghost, l, e.cfg.Now())
}

// takeRound takes a live round of a vantage's canaries: a failed one
// makes the vantage impaired (its votes stop counting at once); the
// second failed one in a row announces it, once, or for the loghost
// marks the start of its own outage; a good one ends either.
func (e *Engine) takeRound(ctx context.Context, loc string, l wire.Line, now time.Time) {
	ok, detail := e.roundOK(loc, l)
	e.mu.Lock()
	v := e.vantages[loc]
	if v == nil {
		e.mu.Unlock()
		return
	}
	if n := len(v.rounds); n > 0 && l.Time.Before(v.rounds[n-1].at) {
		e.mu.Unlock()
		return // an older round after a newer one: history
	}
	before := 0 // failed rounds in a row before this one
	for i := len(v.rounds) - 1; i >= 0 && !v.rounds[i].ok; i-- {
		before++
	}
	v.rounds = append(v.rounds, round{at: l.Time, ok: ok})
	if len(v.rounds) > 8 {
		v.rounds = v.rounds[len(v.rounds)-8:]
	}
	v.canaryDetail = detail
	failedRun := before + 1
	var announceImpaired, announceBack, outageEnd bool
	var since time.Time
	switch {
	case !ok:
		if v.impairedSince.IsZero() {
			v.impairedSince = l.Time
		}
		for _, cs := range e.plan.Load().checks {
			if st := cs.per[loc]; st != nil {
				st.forget()
			}
		}
		if loc == Loghost && v.outageStart.IsZero() {
			v.outageStart = l.Time
		}
		if loc != Loghost && failedRun >= 2 && !v.noticed {
			v.noticed, announceImpaired = true, true
		}
		since = v.impairedSince
	case !v.impairedSince.IsZero():
		since = v.impairedSince
		announceBack = v.noticed
		v.impairedSince, v.noticed = time.Time{}, false
		// One failed round is a blip; two in a row are an outage worth
		// its summary.
		if loc == Loghost && !v.outageStart.IsZero() && before >= 2 {
			outageEnd = true
		}
	}
	start := v.outageStart
	if ok {
		v.outageStart = time.Time{}
	}
	host := v.host
	e.mu.Unlock()
	if loc == Loghost && !ok && failedRun == 1 {
		e.cfg.Logger.Warn("the loghost's canaries failed: its own probes do not count until they pass", "canaries", detail)
	}
	if err := e.roundChanged(ctx, loc, host, detail, announceImpaired, announceBack, outageEnd, since, start, l.Time, now); err != nil && ctx.Err() == nil {
		e.cfg.Logger.Error("vantage canary notice", "location", loc, "err", err)
	}
	if announceImpaired || announceBack || outageEnd {
		e.cfg.Changed()
	}
	// Votes may count now, or no longer.
	e.Tick(ctx)
}

// roundChanged records what a round changed, with its notice.
func (e *Engine) roundChanged(ctx context.Context, loc, host, detail string, impaired, back, outageEnd bool, since, outageStart, at, now time.Time) error {
	if e.cfg.DB == nil || (!impaired && !back && !outageEnd) {
		return nil
	}
	tx, err := e.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("canary round: %w", err)
	}
	defer tx.Rollback()
	key := "impaired " + loc
	labels := map[string]string{"vantage": loc, "host": host}
	switch {
	case impaired:
		title := fmt.Sprintf("vantage %s is impaired", loc)
		text := fmt.Sprintf("The canaries of the collector on %s (location %s) all fail: %s.\nIts network, not the targets, is in trouble: its probe results do not count until its canaries pass again, and no check is alerted for what it alone sees.", host, loc, detail)
		if err := announce(ctx, tx, key, title, text, labels, since, now, false); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE vantages SET impaired_since = ? WHERE location = ?`, since.UnixNano(), loc); err != nil {
			return fmt.Errorf("canary round: %w", err)
		}
	case back:
		if _, _, err := alerting.Resolve(ctx, tx, alerting.Resolution{Source: SourceVantage, Key: key, Time: now,
			Text: fmt.Sprintf("Its canaries pass again (%s).", detail)}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE vantages SET impaired_since = NULL WHERE location = ?`, loc); err != nil {
			return fmt.Errorf("canary round: %w", err)
		}
	}
	if outageEnd {
		// The loghost's own outage: summarised once the vantages' results
		// of that time are in (Settle).
		if _, err := tx.ExecContext(ctx, `INSERT INTO vantage_outages(location, start, end) VALUES(?,?,?)`,
			Loghost, outageStart.UnixNano(), at.UnixNano()); err != nil {
			return fmt.Errorf("loghost outage: %w", err)
		}
	}
	return tx.Commit()
}
