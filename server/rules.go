package server

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/rules"
	"github.com/watchpost/watchpost/store"
)

const rulesConsumer = "rules"

// ruleSet is one configured rule file with the selection of lines it
// sees; each has its own engine, so its contexts and windows are its own.
type ruleSet struct {
	file     rules.File
	hosts    map[string]bool
	programs map[string]bool
	engine   *rules.Engine
}

func (rs *ruleSet) sees(r *store.Record) bool {
	return (len(rs.hosts) == 0 || rs.hosts[r.Host]) && (len(rs.programs) == 0 || rs.programs[r.Program])
}

func setOf(xs []string) map[string]bool {
	if len(xs) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// loadRuleSets reads the configured rule files; errors name the place in
// the configuration.
func loadRuleSets(cfg *config.Config) ([]*ruleSet, error) {
	var sets []*ruleSet
	var errs []error
	for i, r := range cfg.Rules {
		b, err := os.ReadFile(r.File)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: rules[%d].file: %w", cfg.Pos(fmt.Sprintf("rules[%d].file", i)), i, err))
			continue
		}
		sets = append(sets, &ruleSet{file: rules.File{Name: r.File, Data: b}, hosts: setOf(r.Hosts), programs: setOf(r.Programs)})
	}
	return sets, errors.Join(errs...)
}

// ValidateRules is for `config check`: every rule file must load.
func ValidateRules(cfg *config.Config) error {
	sets, err := loadRuleSets(cfg)
	errs := []error{err}
	for _, rs := range sets {
		if err := rules.Check(rs.file); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// batchEffects collects what the rules did during one consumed batch —
// alerts and rule hits — so they commit with the cursor and the state.
type batchEffects struct {
	mu     sync.Mutex
	alerts []rules.Alert
	hits   map[hitKey]int
	cmds   []queuedCommand
	// The commands held for one batch are bounded as the queue is
	// (maxCmds, maxBytes of input): past that they are only counted
	// (over), and queueCommands reports them as lost.
	maxCmds  int
	maxBytes int64
	bytes    int64
	over     int
}

func (b *batchEffects) command(file string, c rules.Command) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.cmds) >= b.maxCmds || b.bytes+int64(len(c.Stdin)) > b.maxBytes {
		b.over++
		return
	}
	b.bytes += int64(len(c.Stdin))
	b.cmds = append(b.cmds, queuedCommand{file: file, Command: c})
}

type hitKey struct {
	file string
	line int
}

func (b *batchEffects) Alert(_ context.Context, a rules.Alert) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.alerts = append(b.alerts, a)
	return nil
}

func (b *batchEffects) trace(a rules.Action) {
	if a.Line == 0 {
		return // a dynamic rule or a context's own action
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hits == nil {
		b.hits = map[hitKey]int{}
	}
	b.hits[hitKey{a.File, a.Line}]++
}

func (b *batchEffects) take() ([]rules.Alert, map[hitKey]int, commandBatch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, h, c := b.alerts, b.hits, commandBatch{cmds: b.cmds, over: b.over}
	b.alerts, b.hits, b.cmds, b.over, b.bytes = nil, nil, nil, 0, 0
	return a, h, c
}

// ruleRunner feeds the event stream to the rule engines.
type ruleRunner struct {
	mu      sync.Mutex
	sets    []*ruleSet
	lastSeq int64 // the last record fed
	fx      *batchEffects
	set     *metrics.Set
	l       *loghost
	exec    *rules.Executor
	tickMu  sync.Mutex // a tick and a batch never interleave their effects
	// lostOpen: a queue-full incident may be open (checked at start).
	lostOpen  bool
	lost      *metrics.Counter
	gateWaits *metrics.Counter
	// the command queue's bounds (commandsWait, commandsMax, commandsMaxBytes)
	cmdWait, cmdMax int
	cmdMaxBytes     int64
}

func (l *loghost) startRules(ctx context.Context, cfg *config.Config, set *metrics.Set) (*ruleRunner, error) {
	sets, err := loadRuleSets(cfg)
	if err != nil || len(sets) == 0 {
		return nil, err
	}
	rr := &ruleRunner{fx: &batchEffects{maxCmds: commandsMax, maxBytes: commandsMaxBytes}, set: set, l: l, lostOpen: true,
		cmdWait: commandsWait, cmdMax: commandsMax, cmdMaxBytes: commandsMaxBytes,
		lost:      set.GetOrCreateCounter(`watchpost_rules_commands_lost_total`),
		gateWaits: set.GetOrCreateCounter(`watchpost_rules_commands_waits_total`)}
	rr.exec = rules.NewExecutor(sqlCommandQueue{rdb: l.store.ReadDB(), wdb: l.store.DB()},
		rules.ExecutorConfig{Logger: l.o.Logger.With("component", "rules"), Metrics: set})
	if err := rr.build(sets); err != nil {
		return nil, err
	}
	if err := rr.restoreFrom(ctx, l.store.ReadDB(), sets); err != nil {
		l.o.Logger.Warn("rule state could not be restored; starting with empty contexts", "err", err)
	}
	rr.sets = sets
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		rr.exec.Run(ctx)
	}()
	l.startConsumerGated(ctx, rulesConsumer, rr.gate, rr.consume)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				rr.tick(ctx, now)
			}
		}
	}()
	return rr, nil
}

func (rr *ruleRunner) build(sets []*ruleSet) error {
	for _, rs := range sets {
		name := rs.file.Name
		eng, err := rules.New(rules.Config{Files: []rules.File{rs.file}, Alerter: rr.fx, Trace: rr.fx.trace, Now: rr.l.o.Now,
			Metrics: rr.set, Logger: rr.l.o.Logger.With("component", "rules", "file", rs.file.Name),
			Commands: func(c rules.Command) { rr.fx.command(name, c) }})
		if err != nil {
			return err
		}
		rs.engine = eng
	}
	return nil
}

func (rr *ruleRunner) current() []*ruleSet {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.sets
}

func stateName(rs *ruleSet) string { return rulesConsumer + ":" + rs.file.Name }

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// restoreFrom loads each engine's committed state.
func (rr *ruleRunner) restoreFrom(ctx context.Context, q queryer, sets []*ruleSet) error {
	var errs []error
	for _, rs := range sets {
		var state []byte
		err := q.QueryRowContext(ctx, `SELECT data FROM rules_state WHERE name = ?`, stateName(rs)).Scan(&state)
		if err == sql.ErrNoRows {
			continue
		}
		if err == nil {
			err = rs.engine.UnmarshalState(state)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rs.file.Name, err))
		}
	}
	return errors.Join(errs...)
}

// reload swaps in engines built from new files, carrying each file's
// state over; bad files keep the running rules.
func (rr *ruleRunner) reload(cfg *config.Config) {
	sets, err := loadRuleSets(cfg)
	if err == nil {
		err = rr.build(sets)
	}
	if err != nil {
		rr.l.o.Logger.Error("reload: the new rules have errors; keeping the old ones", "err", err)
		return
	}
	old := map[string]*ruleSet{}
	for _, rs := range rr.current() {
		old[rs.file.Name] = rs
	}
	for _, rs := range sets {
		if o := old[rs.file.Name]; o != nil {
			if st, err := o.engine.MarshalState(); err == nil {
				if err := rs.engine.UnmarshalState(st); err != nil {
					rr.l.o.Logger.Warn("rule state not carried over to the new rules", "file", rs.file.Name, "err", err)
				}
			}
		}
	}
	rr.mu.Lock()
	rr.sets = sets
	rr.mu.Unlock()
	rr.l.o.Logger.Info("rules reloaded", "files", len(sets))
}

// consume feeds one batch of the stream through the rules; the rule
// state, the alerts and hit counts they produced, and the cursor commit
// together.
// tick runs the timeouts due without input; the commands of contexts
// that time out are queued in their own transaction.
func (rr *ruleRunner) tick(ctx context.Context, now time.Time) {
	rr.tickMu.Lock()
	for _, rs := range rr.current() {
		rs.engine.Tick(now)
	}
	_, _, cb := rr.fx.take()
	// Unlocked before the transaction: a batch holds the store's write
	// lock while it waits for tickMu.
	rr.tickMu.Unlock()
	if len(cb.cmds) == 0 && cb.over == 0 {
		return
	}
	err := func() error {
		tx, err := rr.l.store.DB().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := rr.queueCommands(ctx, tx, cb, now); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		rr.l.o.Logger.Error("rules: the commands of timed-out contexts could not be queued", "commands", len(cb.cmds)+cb.over, "err", err)
		rr.lost.Add(len(cb.cmds) + cb.over)
		return
	}
	rr.exec.Wake()
}

func (rr *ruleRunner) consume(ctx context.Context, tx *sql.Tx, recs []store.Record) error {
	// A tick's commands are queued by the tick itself, never taken here.
	rr.tickMu.Lock()
	defer rr.tickMu.Unlock()
	sets := rr.current()
	rr.fx.take() // leftovers of a batch whose transaction failed
	if len(recs) > 0 && recs[0].Seq <= rr.lastSeq {
		// The last batch did not commit: the engines saw lines that will
		// come again. Go back to the state that did commit.
		if err := rr.build(sets); err != nil {
			return err
		}
		if err := rr.restoreFrom(ctx, tx, sets); err != nil {
			return err
		}
	}
	wall := rr.l.o.Now() // one clock read for the batch
	for i := range recs {
		r := &recs[i]
		if r.Kind != store.KindLog {
			continue
		}
		// Rules see a line as logsurfer would have read it: files as they
		// are, syslog as the traditional one-line form.
		line := r.Raw
		if r.Format == "syslog" {
			line = rules.Render(r.Event)
		}
		line = strings.TrimRight(line, "\r\n")
		for _, rs := range sets {
			if rs.sees(r) {
				rs.engine.FeedAt(ctx, line, r.Time, wall)
			}
		}
	}
	if len(recs) > 0 {
		rr.lastSeq = recs[len(recs)-1].Seq
	}
	now := rr.l.o.Now().UnixNano()
	alerts, hits, cmds := rr.fx.take()
	if err := rr.queueCommands(ctx, tx, cmds, time.Unix(0, now)); err != nil {
		return err
	}
	for _, a := range alerts {
		// An alert labelled heartbeat=NAME (or heartbeat_fail=NAME) is a
		// backup job reporting through its log: it pings the heartbeat
		// instead of notifying anyone. The ping is recorded after this
		// transaction, by the heartbeat service's own writer.
		if name, ok := cmp.Or(a.Labels["heartbeat"], a.Labels["heartbeat_fail"]), a.Labels["heartbeat"] != ""; name != "" {
			select {
			case rr.l.feeds <- heartbeatFeed{name: name, ok: ok, from: "rule", detail: a.Line}:
			default:
				rr.l.o.Logger.Warn("heartbeat feed full; ping dropped", "heartbeat", name)
			}
			continue
		}
		// A rule alert is an incident: the same rule matching the same
		// thing again updates it (no second message) until it has been
		// quiet for the resolve period.
		if _, _, err := alerting.Fire(ctx, tx, alerting.RuleAlert(a.Severity, a.Title, a.Labels, time.Unix(0, now), a)); err != nil {
			return fmt.Errorf("rule alert: %w", err)
		}
	}
	for k, n := range hits {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rule_hits(file, line, hits, last_hit) VALUES(?,?,?,?)
			ON CONFLICT(file, line) DO UPDATE SET hits = hits + excluded.hits, last_hit = excluded.last_hit`, k.file, k.line, n, now); err != nil {
			return fmt.Errorf("rule hits: %w", err)
		}
	}
	for _, rs := range sets {
		st, err := rs.engine.MarshalState()
		if err != nil {
			return fmt.Errorf("rules state: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rules_state(name, data) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET data = excluded.data`, stateName(rs), st); err != nil {
			return fmt.Errorf("save rules state: %w", err)
		}
	}
	return nil
}
