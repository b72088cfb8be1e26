package alerting

import (
	"encoding/json"
	"fmt"
	"html"
	"strings"
	"time"
)

// row is an outbox row on its way to one receiver.
type row struct {
	id       int64
	created  time.Time
	kind     string
	payload  []byte
	receiver string // the delivery's channel ("email", "db-team/matrix")
	attempts int
	groupKey string
	batch    int64
	labels   Labels
}

func (d *Dispatcher) ownID(id int64) string {
	return fmt.Sprintf("watchpost.outbox.%d@%s", id, d.cfg.Hostname)
}

// render turns a row into a message; ok=false when it needs none. A
// row of an incident (every source but checks, which thread their own
// way) is threaded under the message that opened the incident.
func (d *Dispatcher) render(r row) (Message, bool, error) {
	m, ok, err := d.renderKind(r)
	if err != nil || !ok {
		return m, ok, err
	}
	inc, ev := eventOf(r.payload)
	m = d.withLink(m, inc)
	if inc > 0 && ev != "" {
		m.MessageID, m.InReplyTo = d.ownID(r.id), d.incidentID(inc)
		if ev == EventOpened {
			m.MessageID, m.InReplyTo = d.incidentID(inc), ""
		}
	}
	return m, true, nil
}

func (d *Dispatcher) renderKind(r row) (Message, bool, error) {
	switch r.kind {
	case KindIncident:
		var ev incidentEvent
		if err := json.Unmarshal(r.payload, &ev); err != nil {
			return Message{}, false, err
		}
		return renderIncident(ev), true, nil
	case KindLoghostDisk:
		var ev diskEvent
		if err := json.Unmarshal(r.payload, &ev); err != nil {
			return Message{}, false, err
		}
		return renderDisk(ev), true, nil
	case "check_down", "check_up":
		var c change
		if err := json.Unmarshal(r.payload, &c); err != nil {
			return Message{}, false, err
		}
		if c.To == "up" && c.From != "down" {
			return Message{}, false, nil // first state, or back from degraded
		}
		return renderChange(c, d.incidentID(c.Incident), d.ownID(r.id)), true, nil
	case "rule_alert":
		var a alert
		if err := json.Unmarshal(r.payload, &a); err != nil {
			return Message{}, false, err
		}
		return renderAlert(a, d.ownID(r.id)), true, nil
	case "metric_threshold":
		var ev metricEvent
		if err := json.Unmarshal(r.payload, &ev); err != nil {
			return Message{}, false, err
		}
		return renderMetric(ev, d.thresholdThread(ev), d.ownID(r.id)), true, nil
	case "reminder", "escalation", "flap_start", "flap_stop":
		var c change
		if err := json.Unmarshal(r.payload, &c); err != nil {
			return Message{}, false, err
		}
		return d.renderNotice(r.kind, c, d.ownID(r.id)), true, nil
	case KindMonthlyReport:
		return d.renderReport(r)
	case "host_silent", "host_back":
		var h hostEvent
		if err := json.Unmarshal(r.payload, &h); err != nil {
			return Message{}, false, err
		}
		return d.renderHost(r.kind, h, d.ownID(r.id)), true, nil
	}
	return Message{}, false, nil // check_degraded and kinds for later receivers
}

// renderNotice words reminders, escalations and flapping, threaded
// under the incident when there is one.
func (d *Dispatcher) renderNotice(kind string, c change, ownID string) Message {
	subject := fmt.Sprintf("[watchpost] %s (incident #%d)", c.Check, c.Incident)
	since := c.Since.UTC().Format(time.RFC1123)
	var text string
	switch {
	case c.Source != "" && (kind == "reminder" || kind == "escalation"):
		subject = headerSafe(fmt.Sprintf("[watchpost] %s (incident #%d)", c.Title, c.Incident))
		if kind == "reminder" {
			text = fmt.Sprintf("Reminder %d: %s is still FIRING since %s and nobody has acknowledged it.\n", c.Reminder, c.Title, since)
		} else {
			text = fmt.Sprintf("ESCALATED: %s is FIRING since %s and nobody acknowledged it in time.\n", c.Title, since)
		}
		text += fmt.Sprintf("\nLabels: %s\n", Labels(c.Labels))
	}
	switch {
	case text != "":
	case kind == "reminder":
		text = fmt.Sprintf("Reminder %d: %s is still DOWN since %s and nobody has acknowledged it.\n\nWhat failed: %s\n", c.Reminder, c.Check, since, c.Detail)
	case kind == "escalation":
		text = fmt.Sprintf("ESCALATED: %s is DOWN since %s and nobody acknowledged it in time.\n\nWhat failed: %s\n", c.Check, since, c.Detail)
	case kind == "flap_start":
		subject = fmt.Sprintf("[watchpost] %s is flapping", c.Check)
		text = fmt.Sprintf("%s is FLAPPING: its state changed in %.0f %% of its last 21 probes (since %s). Notifications about its state changes are held until it settles.\n", c.Check, c.Percent, since)
	case kind == "flap_stop":
		subject = fmt.Sprintf("[watchpost] %s is flapping", c.Check)
		text = fmt.Sprintf("%s has STOPPED FLAPPING (%.0f %% state change); it is %s now.\n", c.Check, c.Percent, strings.ToUpper(c.To))
	}
	m := Message{Subject: subject, Text: text, MessageID: ownID,
		HTML: "<pre>" + html.EscapeString(text) + "</pre>"}
	if c.Incident > 0 && (kind == "reminder" || kind == "escalation") {
		m.InReplyTo = d.incidentID(c.Incident)
	}
	if kind == "flap_stop" {
		m.InReplyTo = d.flapThread(c)
	} else if kind == "flap_start" {
		m.MessageID = d.flapThread(c)
	}
	return m
}

func (d *Dispatcher) flapThread(c change) string {
	return fmt.Sprintf("watchpost.flap.%d.%s@%s", c.Since.Unix(), idSafe(c.Check), d.cfg.Hostname)
}

// idSafe keeps a name usable inside a Message-ID or a Matrix txnId.
func idSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '<' || r == '>' || r == '@' || r == '/' || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, s)
}

// renderBatch makes one message of several rows: an outage and its
// recovery that both waited become one "was down, is back"; anything
// else becomes a digest listing each alert.
func (d *Dispatcher) renderBatch(rows []row) (Message, error) {
	if len(rows) == 1 {
		m, _, err := d.render(rows[0])
		return m, err
	}
	if c, ok := oneIncident(rows); ok {
		var first change
		json.Unmarshal(rows[0].payload, &first)
		subject := fmt.Sprintf("[watchpost] %s (incident #%d)", c.Check, c.Incident)
		text := fmt.Sprintf("%s was DOWN from %s until %s and has RECOVERED.\n\nWhat failed: %s\n", c.Check,
			first.Since.UTC().Format(time.RFC1123), c.Since.UTC().Format(time.RFC1123), first.Detail)
		return d.withLink(Message{Subject: subject, Text: text, MessageID: d.incidentID(c.Incident),
			HTML: "<p><strong>" + html.EscapeString(c.Check) + " RECOVERED</strong></p><pre>" + html.EscapeString(text) + "</pre>"}, c.Incident), nil
	}
	if last, ok := oneEndedIncident(rows); ok {
		// Opened and resolved while both waited (a receiver down, a group
		// wait): one message, the thread's root, saying both.
		m, _, err := d.render(last)
		if err != nil {
			return m, err
		}
		inc, _ := eventOf(last.payload)
		text := fmt.Sprintf("It fired at %s and is already over:\n\n", rows[0].created.UTC().Format(time.RFC1123)) + m.Text
		return Message{Subject: m.Subject, Text: text, MessageID: d.incidentID(inc), HTML: "<pre>" + html.EscapeString(text) + "</pre>"}, nil
	}
	var b strings.Builder
	firing, resolved := 0, 0
	const show = 30
	for i, r := range rows {
		m, _, err := d.render(r)
		if err != nil {
			continue
		}
		if isResolved(r.kind, r.payload) {
			resolved++
		} else {
			firing++
		}
		if i < show {
			first, _, _ := strings.Cut(strings.TrimSpace(m.Text), "\n")
			fmt.Fprintf(&b, "- %s\n  %s\n", digestLine(strings.TrimPrefix(m.Subject, "[watchpost] ")), digestLine(first))
		}
	}
	if len(rows) > show {
		fmt.Fprintf(&b, "... and %d more\n", len(rows)-show)
	}
	subject := fmt.Sprintf("[watchpost] %d alerts (%d firing, %d resolved)", len(rows), firing, resolved)
	if g := groupTitle(rows[0].groupKey); g != "" {
		subject += " " + g
	}
	text := b.String()
	return Message{Subject: headerSafe(subject), Text: text,
		MessageID: fmt.Sprintf("watchpost.batch.%s.%d@%s", idSafe(rows[0].receiver), rows[0].batch, d.cfg.Hostname),
		HTML:      "<pre>" + html.EscapeString(text) + "</pre>"}, nil
}

// groupTitle is the group_by part of a group key, for a digest's subject.
func groupTitle(key string) string {
	_, rest, ok := strings.Cut(key, "/")
	if rest == "digest" {
		return "(digest)"
	}
	if !ok || strings.HasPrefix(rest, "incident:") || strings.HasPrefix(rest, "row:") {
		return ""
	}
	return "{" + strings.ReplaceAll(rest, "/", ", ") + "}"
}

// oneIncident reports whether rows are the changes of one check incident
// ending in its recovery, and returns that recovery.
func oneIncident(rows []row) (change, bool) {
	var last change
	var inc int64
	for i, r := range rows {
		if r.kind != "check_down" && r.kind != "check_up" {
			return change{}, false
		}
		var c change
		if json.Unmarshal(r.payload, &c) != nil || c.Incident == 0 || (i > 0 && c.Incident != inc) {
			return change{}, false
		}
		inc, last = c.Incident, c
	}
	return last, last.To == "up"
}

// isResolved tells the rows that say something is over: they go out at
// once, never held by a group's interval.
func isResolved(kind string, payload []byte) bool {
	switch kind {
	case "check_up", "flap_stop", "host_back":
		return true
	case "check_down", "check_degraded", "reminder", "escalation", "flap_start":
		return false
	case "metric_threshold":
		var ev metricEvent
		return json.Unmarshal(payload, &ev) == nil && ev.To == "ok"
	}
	_, ev := eventOf(payload)
	return ev == EventResolved
}

// digestLine keeps one alert to one line of a digest, whatever its log
// data holds.
func digestLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = strings.ToValidUTF8(s[:160], "") + "…"
	}
	return s
}

// oneEndedIncident reports whether rows are the messages of one incident
// (of a source other than checks) ending with its resolution.
func oneEndedIncident(rows []row) (row, bool) {
	var inc int64
	for i, r := range rows {
		n, ev := eventOf(r.payload)
		if n == 0 || ev == "" || (i > 0 && n != inc) {
			return row{}, false
		}
		inc = n
	}
	last := rows[len(rows)-1]
	_, ev := eventOf(last.payload)
	return last, ev == EventResolved
}

// withLink ends a message about an incident with a link to its page in
// the admin console (server.public_url), where its timeline, deliveries
// and context are; signing in there leads back to it.
func (d *Dispatcher) withLink(m Message, incident int64) Message {
	if incident <= 0 || d.cfg.PublicURL == "" || strings.Contains(m.Text, "/admin/incidents/") {
		return m
	}
	u := IncidentURL(d.cfg.PublicURL, incident)
	m.Text = strings.TrimRight(m.Text, "\n") + "\n\nIncident page: " + u + "\n"
	if m.HTML != "" {
		m.HTML += `<p><a href="` + html.EscapeString(u) + `">Incident page</a></p>`
	}
	return m
}
