package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order; PRAGMA user_version counts how many
// have run. Append only: a released migration never changes.
var migrations = []string{
	// 1: hosts, blocks and their signatures, replay high-water marks,
	// consumer cursors, quota usage, per-host daily line counts.
	`CREATE TABLE hosts (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL UNIQUE,
		first_seen INTEGER NOT NULL,
		last_seen INTEGER NOT NULL,
		report TEXT
	);
	CREATE TABLE blocks (
		id INTEGER PRIMARY KEY,
		host_id INTEGER NOT NULL REFERENCES hosts(id),
		kind INTEGER NOT NULL,
		n INTEGER NOT NULL,
		min_seq INTEGER NOT NULL,
		max_seq INTEGER NOT NULL,
		min_time INTEGER NOT NULL,
		max_time INTEGER NOT NULL,
		raw_bytes INTEGER NOT NULL,
		size INTEGER NOT NULL,
		data BLOB NOT NULL
	);
	CREATE INDEX blocks_max_seq ON blocks(max_seq);
	CREATE INDEX blocks_min_seq ON blocks(min_seq);
	CREATE INDEX blocks_time ON blocks(max_time);
	CREATE INDEX blocks_host_time ON blocks(host_id, max_time);
	CREATE TABLE block_sig (
		band INTEGER NOT NULL,
		block_id INTEGER NOT NULL REFERENCES blocks(id) ON DELETE CASCADE,
		bits BLOB NOT NULL,
		PRIMARY KEY (band, block_id)
	) WITHOUT ROWID;
	CREATE INDEX block_sig_block ON block_sig(block_id);
	CREATE TABLE sources (
		host_id INTEGER NOT NULL REFERENCES hosts(id),
		source TEXT NOT NULL,
		gen TEXT NOT NULL,
		next_offset INTEGER NOT NULL,
		updated INTEGER NOT NULL,
		PRIMARY KEY (host_id, source, gen)
	) WITHOUT ROWID;
	CREATE TABLE cursors (
		name TEXT PRIMARY KEY,
		seq INTEGER NOT NULL,
		updated INTEGER NOT NULL
	);
	CREATE TABLE quota_usage (
		host_id INTEGER NOT NULL REFERENCES hosts(id),
		day TEXT NOT NULL,
		bytes INTEGER NOT NULL,
		PRIMARY KEY (host_id, day)
	) WITHOUT ROWID;
	CREATE TABLE host_daily (
		host TEXT NOT NULL,
		day TEXT NOT NULL,
		lines INTEGER NOT NULL,
		bytes INTEGER NOT NULL,
		PRIMARY KEY (host, day)
	) WITHOUT ROWID;`,
	// 2: uptime: each check's confirmed state, its per-day time in each
	// state, probe samples for the response-time graph, incidents and
	// their public updates, and the outbox of notifications a state
	// change causes (written in the same transaction).
	`CREATE TABLE check_state (
		check_name TEXT PRIMARY KEY,
		status INTEGER NOT NULL,
		since INTEGER NOT NULL,
		last_time INTEGER NOT NULL,
		pending INTEGER NOT NULL,
		pending_since INTEGER NOT NULL,
		streak INTEGER NOT NULL,
		detail TEXT NOT NULL DEFAULT ''
	) WITHOUT ROWID;
	CREATE TABLE uptime_daily (
		check_name TEXT NOT NULL,
		day TEXT NOT NULL,
		up_ms INTEGER NOT NULL DEFAULT 0,
		degraded_ms INTEGER NOT NULL DEFAULT 0,
		down_ms INTEGER NOT NULL DEFAULT 0,
		unknown_ms INTEGER NOT NULL DEFAULT 0,
		maintenance_ms INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (check_name, day)
	) WITHOUT ROWID;
	CREATE TABLE check_samples (
		check_name TEXT NOT NULL,
		time INTEGER NOT NULL,
		ok INTEGER NOT NULL,
		degraded INTEGER NOT NULL,
		duration_us INTEGER NOT NULL,
		PRIMARY KEY (check_name, time)
	) WITHOUT ROWID;
	CREATE TABLE incidents (
		id INTEGER PRIMARY KEY,
		check_name TEXT NOT NULL,
		title TEXT NOT NULL,
		public INTEGER NOT NULL,
		started INTEGER NOT NULL,
		resolved INTEGER
	);
	CREATE INDEX incidents_open ON incidents(check_name, resolved);
	CREATE TABLE incident_updates (
		id INTEGER PRIMARY KEY,
		incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
		time INTEGER NOT NULL,
		status TEXT NOT NULL,
		message TEXT NOT NULL
	);
	CREATE TABLE outbox (
		id INTEGER PRIMARY KEY,
		created INTEGER NOT NULL,
		kind TEXT NOT NULL,
		payload TEXT NOT NULL,
		sent INTEGER,
		attempts INTEGER NOT NULL DEFAULT 0,
		next_try INTEGER NOT NULL DEFAULT 0,
		last_error TEXT NOT NULL DEFAULT '',
		given_up INTEGER
	);
	CREATE INDEX outbox_pending ON outbox(next_try) WHERE sent IS NULL AND given_up IS NULL;`,
	// 3: heartbeat pings (backups and cron jobs reporting in), with the
	// body they sent, kept bounded.
	`CREATE TABLE heartbeat_pings (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		time INTEGER NOT NULL,
		kind TEXT NOT NULL,
		exit_code INTEGER,
		run_id TEXT NOT NULL DEFAULT '',
		duration_ms INTEGER,
		remote TEXT NOT NULL DEFAULT '',
		body TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX heartbeat_pings_name ON heartbeat_pings(name, time);`,
	// 4: the rule engine's contexts, dynamic rules and threshold windows,
	// saved with the rules consumer's cursor.
	`CREATE TABLE rules_state (
		name TEXT PRIMARY KEY,
		data BLOB NOT NULL
	) WITHOUT ROWID;
	CREATE TABLE rule_hits (
		file TEXT NOT NULL,
		line INTEGER NOT NULL,
		hits INTEGER NOT NULL,
		last_hit INTEGER NOT NULL,
		PRIMARY KEY (file, line)
	) WITHOUT ROWID;`,
	// 5: one delivery per notification and receiver (email, Matrix), each
	// with its own attempts, backoff and result; ref is what the receiver
	// gave back (a Matrix event id, for threading).
	`CREATE TABLE deliveries (
		outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
		receiver TEXT NOT NULL,
		sent INTEGER,
		attempts INTEGER NOT NULL DEFAULT 0,
		next_try INTEGER NOT NULL DEFAULT 0,
		last_error TEXT NOT NULL DEFAULT '',
		given_up INTEGER,
		ref TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (outbox_id, receiver)
	) WITHOUT ROWID;
	CREATE INDEX deliveries_due ON deliveries(next_try) WHERE sent IS NULL AND given_up IS NULL;`,
	// 6: munin-style metrics (package rrd): one row per series with its
	// definition and hot state (rate and consolidation accumulators),
	// each graph's latest metadata, the consolidated tiers as fixed rings
	// of chunks, and raw samples packed in blocks. Chunk tables are keyed
	// slot first so one flush, which writes the same slot of every series,
	// dirties adjacent pages.
	`CREATE TABLE rrd_series (
		id INTEGER PRIMARY KEY,
		host TEXT NOT NULL,
		graph TEXT NOT NULL,
		field TEXT NOT NULL,
		type TEXT NOT NULL,
		min TEXT NOT NULL DEFAULT '',
		max TEXT NOT NULL DEFAULT '',
		UNIQUE (host, graph, field)
	);
	CREATE TABLE rrd_state (
		series_id INTEGER PRIMARY KEY REFERENCES rrd_series(id) ON DELETE CASCADE,
		data BLOB NOT NULL
	);
	CREATE TABLE rrd_graphs (
		host TEXT NOT NULL,
		graph TEXT NOT NULL,
		meta TEXT NOT NULL,
		updated INTEGER NOT NULL,
		PRIMARY KEY (host, graph)
	) WITHOUT ROWID;
	CREATE TABLE rrd_cdp (
		tier INTEGER NOT NULL,
		slot INTEGER NOT NULL,
		series_id INTEGER NOT NULL,
		chunk INTEGER NOT NULL,
		data BLOB NOT NULL,
		PRIMARY KEY (tier, slot, series_id)
	) WITHOUT ROWID;
	CREATE TABLE rrd_raw (
		slot INTEGER NOT NULL,
		series_id INTEGER NOT NULL,
		start INTEGER NOT NULL,
		data BLOB NOT NULL,
		PRIMARY KEY (slot, series_id)
	) WITHOUT ROWID;`,
	// 7: web statistics: one mergeable aggregate per site and month
	// (package webstats), updated with the webstats consumer's cursor and
	// never pruned by retention; and small components' saved state (metric
	// threshold levels), written with what their changes cause.
	`CREATE TABLE webstats_months (
		site TEXT NOT NULL,
		month TEXT NOT NULL,
		data BLOB NOT NULL,
		updated INTEGER NOT NULL,
		PRIMARY KEY (site, month)
	) WITHOUT ROWID;
	CREATE TABLE component_state (
		name TEXT PRIMARY KEY,
		data BLOB NOT NULL
	);`,
	// 8: alert routing and its state: each outbox row's labels and why it
	// was not sent (silenced, flapping, a parent down); each delivery's
	// group and, once attempted, its batch (the rows sent as one message,
	// fixed so a retry sends the same); acknowledgement of incidents;
	// silences; group flush times; reminders and escalation per
	// incident; flapping checks; hosts gone silent.
	`ALTER TABLE outbox ADD COLUMN labels TEXT NOT NULL DEFAULT '';
	ALTER TABLE outbox ADD COLUMN suppressed TEXT NOT NULL DEFAULT '';
	ALTER TABLE deliveries ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
	ALTER TABLE deliveries ADD COLUMN batch INTEGER;
	ALTER TABLE incidents ADD COLUMN acked INTEGER;
	ALTER TABLE incidents ADD COLUMN acked_by TEXT NOT NULL DEFAULT '';
	CREATE TABLE silences (
		id INTEGER PRIMARY KEY,
		matchers TEXT NOT NULL,
		starts INTEGER NOT NULL,
		ends INTEGER NOT NULL,
		author TEXT NOT NULL,
		comment TEXT NOT NULL,
		created INTEGER NOT NULL
	);
	CREATE TABLE alert_groups (
		receiver TEXT NOT NULL,
		group_key TEXT NOT NULL,
		last_flush INTEGER NOT NULL,
		PRIMARY KEY (receiver, group_key)
	) WITHOUT ROWID;
	CREATE TABLE incident_notices (
		incident_id INTEGER PRIMARY KEY,
		reminders INTEGER NOT NULL DEFAULT 0,
		last INTEGER NOT NULL,
		escalated INTEGER
	);
	CREATE TABLE check_flap (
		check_name TEXT PRIMARY KEY,
		since INTEGER NOT NULL,
		percent REAL NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX deliveries_group ON deliveries(receiver, group_key) WHERE sent IS NULL AND given_up IS NULL;
	CREATE INDEX deliveries_batch ON deliveries(receiver, batch) WHERE batch IS NOT NULL;
	CREATE INDEX outbox_incident ON outbox(json_extract(payload, '$.incident')) WHERE kind = 'check_down';
	CREATE TABLE host_silence (
		host TEXT PRIMARY KEY,
		since INTEGER NOT NULL
	) WITHOUT ROWID;`,
	// 9: one incident model for every source (package alerting): what
	// fired (check, heartbeat, rule, metric, host_silent, loghost), its
	// key within the source, its labels and severity, how often and when
	// it last fired, when a quiet rule alert resolves by itself, and who
	// resolved it by hand. Checks keep writing incidents as before (source
	// 'check', key ''); at most one open incident per other key.
	`ALTER TABLE incidents ADD COLUMN source TEXT NOT NULL DEFAULT 'check';
	ALTER TABLE incidents ADD COLUMN incident_key TEXT NOT NULL DEFAULT '';
	ALTER TABLE incidents ADD COLUMN labels TEXT NOT NULL DEFAULT '';
	ALTER TABLE incidents ADD COLUMN severity TEXT NOT NULL DEFAULT '';
	ALTER TABLE incidents ADD COLUMN fired INTEGER NOT NULL DEFAULT 1;
	ALTER TABLE incidents ADD COLUMN last_fired INTEGER;
	ALTER TABLE incidents ADD COLUMN resolve_after INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE incidents ADD COLUMN resolved_by TEXT NOT NULL DEFAULT '';
	CREATE UNIQUE INDEX incidents_open_key ON incidents(source, incident_key) WHERE resolved IS NULL AND source != 'check';
	CREATE INDEX incidents_started ON incidents(started);
	CREATE INDEX outbox_incident_all ON outbox(json_extract(payload, '$.incident')) WHERE json_valid(payload);
	CREATE INDEX deliveries_sent ON deliveries(receiver, sent) WHERE sent IS NOT NULL;`,
	// 10: web statistics in parts: each batch of access-log lines adds a
	// small mergeable part, and parts are merged into the month's row
	// now and then, so a batch costs what it holds, not what the month
	// holds. defs names the definitions a month was built with
	// (webstats.Definitions.Key); months stored before definitions could
	// be chosen were all built with AWStats's.
	`ALTER TABLE webstats_months ADD COLUMN defs TEXT NOT NULL DEFAULT '3600 true 200,304';
	CREATE TABLE webstats_parts (
		id INTEGER PRIMARY KEY,
		site TEXT NOT NULL,
		month TEXT NOT NULL,
		defs TEXT NOT NULL,
		data BLOB NOT NULL,
		added INTEGER NOT NULL
	);
	CREATE INDEX webstats_parts_month ON webstats_parts(site, month);`,
	// 11: the admin console's state: paused checks and heartbeats (a
	// paused one runs no probe and counts as unknown), each check's last
	// result and its failed or degraded ones with their conditions (the
	// console shows what failed, and why), maintenance windows
	// made in the console or the API (beside the configuration's), the
	// public components of incidents opened by hand, status page
	// subscribers (double opt-in) and the delivery of each status notice
	// to each of them, with its attempts as for alerts.
	`CREATE TABLE check_pause (
		check_name TEXT PRIMARY KEY,
		since INTEGER NOT NULL,
		paused_by TEXT NOT NULL DEFAULT '',
		until INTEGER
	) WITHOUT ROWID;
	CREATE TABLE maintenance_windows (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		starts INTEGER,
		ends INTEGER,
		schedule TEXT NOT NULL DEFAULT '',
		duration INTEGER NOT NULL DEFAULT 0,
		checks TEXT NOT NULL DEFAULT '[]',
		labels TEXT NOT NULL DEFAULT '{}',
		hosts TEXT NOT NULL DEFAULT '[]',
		description TEXT NOT NULL DEFAULT '',
		created INTEGER NOT NULL,
		created_by TEXT NOT NULL DEFAULT '',
		cancelled INTEGER
	);
	ALTER TABLE incidents ADD COLUMN components TEXT NOT NULL DEFAULT '';
	CREATE TABLE subscribers (
		id INTEGER PRIMARY KEY,
		email TEXT NOT NULL UNIQUE,
		components TEXT NOT NULL DEFAULT '[]',
		created INTEGER NOT NULL,
		confirm_sent INTEGER,
		confirmed INTEGER,
		nonce TEXT NOT NULL
	);
	CREATE TABLE subscriber_deliveries (
		outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
		subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
		sent INTEGER,
		attempts INTEGER NOT NULL DEFAULT 0,
		next_try INTEGER NOT NULL DEFAULT 0,
		last_error TEXT NOT NULL DEFAULT '',
		given_up INTEGER,
		PRIMARY KEY (outbox_id, subscriber_id)
	) WITHOUT ROWID;
	CREATE INDEX subscriber_deliveries_due ON subscriber_deliveries(next_try) WHERE sent IS NULL AND given_up IS NULL;
	CREATE INDEX outbox_status_notice ON outbox(id) WHERE kind = 'status_notice' AND sent IS NULL AND given_up IS NULL;
	CREATE TABLE check_last (
		check_name TEXT PRIMARY KEY,
		time INTEGER NOT NULL,
		ok INTEGER NOT NULL,
		degraded INTEGER NOT NULL,
		duration_us INTEGER NOT NULL,
		error TEXT NOT NULL DEFAULT '',
		conditions TEXT NOT NULL DEFAULT ''
	) WITHOUT ROWID;
	CREATE TABLE check_results (
		check_name TEXT NOT NULL,
		time INTEGER NOT NULL,
		ok INTEGER NOT NULL,
		degraded INTEGER NOT NULL,
		duration_us INTEGER NOT NULL,
		error TEXT NOT NULL DEFAULT '',
		conditions TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (check_name, time)
	) WITHOUT ROWID;`,
	// 12: per-block stats of log blocks (lines per minute and severity,
	// the standard fields' top values), so the logs explorer's histogram
	// and field counts over a long range need not decompress every block.
	// Blocks written before it get theirs from maintenance.
	`CREATE TABLE block_stats (
		block_id INTEGER PRIMARY KEY REFERENCES blocks(id) ON DELETE CASCADE,
		data BLOB NOT NULL
	);`,
	// 13: the rules' exec, pipe and report commands waiting to run, committed
	// with the batch that made them: a restart loses none.
	`CREATE TABLE rule_actions (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		file TEXT NOT NULL,
		command TEXT NOT NULL,
		stdin BLOB,
		queued INTEGER NOT NULL
	);`,
	// 14: admin logouts, kept until the session would have expired so a
	// restart does not bring a signed-out cookie back; and the host names
	// claimed with the shared collector token (package enroll): enrolled,
	// pinned to an address, or revoked.
	`CREATE TABLE revoked_sessions (
		id BLOB PRIMARY KEY,
		expires INTEGER NOT NULL
	);
	CREATE TABLE enrollments (
		host TEXT PRIMARY KEY,
		state TEXT NOT NULL,
		first_seen INTEGER NOT NULL,
		last_seen INTEGER NOT NULL,
		first_address TEXT NOT NULL,
		last_address TEXT NOT NULL,
		pinned_address TEXT NOT NULL DEFAULT '',
		changed_by TEXT NOT NULL DEFAULT '',
		changed INTEGER NOT NULL DEFAULT 0
	);`,
	// 15: probing from several places (package vantage): the time no
	// vantage could see (a gap, counted unknown) until late results fill
	// it; each vantage (the loghost and collectors that probe) with what
	// it last told; each vantage's results, once each (the vantage's
	// result id); and the vantages' notices and the loghost's own
	// outages, so that each is announced once.
	`CREATE TABLE uptime_gaps (
		check_name TEXT NOT NULL,
		start INTEGER NOT NULL,
		end INTEGER NOT NULL,
		PRIMARY KEY (check_name, start)
	) WITHOUT ROWID;
	CREATE TABLE vantages (
		location TEXT PRIMARY KEY,
		host TEXT NOT NULL,
		version TEXT NOT NULL DEFAULT '',
		first_seen INTEGER NOT NULL,
		last_seen INTEGER NOT NULL,
		skew_ms INTEGER NOT NULL DEFAULT 0,
		queued INTEGER NOT NULL DEFAULT 0,
		dropped INTEGER NOT NULL DEFAULT 0,
		canary_time INTEGER NOT NULL DEFAULT 0,
		canary_ok INTEGER NOT NULL DEFAULT 1,
		canary_detail TEXT NOT NULL DEFAULT '',
		impaired_since INTEGER
	) WITHOUT ROWID;
	CREATE TABLE vantage_results (
		id TEXT NOT NULL,
		location TEXT NOT NULL,
		check_name TEXT NOT NULL,
		time INTEGER NOT NULL,
		received INTEGER NOT NULL,
		ok INTEGER NOT NULL,
		degraded INTEGER NOT NULL,
		duration_us INTEGER NOT NULL,
		error TEXT NOT NULL DEFAULT '',
		late INTEGER NOT NULL DEFAULT 0,
		canary INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (location, id)
	);
	CREATE INDEX vantage_results_check ON vantage_results(check_name, time);
	CREATE INDEX vantage_results_time ON vantage_results(time);
	CREATE TABLE vantage_outages (
		id INTEGER PRIMARY KEY,
		location TEXT NOT NULL,
		start INTEGER NOT NULL,
		end INTEGER,
		reported INTEGER
	);`,
}

func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this binary knows (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		// PRAGMA takes no bound parameters; i is ours, not input.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
	}
	return nil
}
