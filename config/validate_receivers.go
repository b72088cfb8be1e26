package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strings"
)

var (
	ntfyTopicRE     = sized(`^[-_A-Za-z0-9]+$`, 1, 64)
	telegramTokenRE = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]{20}[A-Za-z0-9_-]*$`)
	telegramChatRE  = regexp.MustCompile(`^(-?[0-9]+|@[A-Za-z][A-Za-z0-9_]{3,})$`)
	pushoverKeyRE   = sized(`^[A-Za-z0-9]+$`, 30, 30)
	headerNameRE    = regexp.MustCompile(`^[!#$%&'*+.^_|~0-9A-Za-z-]+$`)
)

// validateTemplates parses every message template of every receiver and
// runs it against sample alerts, so that a mistake is found by `config
// check` with its place in the file, not by a failed delivery.
func (c *Config) validateTemplates(p *positions) {
	a := &c.Alerting
	validDestTemplates(p, "alerting", a.Email, a.Matrix, a.Webhook)
	validServices(p, "alerting", a.Services)
	for _, name := range sortedKeys(a.Receivers) {
		r := a.Receivers[name]
		key := "alerting.receivers." + name
		validDestTemplates(p, key, r.Email, r.Matrix, r.Webhook)
		validServices(p, key, r.Services)
	}
}

func validDestTemplates(p *positions, key string, e *Email, m *Matrix, w *Webhook) {
	if e != nil {
		validTemplate(p, key+".email.subject", e.Subject, oneLine)
		validTemplate(p, key+".email.body", e.Body, nil)
	}
	if m != nil {
		validTemplate(p, key+".matrix.body", m.Body, nil)
		validTemplate(p, key+".matrix.html", m.HTML, nil)
	}
	if w != nil {
		ct := w.ContentType
		if ct == "" {
			ct = "application/json"
		}
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			p.add(key+".webhook.content_type", "not a media type: %v", err)
		}
		if w.ContentType != "" && w.Body == "" {
			p.add(key+".webhook.content_type", "only with a body template (the default body is JSON)")
		}
		var check func(string) error
		if mt == "application/json" || strings.HasSuffix(mt, "+json") {
			check = func(out string) error {
				if !json.Valid([]byte(out)) {
					return fmt.Errorf("the body is not JSON (use the json helper for values: {{ .Subject | json }}): %s", clip(out))
				}
				return nil
			}
		}
		validTemplate(p, key+".webhook.body", w.Body, check)
		for _, h := range sortedKeys(w.Headers) {
			hk := key + ".webhook.headers." + h
			if !headerNameRE.MatchString(h) {
				p.add(hk, "not a header name")
				continue
			}
			switch http.CanonicalHeaderKey(h) {
			case "Content-Type", "Content-Length", "Host", "X-Watchpost-Signature", "X-Watchpost-Delivery":
				p.add(hk, "set by Watchpost (use content_type for the body's type)")
				continue
			}
			validTemplate(p, hk, w.Headers[h], headerValue)
		}
	}
}

func validServices(p *positions, key string, s Services) {
	if n := s.Ntfy; n != nil {
		k := key + ".ntfy"
		if n.URL != "" {
			validURL(p, k+".url", n.URL)
		}
		if !ntfyTopicRE.MatchString(n.Topic) {
			p.add(k+".topic", "want a topic name (letters, digits, - and _, at most 64), got %q", n.Topic)
		}
		if n.Token != "" && (n.Username != "" || n.Password != "") {
			p.add(k+".token", "give a token or a username and password, not both")
		}
		if (n.Username == "") != (n.Password == "") {
			p.add(k+".username", "give username and password together")
		}
		validTemplate(p, k+".subject", n.Subject, oneLine)
		validTemplate(p, k+".body", n.Body, nil)
	}
	if g := s.Gotify; g != nil {
		k := key + ".gotify"
		if g.URL == "" {
			p.add(k+".url", "missing (the Gotify server, https://gotify.example.org)")
		} else {
			validURL(p, k+".url", g.URL)
		}
		if g.Token == "" {
			p.add(k+".token", "missing (an application token, from the Gotify web UI's Apps)")
		}
		validTemplate(p, k+".subject", g.Subject, oneLine)
		validTemplate(p, k+".body", g.Body, nil)
	}
	if sl := s.Slack; sl != nil {
		k := key + ".slack"
		if sl.WebhookURL == "" {
			p.add(k+".webhook_url", "missing (an incoming webhook, https://hooks.slack.com/services/...)")
		} else {
			validURL(p, k+".webhook_url", string(sl.WebhookURL))
		}
		validTemplate(p, k+".subject", sl.Subject, oneLine)
		validTemplate(p, k+".body", sl.Body, nil)
	}
	if d := s.Discord; d != nil {
		k := key + ".discord"
		if d.WebhookURL == "" {
			p.add(k+".webhook_url", "missing (a channel webhook, https://discord.com/api/webhooks/ID/TOKEN)")
		} else {
			validURL(p, k+".webhook_url", string(d.WebhookURL))
		}
		validTemplate(p, k+".subject", d.Subject, oneLine)
		validTemplate(p, k+".body", d.Body, nil)
	}
	if t := s.Telegram; t != nil {
		k := key + ".telegram"
		if !telegramTokenRE.MatchString(string(t.BotToken)) {
			p.add(k+".bot_token", "want the token @BotFather gave (123456:ABC...)")
		}
		if !telegramChatRE.MatchString(t.ChatID) {
			p.add(k+".chat_id", "want a chat id (-1001234567890) or a channel's @username, got %q", t.ChatID)
		}
		if t.APIURL != "" {
			validURL(p, k+".api_url", t.APIURL)
		}
		validTemplate(p, k+".subject", t.Subject, oneLine)
		validTemplate(p, k+".body", t.Body, nil)
	}
	if po := s.Pushover; po != nil {
		k := key + ".pushover"
		if !pushoverKeyRE.MatchString(string(po.Token)) {
			p.add(k+".token", "want the application's API token (30 letters and digits)")
		}
		if !pushoverKeyRE.MatchString(string(po.User)) {
			p.add(k+".user", "want a user or group key (30 letters and digits)")
		}
		if po.APIURL != "" {
			validURL(p, k+".api_url", po.APIURL)
		}
		validTemplate(p, k+".subject", po.Subject, oneLine)
		validTemplate(p, k+".body", po.Body, nil)
	}
}

func oneLine(out string) error {
	if strings.ContainsAny(strings.TrimRight(out, "\n"), "\r\n") {
		return errors.New("a subject is one line (use oneline to fold a value: {{ .Line | oneline }})")
	}
	return nil
}

func headerValue(out string) error {
	if strings.ContainsAny(out, "\r\n\x00") {
		return errors.New("a header value is one line (use oneline to fold a value)")
	}
	return nil
}

func clip(s string) string {
	if len(s) > 120 {
		return fmt.Sprintf("%q...", s[:120])
	}
	return fmt.Sprintf("%q", s)
}

// indent is the number of leading spaces of a line of the file (1-based).
func (p *positions) indent(line int) int {
	lines := strings.Split(string(p.data), "\n")
	if line < 1 || line > len(lines) {
		return 0
	}
	l := lines[line-1]
	return len(l) - len(strings.TrimLeft(l, " "))
}
