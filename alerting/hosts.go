package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"html"
	"time"
)

// hostEvent is the payload of host_silent and host_back rows.
type hostEvent struct {
	Host     string            `json:"host"`
	LastSeen time.Time         `json:"last_seen"`
	Since    time.Time         `json:"since"` // when it was found silent
	Labels   map[string]string `json:"labels"`
}

// CheckHosts writes a host_silent outbox row for each collector (the
// hosts table's last_seen) that has not reported for after, and a
// host_back row when a silent one reports again; each once per episode.
// The dispatcher runs it on every pass when Config.HostSilentAfter is
// set; the loghost may call it on its own schedule instead.
func CheckHosts(ctx context.Context, db *sql.DB, now time.Time, after time.Duration) error {
	rows, err := db.QueryContext(ctx, `SELECT h.name, h.last_seen, s.since FROM hosts h LEFT JOIN host_silence s ON s.host = h.name`)
	if err != nil {
		return fmt.Errorf("read hosts: %w", err)
	}
	type host struct {
		name     string
		lastSeen time.Time
		silent   sql.NullInt64
	}
	var change []host
	for rows.Next() {
		var h host
		var last int64
		if err := rows.Scan(&h.name, &last, &h.silent); err != nil {
			rows.Close()
			return fmt.Errorf("read hosts: %w", err)
		}
		h.lastSeen = time.Unix(0, last)
		quiet := now.Sub(h.lastSeen) >= after
		if quiet != h.silent.Valid {
			change = append(change, h)
		}
	}
	rows.Close()
	for _, h := range change {
		ev := hostEvent{Host: h.name, LastSeen: h.lastSeen.UTC(), Since: now.UTC(), Labels: map[string]string{"host": h.name}}
		kind := "host_silent"
		q, args := `INSERT INTO host_silence(host, since) VALUES(?, ?)`, []any{h.name, now.UnixNano()}
		if h.silent.Valid {
			kind, ev.Since = "host_back", time.Unix(0, h.silent.Int64).UTC()
			q, args = `DELETE FROM host_silence WHERE host = ?`, []any{h.name}
		}
		p, _ := json.Marshal(ev)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("host silence: %w", err)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			tx.Rollback()
			return fmt.Errorf("host silence: %w", err)
		}
		// The silence is an incident (acknowledged, reminded, escalated
		// like any other); a host silent since before incidents covered
		// hosts gets its "back" message the old way.
		var ok bool
		if kind == "host_silent" {
			_, ok, err = Fire(ctx, tx, Alert{Source: SourceHost, Key: h.name, Labels: map[string]string{"host": h.name, "severity": "critical"},
				Severity: "critical", Title: "host " + h.name + " is silent", Time: now, Kind: kind, Payload: ev})
			ok = true
		} else {
			_, ok, err = Resolve(ctx, tx, Resolution{Source: SourceHost, Key: h.name, Time: now, Kind: kind, Payload: ev})
		}
		if err == nil && !ok {
			_, err = tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), kind, string(p))
		}
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("host silence: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("host silence: %w", err)
		}
	}
	return nil
}

func (d *Dispatcher) renderHost(kind string, h hostEvent, ownID string) Message {
	subject := headerSafe(fmt.Sprintf("[watchpost] host %s is silent", h.Host))
	thread := fmt.Sprintf("watchpost.silent.%s.%d@%s", idSafe(h.Host), h.Since.Unix(), d.cfg.Hostname)
	var text string
	m := Message{Subject: subject, MessageID: ownID}
	if kind == "host_silent" {
		text = fmt.Sprintf("The collector on %s has SENT NOTHING since %s.\n", h.Host, h.LastSeen.Format(time.RFC1123))
		m.MessageID = thread
	} else {
		text = fmt.Sprintf("The collector on %s is REPORTING AGAIN (last heard %s).\n", h.Host, h.LastSeen.Format(time.RFC1123))
		m.InReplyTo = thread
	}
	m.Text, m.HTML = text, "<pre>"+html.EscapeString(text)+"</pre>"
	return m
}
