package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/rules"
)

// The rules' exec, pipe and report commands are queued in the store with
// the batch that made them and run by a rules.Executor: none is dropped in
// a burst, and a restart loses none. When commandsWait are waiting, the
// rules consumer waits before its next batch (reading slows down); only
// a single batch making more than commandsMax commands (or
// commandsMaxBytes of report input) could overflow the queue, and what
// does not fit is counted and raises a source=loghost incident.
const (
	commandsWait     = 10_000
	commandsMax      = 100_000
	commandsMaxBytes = 256 << 20
	commandsIncident = "rule-commands-lost"
)

type queuedCommand struct {
	file string
	rules.Command
}

// commandBatch is what one batch (or one tick) made: the commands, and
// how many more there were than it could hold.
type commandBatch struct {
	cmds []queuedCommand
	over int
}

// sqlCommandQueue is the rules.CommandQueue in the store.
type sqlCommandQueue struct {
	rdb, wdb *sql.DB
}

func (q sqlCommandQueue) Next(ctx context.Context, after int64, n int) ([]rules.QueuedCommand, error) {
	rows, err := q.rdb.QueryContext(ctx, `SELECT id, command, stdin FROM rule_actions WHERE id > ? ORDER BY id LIMIT ?`, after, n)
	if err != nil {
		return nil, fmt.Errorf("read rule commands: %w", err)
	}
	defer rows.Close()
	var out []rules.QueuedCommand
	for rows.Next() {
		var c rules.QueuedCommand
		var js string
		var stdin []byte
		if err := rows.Scan(&c.ID, &js, &stdin); err != nil {
			return out, fmt.Errorf("read rule commands: %w", err)
		}
		if err := json.Unmarshal([]byte(js), &c.Command); err != nil {
			c.Argv = nil // unreadable: the executor marks it done
		}
		if c.Kind != "exec" {
			c.Stdin = stdin
			if c.Stdin == nil {
				c.Stdin = []byte{}
			}
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (q sqlCommandQueue) Done(ctx context.Context, ids []int64) error {
	tx, err := q.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rule commands done: %w", err)
	}
	defer tx.Rollback()
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM rule_actions WHERE id IN (?`+strings.Repeat(",?", n-1)+`)`, args...); err != nil {
			return fmt.Errorf("rule commands done: %w", err)
		}
		ids = ids[n:]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rule commands done: %w", err)
	}
	return nil
}

type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func pendingCommands(ctx context.Context, q rowQueryer) (n, bytes int64, err error) {
	err = q.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(length(stdin)), 0) FROM rule_actions`).Scan(&n, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("count rule commands: %w", err)
	}
	return n, bytes, nil
}

// gate runs before each batch of the rules consumer: it wakes the
// executor (the last batch has committed) and waits while too many
// commands wait to run.
func (rr *ruleRunner) gate(ctx context.Context) error {
	rr.exec.Wake()
	waited := false
	for {
		n, bytes, err := pendingCommands(ctx, rr.l.store.ReadDB())
		if err != nil {
			return err
		}
		if n < int64(rr.cmdWait) && bytes < rr.cmdMaxBytes/2 {
			return nil
		}
		if !waited {
			waited = true
			rr.l.o.Logger.Info("rules: commands are queued faster than they run; reading waits", "queued", n)
		}
		rr.gateWaits.Inc()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// queueCommands writes the batch's commands in tx; those that do not fit
// are counted and raise (or count again) the incident.
func (rr *ruleRunner) queueCommands(ctx context.Context, tx *sql.Tx, cb commandBatch, now time.Time) error {
	if len(cb.cmds) == 0 && cb.over == 0 && !rr.lostOpen {
		return nil
	}
	n, bytes, err := pendingCommands(ctx, tx)
	if err != nil {
		return err
	}
	lost := cb.over
	for _, c := range cb.cmds {
		if n >= int64(rr.cmdMax) || bytes+int64(len(c.Stdin)) > rr.cmdMaxBytes {
			lost++
			continue
		}
		js, err := json.Marshal(rules.Command{Kind: c.Kind, Argv: c.Argv, Src: c.Src})
		if err != nil {
			return fmt.Errorf("queue rule command: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rule_actions(file, command, stdin, queued) VALUES(?,?,?,?)`,
			c.file, string(js), c.Stdin, now.UnixNano()); err != nil {
			return fmt.Errorf("queue rule command: %w", err)
		}
		n++
		bytes += int64(len(c.Stdin))
	}
	if lost > 0 {
		rr.lost.Add(lost)
		rr.lostOpen = true
		text := fmt.Sprintf("%d exec, pipe or report commands of the rules could not be queued: %d wait to run already "+
			"(at most %d, %d MiB of input). One batch of lines made more than the queue holds. They were not run; "+
			"watchpost_rules_commands_lost_total counts them. Look for a rule that starts a command for every line.",
			lost, n, rr.cmdMax, rr.cmdMaxBytes>>20)
		if _, _, err := alerting.FireLoghost(ctx, tx, commandsIncident, "error", "rule commands were not run: queue full", text, now, 0); err != nil {
			return err
		}
		return nil
	}
	if rr.lostOpen && n < int64(rr.cmdWait) {
		if _, err := alerting.ResolveLoghost(ctx, tx, commandsIncident, "The rules' command queue has room again.", now); err != nil {
			return err
		}
		rr.lostOpen = false
	}
	return nil
}
