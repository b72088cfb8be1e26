package subscribe

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// when prints a time for subscribers: in the status page's zone, named.
func (d *Sender) when(t time.Time) string {
	loc := d.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
}

func (d *Sender) link(path string) string {
	return strings.TrimRight(d.PublicURL, "/") + path
}

var eventWords = map[string]string{
	"opened": "New incident", "update": "Update", "resolved": "Resolved",
	"maintenance_announced": "Scheduled maintenance", "maintenance_started": "Maintenance started",
}

// render words one delivery; ok is false when there is nothing to say
// (the incident is gone).
func (d *Sender) render(ctx context.Context, x due) (Mail, bool, error) {
	var n notice
	if err := json.Unmarshal([]byte(x.payload), &n); err != nil {
		return Mail{}, false, nil
	}
	title := d.Title
	if title == "" {
		title = "Status"
	}
	m := Mail{To: x.email, MessageID: fmt.Sprintf("watchpost.status.%d.%d@%s", x.outbox, x.subscriber, d.Hostname)}
	var b strings.Builder
	if n.Event == EventConfirm {
		var comps string
		d.Store.DB.QueryRowContext(ctx, `SELECT components FROM subscribers WHERE id = ?`, x.subscriber).Scan(&comps)
		m.Subject = fmt.Sprintf("[%s] Confirm your subscription", title)
		fmt.Fprintf(&b, "Someone, hopefully you, asked for %s status updates by email at this address (%s).\n\n", title, describe(comps))
		fmt.Fprintf(&b, "To confirm, open this link and press the button:\n%s\n\n", d.link("/subscribe/confirm?t="+d.Store.token(purposeConfirm, x.subscriber, x.nonce)))
		fmt.Fprintf(&b, "If it was not you, ignore this message: nothing more will be sent to this address.\n")
		m.Text = b.String()
		return m, true, nil
	}
	switch {
	case n.Incident > 0:
		var name string
		var started int64
		err := d.Store.DB.QueryRowContext(ctx, `SELECT title, started FROM incidents WHERE id = ?`, n.Incident).Scan(&name, &started)
		if errors.Is(err, sql.ErrNoRows) {
			return m, false, nil
		}
		if err != nil {
			return m, false, fmt.Errorf("read incident: %w", err)
		}
		order := "DESC"
		if n.Event == "opened" {
			order = "ASC"
		}
		var status, msg string
		var at int64
		err = d.Store.DB.QueryRowContext(ctx, `SELECT status, message, time FROM incident_updates WHERE incident_id = ? AND time <= ?
			ORDER BY time `+order+`, id `+order+` LIMIT 1`, n.Incident, x.created.UnixNano()).Scan(&status, &msg, &at)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return m, false, fmt.Errorf("read incident update: %w", err)
		}
		if at == 0 {
			at = started
		}
		m.Subject = fmt.Sprintf("[%s] %s: %s", title, eventWords[n.Event], name)
		fmt.Fprintf(&b, "%s\n\n", name)
		if status != "" {
			fmt.Fprintf(&b, "%s, %s:\n%s\n\n", strings.ToUpper(status[:1])+status[1:], d.when(time.Unix(0, at)), msg)
		}
		if n.Event == "resolved" {
			fmt.Fprintf(&b, "The incident began %s and is resolved.\n\n", d.when(time.Unix(0, started)))
		}
	case n.Maintenance != "":
		m.Subject = fmt.Sprintf("[%s] %s: %s", title, eventWords[n.Event], n.Name)
		fmt.Fprintf(&b, "%s\n%s – %s\nAffects: %s\n\n%s\n\n", n.Name, d.when(n.Start), d.when(n.End), strings.Join(n.Components, ", "), n.Description)
	default:
		return m, false, nil
	}
	unsub := d.link("/unsubscribe?t=" + d.Store.token(purposeUnsubscribe, x.subscriber, x.nonce))
	fmt.Fprintf(&b, "Status page: %s\n\n", d.link("/"))
	fmt.Fprintf(&b, "You get this because you subscribed to %s status updates.\nUnsubscribe: %s\n", title, unsub)
	m.Text, m.Unsubscribe = b.String(), unsub
	return m, true, nil
}

func describe(componentsJSON string) string {
	var cs []string
	json.Unmarshal([]byte(componentsJSON), &cs)
	if len(cs) == 0 {
		return "every component"
	}
	return strings.Join(cs, ", ")
}
