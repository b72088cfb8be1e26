package alerting

import (
	"encoding/json"
	"fmt"
)

// KindMonthlyReport is the outbox kind of a monthly report (package
// report queues it, already rendered).
const KindMonthlyReport = "monthly_report"

// ReportPayload is a monthly_report row's payload. Labels route it
// (source=report, severity=info by default), so a route matching
// source=report can send it to an email receiver only.
type ReportPayload struct {
	Month   string            `json:"month"` // 2026-10
	Subject string            `json:"subject"`
	Text    string            `json:"text"`
	HTML    string            `json:"html"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// renderReport is the message of a monthly_report row. Its Message-ID is
// fixed by the row, so every retry is the same message to the receiving
// clients.
func (d *Dispatcher) renderReport(r row) (Message, bool, error) {
	var p ReportPayload
	if err := json.Unmarshal(r.payload, &p); err != nil {
		return Message{}, false, err
	}
	if p.Text == "" {
		return Message{}, false, nil
	}
	return Message{Subject: headerSafe(p.Subject), Text: p.Text, HTML: p.HTML,
		MessageID: fmt.Sprintf("watchpost.report.%s.%d@%s", idSafe(p.Month), r.id, d.cfg.Hostname)}, true, nil
}
