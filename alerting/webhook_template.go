package alerting

import (
	"fmt"
	"sort"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
	"github.com/watchpost/watchpost/config"
)

// setTemplates makes the webhook's body and headers templates: any
// JSON API (a chat's incoming webhook, an incident tool) is then a
// configuration away.
func (w *Webhook) setTemplates(c *config.Webhook) error {
	var err error
	if w.body, err = parseOptional("webhook.body", c.Body); err != nil {
		return err
	}
	w.contentType = cmpOr(c.ContentType, "application/json")
	names := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t, err := msgtmpl.Parse("webhook.headers."+k, c.Headers[k], nil)
		if err != nil {
			return err
		}
		if w.headers == nil {
			w.headers = map[string]*msgtmpl.Template{}
		}
		w.headers[k] = t
	}
	return nil
}

// templated is the body, its type and the extra headers of one post: the
// JSON payload as it always was, or the templates' rendering.
func (w *Webhook) templated(p WebhookPayload, payload []byte) (contentType string, headers map[string]string, body []byte, err error) {
	contentType, body = "application/json", payload
	if p.alert == nil {
		return contentType, nil, body, nil
	}
	if w.body != nil {
		s, err := w.body.Execute(*p.alert)
		if err != nil {
			return "", nil, nil, &PermanentError{Msg: fmt.Sprintf("webhook body template: %v", err)}
		}
		contentType, body = w.contentType, []byte(s)
	}
	for k, t := range w.headers {
		s, err := t.Execute(*p.alert)
		if err != nil {
			return "", nil, nil, &PermanentError{Msg: fmt.Sprintf("webhook header %s template: %v", k, err)}
		}
		if headers == nil {
			headers = map[string]string{}
		}
		headers[k] = msgtmpl.OneLine(s)
	}
	return contentType, headers, body, nil
}

// withAlert gives a payload the alert object its templates see.
func (p WebhookPayload) withAlert(a *msgtmpl.Alert) WebhookPayload {
	p.alert = a
	return p
}
