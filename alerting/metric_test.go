package alerting

import (
	"strings"
	"testing"
	"time"
)

func TestRenderMetricThreads(t *testing.T) {
	d := New(nil, Config{Hostname: "loghost.example.org"})
	since := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	raise := metricEvent{Host: "web1", Graph: "df", GraphTitle: "Disk usage in percent", Field: "_dev_sda1", Label: "/",
		From: "ok", To: "critical", Value: 98.7, Range: "98", Time: since, Since: since}
	m1 := renderMetric(raise, d.thresholdThread(raise), "own1@x")
	clear := raise
	clear.From, clear.To, clear.Value, clear.Time = "critical", "ok", 80, since.Add(time.Hour)
	m2 := renderMetric(clear, d.thresholdThread(clear), "own2@x")
	if m1.MessageID != "watchpost.metric.web1.df._dev_sda1.1795575600@loghost.example.org" || m1.InReplyTo != "" {
		t.Errorf("root: %q %q", m1.MessageID, m1.InReplyTo)
	}
	if m2.InReplyTo != m1.MessageID || m2.MessageID != "own2@x" || m2.Subject != m1.Subject {
		t.Errorf("recovery does not thread: %+v", m2)
	}
	if !strings.Contains(m1.Text, "CRITICAL") || !strings.Contains(m1.Text, "outside 98") || !strings.Contains(m2.Text, "back inside") {
		t.Errorf("texts:\n%s\n%s", m1.Text, m2.Text)
	}
	evil := raise
	evil.Label = "x\r\nBcc: a@b <script>"
	m3 := renderMetric(evil, d.thresholdThread(evil), "own3@x")
	if strings.ContainsAny(m3.Subject, "\r\n") || strings.Contains(m3.HTML, "<script>") {
		t.Errorf("hostile label leaks: %q %q", m3.Subject, m3.HTML)
	}
}
