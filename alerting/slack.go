package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
	"github.com/watchpost/watchpost/config"
)

// Slack posts to an incoming webhook: a header block with the subject, a
// section with the text (mrkdwn, escaped), a link to the incident, and a
// plain fallback for notifications. An incoming webhook answers only
// "ok": it gives no message timestamp, so Slack messages are neither
// threaded nor updated (that needs a bot token and chat.postMessage).
type Slack struct {
	name, url     string
	subject, body *msgtmpl.Template
	client        *http.Client
}

var (
	slackTitle = msgtmpl.MustParse("slack subject", defaultSubject)
	slackText  = msgtmpl.MustParse("slack body", `{{ .Text | slack }}`)
)

// NewSlack checks a Slack receiver.
func NewSlack(name string, c *config.Slack) (*Slack, error) {
	s := &Slack{name: name, url: string(c.WebhookURL), client: serviceClient()}
	var err error
	if s.subject, err = parseOptional("slack.subject", c.Subject); err != nil {
		return nil, err
	}
	if s.body, err = parseOptional("slack.body", c.Body); err != nil {
		return nil, err
	}
	return s, nil
}

// Describe implements Notifier.
func (s *Slack) Describe() string { return "Slack webhook " + RedactURL(s.url) }

// Notify implements Notifier.
func (s *Slack) Notify(ctx context.Context, n Notification) (string, error) {
	a := n.Alert
	title, err := render(s.subject, slackTitle, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, slack subject: %v", s.name, err)}
	}
	text, err := render(s.body, slackText, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, slack body: %v", s.name, err)}
	}
	title = msgtmpl.OneLine(title)
	text = strings.TrimSpace(text)
	// Block limits: a header's text 150 characters, a section's 3000.
	blocks := []any{
		map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": clipRunes(title, 150)}},
	}
	if text != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": clipRunes(text, 3000)}})
	}
	if a.URL != "" {
		blocks = append(blocks, map[string]any{"type": "context", "elements": []any{
			map[string]any{"type": "mrkdwn", "text": "<" + msgtmpl.Slack(a.URL) + "|Incident page>"}}})
	}
	body, _ := json.Marshal(map[string]any{
		"text":   msgtmpl.Slack(title), // the notification's text, and what old clients show
		"blocks": blocks,
		// A link in a log line must not unfurl into a preview.
		"unfurl_links": false, "unfurl_media": false,
	})
	_, err = apiCall{receiver: s.name, service: "slack", client: s.client, method: http.MethodPost, url: s.url,
		header: http.Header{"Content-Type": {"application/json"}}, body: body, secretURL: true}.do(ctx, nil)
	return "", err
}
