package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
	"github.com/watchpost/watchpost/config"
)

// Gotify posts to a Gotify server's /message with an application token.
// Gotify has no threads and no updates: each message is its own.
type Gotify struct {
	name, server, token string
	subject, body       *msgtmpl.Template
	client              *http.Client
}

var (
	gotifyTitle = msgtmpl.MustParse("gotify title", defaultSubject)
	gotifyText  = msgtmpl.MustParse("gotify message", `{{ .Text }}`)
)

// NewGotify checks a Gotify receiver.
func NewGotify(name string, c *config.Gotify) (*Gotify, error) {
	g := &Gotify{name: name, server: strings.TrimRight(c.URL, "/"), token: string(c.Token), client: serviceClient()}
	var err error
	if g.subject, err = parseOptional("gotify.subject", c.Subject); err != nil {
		return nil, err
	}
	if g.body, err = parseOptional("gotify.body", c.Body); err != nil {
		return nil, err
	}
	return g, nil
}

// Describe implements Notifier.
func (g *Gotify) Describe() string { return "Gotify on " + g.server }

// Notify implements Notifier.
func (g *Gotify) Notify(ctx context.Context, n Notification) (string, error) {
	a := n.Alert
	title, err := render(g.subject, gotifyTitle, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, gotify subject: %v", g.name, err)}
	}
	text, err := render(g.body, gotifyText, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, gotify body: %v", g.name, err)}
	}
	// Priorities as Gotify's Android app reads them: 8 and up sound and
	// pop up, 4-7 sound, 1-3 only show.
	prio := 2
	switch {
	case a.State == "resolved":
	case a.Severity == "critical":
		prio = 8
	case a.Severity == "warning":
		prio = 5
	}
	extras := map[string]any{
		// Plain text: a log line's Markdown is shown as typed.
		"client::display": map[string]any{"contentType": "text/plain"},
	}
	if a.URL != "" {
		extras["client::notification"] = map[string]any{"click": map[string]any{"url": a.URL}}
	}
	body, _ := json.Marshal(map[string]any{"title": msgtmpl.OneLine(title), "message": text, "priority": prio, "extras": extras})
	out, err := apiCall{receiver: g.name, service: "gotify", client: g.client, method: http.MethodPost, url: g.server + "/message",
		header: http.Header{"Content-Type": {"application/json"}, "X-Gotify-Key": {g.token}}, body: body}.do(ctx, gotifyError)
	if err != nil {
		return "", err
	}
	var reply struct {
		ID int64 `json:"id"`
	}
	json.Unmarshal(out, &reply)
	if reply.ID == 0 {
		return "", nil
	}
	return strconv.FormatInt(reply.ID, 10), nil
}

// gotifyError reads Gotify's {"error": "Unauthorized", "errorDescription": "..."}.
func gotifyError(body []byte) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"errorDescription"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return ""
	}
	return e.Error + ": " + e.Description
}
