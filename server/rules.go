package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/rules"
	"github.com/watchpost/watchpost/store"
)

const rulesConsumer = "rules"

// loadRuleFiles reads the configured rule files; errors name the place in
// the configuration.
func loadRuleFiles(cfg *config.Config) ([]rules.File, error) {
	var files []rules.File
	for i, r := range cfg.Rules {
		b, err := os.ReadFile(r.File)
		if err != nil {
			return nil, fmt.Errorf("%s: rules[%d].file: %w", cfg.Pos(fmt.Sprintf("rules[%d].file", i)), i, err)
		}
		files = append(files, rules.File{Name: r.File, Data: b})
	}
	return files, nil
}

// ValidateRules is for `config check`: every rule file must load.
func ValidateRules(cfg *config.Config) error {
	files, err := loadRuleFiles(cfg)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		if err := rules.Check(f); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// alertBuffer collects the alerts of one consumed batch, so they go into
// the outbox in the same transaction as the cursor and the rule state.
type alertBuffer struct {
	mu     sync.Mutex
	alerts []rules.Alert
}

func (b *alertBuffer) Alert(_ context.Context, a rules.Alert) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.alerts = append(b.alerts, a)
	return nil
}

func (b *alertBuffer) take() []rules.Alert {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.alerts
	b.alerts = nil
	return a
}

// ruleRunner feeds the event stream to the rule engine.
type ruleRunner struct {
	mu      sync.Mutex
	engine  *rules.Engine
	files   []rules.File
	lastSeq int64 // the last record fed
	alerts  *alertBuffer
	set     *metrics.Set
	l       *loghost
}

func (l *loghost) startRules(ctx context.Context, cfg *config.Config, set *metrics.Set) (*ruleRunner, error) {
	files, err := loadRuleFiles(cfg)
	if err != nil || len(files) == 0 {
		return nil, err
	}
	rr := &ruleRunner{alerts: &alertBuffer{}, set: set, l: l}
	eng, err := rr.build(files)
	if err != nil {
		return nil, err
	}
	var state []byte
	err = l.store.ReadDB().QueryRowContext(ctx, `SELECT data FROM rules_state WHERE name = ?`, rulesConsumer).Scan(&state)
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("read rules state: %w", err)
	}
	if len(state) > 0 {
		if err := eng.UnmarshalState(state); err != nil {
			l.o.Logger.Warn("rule state could not be restored; starting with empty contexts", "err", err)
		}
	}
	rr.engine, rr.files = eng, files
	l.startConsumer(ctx, rulesConsumer, rr.consume)
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
				rr.current().Tick(now)
			}
		}
	}()
	return rr, nil
}

func (rr *ruleRunner) build(files []rules.File) (*rules.Engine, error) {
	return rules.New(rules.Config{Files: files, Alerter: rr.alerts, Now: rr.l.o.Now, Metrics: rr.set,
		Logger: rr.l.o.Logger.With("component", "rules")})
}

func (rr *ruleRunner) current() *rules.Engine {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.engine
}

// reload swaps in engines built from new files, carrying the state over;
// bad files keep the running rules.
func (rr *ruleRunner) reload(cfg *config.Config) {
	files, err := loadRuleFiles(cfg)
	if err == nil {
		var eng *rules.Engine
		if eng, err = rr.build(files); err == nil {
			if st, err := rr.current().MarshalState(); err == nil {
				if err := eng.UnmarshalState(st); err != nil {
					rr.l.o.Logger.Warn("rule state not carried over to the new rules", "err", err)
				}
			}
			rr.mu.Lock()
			rr.engine, rr.files = eng, files
			rr.mu.Unlock()
			rr.l.o.Logger.Info("rules reloaded", "files", len(files))
			return
		}
	}
	rr.l.o.Logger.Error("reload: the new rules have errors; keeping the old ones", "err", err)
}

// consume feeds one batch of the stream through the rules; the rule
// state, the alerts they raised and the cursor commit together.
func (rr *ruleRunner) consume(ctx context.Context, tx *sql.Tx, recs []store.Record) error {
	eng := rr.current()
	rr.alerts.take() // leftovers of a batch whose transaction failed
	if len(recs) > 0 && recs[0].Seq <= rr.lastSeq {
		// The last batch did not commit: the engine saw lines that will
		// come again. Go back to the state that did commit.
		var err error
		if eng, err = rr.restore(ctx, tx); err != nil {
			return err
		}
	}
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
		eng.Feed(ctx, strings.TrimRight(line, "\r\n"), r.Time)
	}
	if len(recs) > 0 {
		rr.lastSeq = recs[len(recs)-1].Seq
	}
	for _, a := range rr.alerts.take() {
		payload, _ := json.Marshal(a)
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, rr.l.o.Now().UnixNano(), "rule_alert", string(payload)); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	st, err := eng.MarshalState()
	if err != nil {
		return fmt.Errorf("rules state: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO rules_state(name, data) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET data = excluded.data`, rulesConsumer, st); err != nil {
		return fmt.Errorf("save rules state: %w", err)
	}
	return nil
}

// restore rebuilds the engine from the committed state.
func (rr *ruleRunner) restore(ctx context.Context, tx *sql.Tx) (*rules.Engine, error) {
	rr.mu.Lock()
	files := rr.files
	rr.mu.Unlock()
	eng, err := rr.build(files)
	if err != nil {
		return nil, err
	}
	var state []byte
	err = tx.QueryRowContext(ctx, `SELECT data FROM rules_state WHERE name = ?`, rulesConsumer).Scan(&state)
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("read rules state: %w", err)
	}
	if len(state) > 0 {
		if err := eng.UnmarshalState(state); err != nil {
			return nil, err
		}
	}
	rr.mu.Lock()
	rr.engine = eng
	rr.mu.Unlock()
	return eng, nil
}
