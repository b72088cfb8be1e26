package vantage

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/watchpost/watchpost/vantage/wire"
	"strings"
	"time"

	"github.com/watchpost/watchpost/alerting"
)

// stored is a result that was new to the store.
type stored struct {
	line wire.Line
	late bool
}

// store records a vantage's results, each once: a result whose id the
// vantage sent before (a retry after a lost answer) is left out of the
// answer, so that nothing counts twice.
func (e *Engine) store(ctx context.Context, loc string, lines []wire.Line, late []bool, now time.Time) ([]stored, error) {
	if len(lines) == 0 {
		return nil, nil
	}
	tx, err := e.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store results: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO vantage_results(id, location, check_name, time, received, ok, degraded, duration_us, error, late, canary)
		VALUES(?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return nil, fmt.Errorf("store results: %w", err)
	}
	defer stmt.Close()
	var out []stored
	for i, l := range lines {
		ok, detail := l.OK, l.Error
		if l.Canary {
			ok, detail = e.roundOK(loc, l)
		} else if detail == "" && len(l.Conditions) > 0 {
			detail = conditionText(l.Conditions)
		}
		res, err := stmt.ExecContext(ctx, l.ID, loc, l.Check, l.Time.UnixNano(), now.UnixNano(), ok, l.Degraded,
			int64(l.DurationMS*1000), detail, late[i], l.Canary)
		if err != nil {
			return nil, fmt.Errorf("store results: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = append(out, stored{line: l, late: late[i]})
		}
	}
	return out, tx.Commit()
}

// roundOK judges a round of canaries: the vantage can see when one of
// its known-good targets answers. The loghost, a collector's canary too,
// counts only when it is the only one: a collector on the loghost's own
// network reaches it when its uplink is down.
func (e *Engine) roundOK(loc string, l wire.Line) (bool, string) {
	var good, lh []string
	okGood, okLH := false, false
	for _, c := range l.Canaries {
		word := "ok"
		if !c.OK {
			word = c.Error
			if word == "" {
				word = "failed"
			}
		}
		if c.Target == Loghost {
			okLH = c.OK
			lh = append(lh, "loghost: "+word)
			continue
		}
		okGood = okGood || c.OK
		good = append(good, c.Target+": "+word)
	}
	detail := strings.Join(append(good, lh...), "; ")
	if len(good) == 0 {
		return okLH, detail
	}
	return okGood, detail
}

// saveVantage keeps what a vantage last told, for the vantages page and
// a restart.
func (e *Engine) saveVantage(ctx context.Context, v *vantage) error {
	if e.cfg.DB == nil {
		return nil
	}
	e.mu.Lock()
	args := []any{v.loc, v.host, v.version, v.firstSeen.UnixNano(), v.lastSeen.UnixNano(), v.skew.Milliseconds(), v.queued, v.dropped}
	e.mu.Unlock()
	_, err := e.cfg.DB.ExecContext(ctx, `INSERT INTO vantages(location, host, version, first_seen, last_seen, skew_ms, queued, dropped)
		VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(location) DO UPDATE SET host=excluded.host, version=excluded.version,
		last_seen=excluded.last_seen, skew_ms=excluded.skew_ms, queued=excluded.queued, dropped=excluded.dropped`, args...)
	if err != nil {
		return fmt.Errorf("save vantage: %w", err)
	}
	return nil
}

// load reads the vantages seen before and their recent results.
func (e *Engine) load(ctx context.Context) error {
	rows, err := e.cfg.DB.QueryContext(ctx, `SELECT location, host, version, first_seen, last_seen, skew_ms, queued, dropped, impaired_since FROM vantages`)
	if err != nil {
		return fmt.Errorf("load vantages: %w", err)
	}
	for rows.Next() {
		v := &vantage{runNow: map[string]bool{}}
		var first, last, skew int64
		var impaired sql.NullInt64
		if err := rows.Scan(&v.loc, &v.host, &v.version, &first, &last, &skew, &v.queued, &v.dropped, &impaired); err != nil {
			rows.Close()
			return fmt.Errorf("load vantages: %w", err)
		}
		v.firstSeen, v.lastSeen, v.skew = time.Unix(0, first), time.Unix(0, last), time.Duration(skew)*time.Millisecond
		if impaired.Valid {
			v.impairedSince, v.noticed = time.Unix(0, impaired.Int64), true
		}
		if v.loc == Loghost {
			e.vantages[Loghost].impairedSince, e.vantages[Loghost].noticed = v.impairedSince, v.noticed
			continue
		}
		e.vantages[v.loc] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load vantages: %w", err)
	}
	p := e.plan.Load()
	var since time.Duration
	for _, s := range p.specs {
		since = max(since, s.rule.fresh())
	}
	since = max(since, 2*p.interval+p.timeout)
	rows, err = e.cfg.DB.QueryContext(ctx, `SELECT location, check_name, time, ok, degraded, duration_us, error, canary FROM vantage_results
		WHERE time > ? ORDER BY time`, e.cfg.Now().Add(-since).UnixNano())
	if err != nil {
		return fmt.Errorf("load vantage results: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var loc, check, detail string
		var t, us int64
		var ok, degraded, canary bool
		if err := rows.Scan(&loc, &check, &t, &ok, &degraded, &us, &detail, &canary); err != nil {
			return fmt.Errorf("load vantage results: %w", err)
		}
		v := e.vantages[loc]
		if v == nil {
			continue
		}
		if canary {
			v.rounds = append(v.rounds, round{at: time.Unix(0, t), ok: ok})
			v.canaryDetail = detail
			continue
		}
		s, cs := p.specs[check], p.checks[check]
		if s == nil || !s.assigned(loc) {
			continue
		}
		st := cs.per[loc]
		if st == nil {
			st = &vstate{}
			cs.per[loc] = st
		}
		st.observe(s.rule, time.Unix(0, t), ok, degraded)
		st.lastDuration, st.lastError = time.Duration(us)*time.Microsecond, detail
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load vantage results: %w", err)
	}
	var start sql.NullInt64
	err = e.cfg.DB.QueryRowContext(ctx, `SELECT start FROM vantage_outages WHERE location = ? AND end IS NULL ORDER BY id DESC LIMIT 1`, Loghost).Scan(&start)
	if err == nil && start.Valid {
		e.vantages[Loghost].outageStart = time.Unix(0, start.Int64)
	}
	return nil
}

func (e *Engine) prune(ctx context.Context) error {
	now := e.cfg.Now()
	if _, err := e.cfg.DB.ExecContext(ctx, `DELETE FROM vantage_results WHERE time < ?`, now.Add(-e.cfg.KeepResults).UnixNano()); err != nil {
		return fmt.Errorf("prune vantage results: %w", err)
	}
	if _, err := e.cfg.DB.ExecContext(ctx, `DELETE FROM vantage_outages WHERE reported IS NOT NULL AND end < ?`, now.Add(-30*24*time.Hour).UnixNano()); err != nil {
		return fmt.Errorf("prune vantage outages: %w", err)
	}
	return nil
}

// SourceVantage is the incidents' source for vantages' notices.
const SourceVantage = "vantage"

// notice is a KindIncident payload (alerting renders it).
type notice struct {
	Source   string            `json:"source"`
	Key      string            `json:"key"`
	Title    string            `json:"title"`
	Severity string            `json:"severity"`
	Labels   map[string]string `json:"labels"`
	Started  time.Time         `json:"started"`
	Time     time.Time         `json:"time"`
	Text     string            `json:"text"`
}

// announce opens an incident with its one message; with once it is
// resolved at the same time, silently: a summary, not a state.
func announce(ctx context.Context, tx *sql.Tx, key, title, text string, labels map[string]string, started, now time.Time, once bool) error {
	n := notice{Source: SourceVantage, Key: key, Title: title, Severity: "warning", Labels: labels, Started: started.UTC(), Time: now.UTC(), Text: text}
	if _, _, err := alerting.Fire(ctx, tx, alerting.Alert{Source: SourceVantage, Key: key, Labels: labels, Severity: "warning",
		Title: title, Time: now, Kind: alerting.KindIncident, Payload: n}); err != nil {
		return err
	}
	if once {
		// Kind "" with a payload: resolved without a message.
		if _, _, err := alerting.Resolve(ctx, tx, alerting.Resolution{Source: SourceVantage, Key: key, Time: now, Payload: struct{}{}}); err != nil {
			return err
		}
	}
	return nil
}

// noticeDrops raises the loss a vantage reported: its spool's bounds made
// it drop results (never silent).
func (e *Engine) noticeDrops(ctx context.Context, v *vantage, n int64, now time.Time) error {
	tx, err := e.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("drop notice: %w", err)
	}
	defer tx.Rollback()
	title := fmt.Sprintf("vantage %s dropped %d probe results", v.loc, n)
	text := fmt.Sprintf("The collector on %s (location %s) could not send %d results before its spool's bounds (probe_spool_max_size, probe_spool_max_age) made it drop the oldest: that time is unknown from there.", v.host, v.loc, n)
	if err := announce(ctx, tx, fmt.Sprintf("dropped %s %d", v.loc, now.UnixNano()), title, text, map[string]string{"vantage": v.loc, "host": v.host}, now, now, true); err != nil {
		return err
	}
	return tx.Commit()
}
