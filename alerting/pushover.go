package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
	"github.com/watchpost/watchpost/config"
)

// Pushover sends through the Messages API with HTML on (log data
// escaped). Pushover has no threads: each message is its own.
type Pushover struct {
	name, api, token, user, device string
	subject, body                  *msgtmpl.Template
	client                         *http.Client
}

var (
	pushoverTitle = msgtmpl.MustParse("pushover subject", defaultSubject)
	// The message is at most 1024 characters: cut before escaping.
	pushoverText = msgtmpl.MustParse("pushover body", `{{ .Text | trunc 900 | html }}`)
)

// NewPushover checks a Pushover receiver.
func NewPushover(name string, c *config.Pushover) (*Pushover, error) {
	p := &Pushover{name: name, api: strings.TrimRight(cmpOr(c.APIURL, "https://api.pushover.net"), "/"),
		token: string(c.Token), user: string(c.User), device: c.Device, client: serviceClient()}
	var err error
	if p.subject, err = parseOptional("pushover.subject", c.Subject); err != nil {
		return nil, err
	}
	if p.body, err = parseOptional("pushover.body", c.Body); err != nil {
		return nil, err
	}
	return p, nil
}

// Describe implements Notifier.
func (p *Pushover) Describe() string { return "Pushover" }

// Notify implements Notifier.
func (p *Pushover) Notify(ctx context.Context, n Notification) (string, error) {
	a := n.Alert
	title, err := render(p.subject, pushoverTitle, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, pushover subject: %v", p.name, err)}
	}
	text, err := render(p.body, pushoverText, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, pushover body: %v", p.name, err)}
	}
	// Priority 1 (high) bypasses quiet hours; 2 (emergency) would need
	// acknowledging on the phone, which Watchpost's own ack replaces.
	prio := "0"
	switch {
	case a.State == "resolved":
		prio = "-1"
	case a.Severity == "critical":
		prio = "1"
	case a.Severity == "info":
		prio = "-1"
	}
	f := url.Values{"token": {p.token}, "user": {p.user}, "title": {clipRunes(msgtmpl.OneLine(title), 250)},
		"message": {clipRunes(strings.TrimSpace(text), 1024)}, "html": {"1"}, "priority": {prio}}
	if p.device != "" {
		f.Set("device", p.device)
	}
	if a.URL != "" && len(a.URL) <= 512 {
		f.Set("url", a.URL)
		f.Set("url_title", "Incident page")
	}
	if !a.Start.IsZero() {
		f.Set("timestamp", strconv.FormatInt(a.Start.Unix(), 10))
	}
	out, err := apiCall{receiver: p.name, service: "pushover", client: p.client, method: http.MethodPost, url: p.api + "/1/messages.json",
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body: []byte(f.Encode())}.do(ctx, pushoverError)
	if err != nil {
		return "", err
	}
	var reply struct {
		Status  int    `json:"status"`
		Request string `json:"request"`
	}
	if json.Unmarshal(out, &reply) != nil || reply.Status != 1 {
		return "", fmt.Errorf("receiver %s, pushover: unexpected answer %s", p.name, clipRunes(string(out), 200))
	}
	return "", nil
}

// pushoverError reads {"status": 0, "errors": ["application token is invalid"]}.
func pushoverError(body []byte) string {
	var e struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return strings.Join(e.Errors, "; ")
}
