package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadString(t *testing.T, yml string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "loghost.yml")
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

func TestServicesRead(t *testing.T) {
	c, err := loadString(t, `
alerting:
  ntfy: {topic: ops-alerts, token: tk_abc}
  receivers:
    chat:
      slack: {webhook_url: "https://hooks.slack.com/services/T0/B0/x"}
      discord: {webhook_url: "https://discord.com/api/webhooks/1/abc", username: watchpost}
      telegram: {bot_token: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ", chat_id: "-1001234567890"}
      pushover: {token: azGDORePK8gMaC0QOYAMyEEuzJnyUi, user: uQiRzpo4DXghDmr9QzzfQu27cmVRsG}
      gotify: {url: "https://gotify.example.org", token: AbCdEf}
      webhook:
        url: https://example.org/hook
        body: '{"text": {{ .Subject | json }}, "sev": {{ .Severity | json }}}'
        headers: {X-Title: "{{ .Subject | oneline }}"}
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Alerting.Ntfy == nil || c.Alerting.Ntfy.Topic != "ops-alerts" {
		t.Errorf("ntfy at alerting: %+v", c.Alerting.Services)
	}
	r := c.Alerting.Receivers["chat"]
	if r.Slack == nil || r.Discord.Username != "watchpost" || r.Telegram.ChatID != "-1001234567890" || r.Pushover == nil || r.Gotify == nil {
		t.Errorf("receiver services: %+v", r.Services)
	}
}

// A template mistake is a configuration error at its line and column,
// every one of them in one run.
func TestTemplateErrorsPlaced(t *testing.T) {
	_, err := loadString(t, `alerting:
  receivers:
    chat:
      ntfy:
        topic: ops
        subject: "{{ .Sevrity }} {{ .Subject }}"
        body: |
          fine line {{ .Subject }}
          bad {{ .Labels.host | nosuch }}
      webhook:
        url: https://example.org/hook
        body: '{"text": {{ .Subject }}}'
      telegram: {bot_token: "123", chat_id: "x y"}
`)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`loghost.yml:6:21: alerting.receivers.chat.ntfy.subject:`, `can't evaluate field Sevrity`,
		`loghost.yml:9:11: alerting.receivers.chat.ntfy.body:`, `function "nosuch" not defined`,
		`loghost.yml:12:15: alerting.receivers.chat.webhook.body:`, `not JSON`,
		`alerting.receivers.chat.telegram.bot_token`, `alerting.receivers.chat.telegram.chat_id`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

func TestTemplateHeaderNotOneLine(t *testing.T) {
	_, err := loadString(t, `alerting:
  webhook:
    url: https://example.org/hook
    secret: 0123456789abcdef0123
    headers: {X-Line: "{{ .Text }}", Content-Type: text/plain}
`)
	if err == nil || !strings.Contains(err.Error(), "header value is one line") || !strings.Contains(err.Error(), "set by Watchpost") {
		t.Fatalf("got %v", err)
	}
}

// TestDomainExpiryHTTPChecks: each http check's registrable domain gets
// one domain check, none for an address or a domain already watched.
func TestDomainExpiryHTTPChecks(t *testing.T) {
	c, err := loadString(t, `
domain_expiry: {http_checks: 30d}
checks:
  - {name: wiki, type: http, target: "https://wiki.example.org/"}
  - {name: shop, type: http, target: "https://shop.example.org/cart"}
  - {name: blog, type: http, target: "https://www.example.co.uk/"}
  - {name: local, type: http, target: "http://127.0.0.1:8080/"}
  - {name: mine, type: domain, target: example.co.uk}
`)
	if err != nil {
		t.Fatal(err)
	}
	var added []string
	for _, ch := range c.Checks[5:] {
		added = append(added, ch.Name+" "+strings.Join(ch.Conditions, ","))
	}
	if strings.Join(added, "; ") != "domain example.org domain_expires_in > 30d" {
		t.Errorf("added %q", added)
	}
	if _, err := loadString(t, "domain_expiry: {http_checks: 2h}\n"); err == nil || !strings.Contains(err.Error(), "want days") {
		t.Errorf("2h: %v", err)
	}
}
