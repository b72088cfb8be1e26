package alerting

import (
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"
)

// metricEvent is a metric field changing level (thresholds.Event), the
// payload of outbox rows of kind metric_threshold.
type metricEvent struct {
	Host       string    `json:"host"`
	Graph      string    `json:"graph"`
	GraphTitle string    `json:"graph_title"`
	Field      string    `json:"field"`
	Label      string    `json:"label"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Value      float64   `json:"value"`
	Range      string    `json:"range"`
	Time       time.Time `json:"time"`
	Since      time.Time `json:"since"`
}

// thresholdThread is the Message-ID the messages of one episode of a
// field (left ok at Since) share as their thread root, so warning,
// critical and recovery thread together.
func (d *Dispatcher) thresholdThread(ev metricEvent) string {
	name := strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '<' || r == '>' || r == '@' {
			return '_'
		}
		return r
	}, ev.Host+"."+ev.Graph+"."+ev.Field)
	return fmt.Sprintf("watchpost.metric.%s.%d@%s", name, ev.Since.Unix(), d.cfg.Hostname)
}

func renderMetric(ev metricEvent, thread, ownID string) Message {
	what := ev.Label
	if what == "" {
		what = ev.Field
	}
	title := ev.GraphTitle
	if title == "" {
		title = ev.Graph
	}
	// One subject per field, so that mail clients thread its changes.
	subject := headerSafe(fmt.Sprintf("[watchpost] %s: %s %s", ev.Host, title, what))
	val := strconv.FormatFloat(ev.Value, 'g', 6, 64)
	var text string
	if ev.To == "ok" {
		text = fmt.Sprintf("%s on %s (%s) is back inside its range at %s: %s (was %s).\n",
			what, ev.Host, title, ev.Time.UTC().Format(time.RFC1123), val, strings.ToUpper(ev.From))
	} else {
		text = fmt.Sprintf("%s on %s (%s) is %s since %s: %s, outside %s (was %s).\n",
			what, ev.Host, title, strings.ToUpper(ev.To), ev.Time.UTC().Format(time.RFC1123), val, ev.Range, ev.From)
	}
	text += fmt.Sprintf("\nGraph: /admin/hosts/%s/%s\n", ev.Host, ev.Graph)
	m := Message{Subject: subject, Text: text, MessageID: ownID, InReplyTo: thread,
		HTML: "<pre>" + html.EscapeString(text) + "</pre>"}
	if ev.From == "ok" {
		m.MessageID, m.InReplyTo = thread, ""
	}
	return m
}
