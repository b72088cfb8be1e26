package vantage

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/watchpost/watchpost/uptime"
)

// event is a stored result or canary round, replayed in time order.
type event struct {
	loc      string
	at       time.Time
	canary   bool
	ok       bool
	degraded bool
	duration time.Duration
}

// history reads the check's vantages' results and canary rounds between
// from and to, oldest first.
func (e *Engine) history(ctx context.Context, check string, from, to time.Time) ([]event, error) {
	rows, err := e.cfg.DB.QueryContext(ctx, `SELECT location, time, canary, ok, degraded, duration_us FROM vantage_results
		WHERE (check_name = ? OR canary) AND time >= ? AND time <= ? ORDER BY time`, check, from.UnixNano(), to.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("vantage history: %w", err)
	}
	defer rows.Close()
	var out []event
	for rows.Next() {
		var ev event
		var t, us int64
		if err := rows.Scan(&ev.loc, &t, &ev.canary, &ev.ok, &ev.degraded, &us); err != nil {
			return nil, fmt.Errorf("vantage history: %w", err)
		}
		ev.at, ev.duration = time.Unix(0, t), time.Duration(us)*time.Microsecond
		out = append(out, ev)
	}
	return out, rows.Err()
}

// replay decides the check over [from, to) from its stored history with
// the same rule as live decisions, in hindsight: each vantage's view
// from its results, its canaries' verdict as of each moment. It returns
// the spans of the check's state (unknown where nobody eligible saw it)
// and a sample per result, marked as the decision of its moment.
func (e *Engine) replay(s *spec, evs []event, from, to time.Time) ([]uptime.Span, []uptime.Sample) {
	per := map[string]*vstate{}
	impaired := map[string]bool{}
	// Moments to decide at: each event, and each vote's expiry.
	var points []time.Time
	for _, ev := range evs {
		points = append(points, ev.at, ev.at.Add(s.rule.fresh()+time.Millisecond))
	}
	points = append(points, from)
	sort.Slice(points, func(i, j int) bool { return points[i].Before(points[j]) })
	statusAt := func(t time.Time) uptime.Status {
		var vs []vote
		for loc, st := range per {
			if !s.assigned(loc) || t.Sub(st.last) > s.rule.fresh() || impaired[loc] {
				continue
			}
			vs = append(vs, vote{loc: loc, status: st.status})
		}
		return decide(s.rule, vs).status
	}
	var spans []uptime.Span
	var samples []uptime.Sample
	add := func(a, b time.Time, st uptime.Status) {
		a, b = maxT(a, from), minT(b, to)
		if !b.After(a) {
			return
		}
		if n := len(spans); n > 0 && spans[n-1].Status == st && spans[n-1].To.Equal(a) {
			spans[n-1].To = b
			return
		}
		spans = append(spans, uptime.Span{From: a, To: b, Status: st})
	}
	i := 0
	for pi, p := range points {
		for ; i < len(evs) && !evs[i].at.After(p); i++ {
			ev := evs[i]
			if ev.canary {
				impaired[ev.loc] = !ev.ok
				continue
			}
			st := per[ev.loc]
			if st == nil {
				st = &vstate{}
				per[ev.loc] = st
			}
			st.observe(s.rule, ev.at, ev.ok, ev.degraded)
			if !ev.at.Before(from) && ev.at.Before(to) {
				samples = append(samples, uptime.Sample{Time: ev.at, Duration: ev.duration})
			}
		}
		next := to
		if pi+1 < len(points) {
			next = points[pi+1]
		}
		add(p, next, statusAt(p))
	}
	// Each sample is marked as its moment was decided.
	for k := range samples {
		st := uptime.Unknown
		for _, sp := range spans {
			if !samples[k].Time.Before(sp.From) && samples[k].Time.Before(sp.To) {
				st = sp.Status
				break
			}
		}
		samples[k].OK = st != uptime.Down
		samples[k].Degraded = st == uptime.Degraded
	}
	return spans, samples
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// warmup is how far before a stretch the replay starts, so that each
// vantage's view has its failures in a row.
func (s *spec) warmup() time.Duration {
	return time.Duration(s.rule.FailThreshold+1)*s.rule.Interval + s.rule.fresh()
}

// Settle fills the time nobody could see with what late results say,
// once the vantages that are back have sent what they kept; and sends
// the summary of each of the loghost's own outages once.
func (e *Engine) Settle(ctx context.Context) error {
	if e.cfg.DB == nil {
		return nil
	}
	now := e.cfg.Now()
	// One plan throughout: a reload meanwhile counts at the next.
	p := e.plan.Load()
	for _, name := range p.order {
		if !e.Handles(name) {
			continue
		}
		if err := e.fillGaps(ctx, p, name, now); err != nil {
			return err
		}
	}
	return e.summarize(ctx, p, now)
}

// caughtUp tells whether every vantage that runs the check and is
// reporting now has sent its results up to t (its spool drained past
// it); false when none is reporting.
func (e *Engine) caughtUp(s *spec, cs *checkState, t, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for loc, v := range e.vantages {
		if loc == Loghost || !s.assigned(loc) || now.Sub(v.lastSeen) > s.rule.fresh() {
			continue
		}
		st := cs.per[loc]
		if st == nil || st.last.Before(t) || v.queued > 0 {
			return false
		}
		n++
	}
	return n > 0
}

func (e *Engine) fillGaps(ctx context.Context, p *plan, name string, now time.Time) error {
	s, cs := p.specs[name], p.checks[name]
	gaps, err := e.cfg.Tracker.Gaps(ctx, name, now.Add(-e.cfg.KeepResults))
	if err != nil {
		return err
	}
	for _, g := range gaps {
		key := name + "\x00" + g.From.String()
		e.mu.Lock()
		done, tried := e.fills[key]
		news := e.fills[name]
		e.mu.Unlock()
		if tried && !news.After(done) {
			continue // nothing came since it was filled as far as it could be
		}
		if !e.caughtUp(s, cs, g.To, now) {
			continue
		}
		evs, err := e.history(ctx, name, g.From.Add(-s.warmup()), g.To)
		if err != nil {
			return err
		}
		spans, samples := e.replay(s, evs, g.From, g.To)
		filled, err := e.cfg.Tracker.Fill(ctx, name, spans, samples)
		if err != nil {
			return err
		}
		e.mu.Lock()
		if e.plan.Load().checks[name] == cs { // not removed meanwhile
			e.fills[key] = now
		}
		e.mu.Unlock()
		if filled > 0 {
			e.cfg.Logger.Info("late vantage results filled unknown time", "check", name, "from", g.From, "to", g.To, "filled", filled.Round(time.Second))
			e.cfg.Changed()
		}
	}
	return nil
}

// summarize sends one message for each of the loghost's own outages that
// ended, once the vantages' results of that time are in (or long after
// it ended): the outage, and what the checks did meanwhile as the
// vantages saw it.
func (e *Engine) summarize(ctx context.Context, p *plan, now time.Time) error {
	rows, err := e.cfg.DB.QueryContext(ctx, `SELECT id, start, end FROM vantage_outages WHERE location = ? AND end IS NOT NULL AND reported IS NULL ORDER BY id`, Loghost)
	if err != nil {
		return fmt.Errorf("loghost outages: %w", err)
	}
	type outage struct {
		id         int64
		start, end time.Time
	}
	var outs []outage
	for rows.Next() {
		var o outage
		var a, b int64
		if err := rows.Scan(&o.id, &a, &b); err != nil {
			rows.Close()
			return fmt.Errorf("loghost outages: %w", err)
		}
		o.start, o.end = time.Unix(0, a), time.Unix(0, b)
		outs = append(outs, o)
	}
	rows.Close()
	for _, o := range outs {
		var lines []string
		settled := true
		var longest time.Duration
		for _, name := range p.order {
			s, cs := p.specs[name], p.checks[name]
			longest = max(longest, s.rule.fresh())
			if !e.Handles(name) {
				continue
			}
			if !e.caughtUp(s, cs, o.end, now) && e.remoteCount(s) > 0 {
				settled = false
			}
		}
		if !settled && now.Sub(o.end) < 2*longest+time.Minute {
			continue
		}
		changed := 0
		for _, name := range p.order {
			s := p.specs[name]
			if !e.Handles(name) {
				continue
			}
			evs, err := e.history(ctx, name, o.start.Add(-s.warmup()), o.end)
			if err != nil {
				return err
			}
			spans, _ := e.replay(s, evs, o.start, o.end)
			if line, ok := changes(name, spans); ok {
				changed++
				lines = append(lines, line)
			}
		}
		if err := e.report(ctx, o.id, o.start, o.end, changed, lines, now); err != nil {
			return err
		}
	}
	return nil
}

// remoteCount is how many collectors run the check.
func (e *Engine) remoteCount(s *spec) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for loc := range e.vantages {
		if loc != Loghost && s.assigned(loc) {
			n++
		}
	}
	return n
}

// changes words what a check did over spans; ok when it changed state.
func changes(name string, spans []uptime.Span) (string, bool) {
	var seq []string
	for _, sp := range spans {
		if sp.Status == uptime.Unknown {
			continue
		}
		w := sp.Status.String()
		if n := len(seq); n == 0 || seq[n-1] != w {
			seq = append(seq, w)
		}
	}
	if len(seq) < 2 {
		return "", false
	}
	return fmt.Sprintf("%s: %s (from %s)", name, strings.Join(seq, " → "), firstChange(spans).UTC().Format("15:04:05")), true
}

func firstChange(spans []uptime.Span) time.Time {
	var first uptime.Status
	for _, sp := range spans {
		if sp.Status == uptime.Unknown {
			continue
		}
		if first == uptime.Unknown {
			first = sp.Status
			continue
		}
		if sp.Status != first {
			return sp.From
		}
	}
	return time.Time{}
}

// report sends the summary of one outage of the loghost, and marks it
// sent, in one transaction.
func (e *Engine) report(ctx context.Context, id int64, start, end time.Time, changed int, lines []string, now time.Time) error {
	tx, err := e.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("loghost outage summary: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE vantage_outages SET reported = ? WHERE id = ? AND reported IS NULL`, now.UnixNano(), id)
	if err != nil {
		return fmt.Errorf("loghost outage summary: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	span := fmt.Sprintf("%s–%s", start.UTC().Format("15:04"), end.UTC().Format("15:04 MST"))
	if start.UTC().Format("2006-01-02") != end.UTC().Format("2006-01-02") {
		span = fmt.Sprintf("%s – %s", start.UTC().Format("2006-01-02 15:04"), end.UTC().Format("2006-01-02 15:04 MST"))
	}
	word := "checks"
	if changed == 1 {
		word = "check"
	}
	title := fmt.Sprintf("loghost unreachable %s; %d %s changed state meanwhile", span, changed, word)
	var b strings.Builder
	fmt.Fprintf(&b, "The loghost's own canaries failed from %s to %s (%s): its network was cut off, and its own probes did not count.\n",
		start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), end.Sub(start).Round(time.Second))
	b.WriteString("No check was alerted for that time. What the other vantages saw meanwhile:\n")
	if len(lines) == 0 {
		b.WriteString("- no check changed state.\n")
	}
	for _, l := range lines {
		b.WriteString("- " + l + "\n")
	}
	if err := announce(ctx, tx, fmt.Sprintf("loghost outage %d", id), title, b.String(), map[string]string{"vantage": Loghost}, start, now, true); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("loghost outage summary: %w", err)
	}
	e.cfg.Logger.Info("loghost outage summarised", "from", start, "to", end, "checks_changed", changed)
	return nil
}
