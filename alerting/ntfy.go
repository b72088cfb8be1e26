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

// Ntfy publishes to an ntfy topic with its JSON publishing API: the
// severity sets priority and tags, a tap opens the incident's page, and
// the messages of one incident share a sequence id, so that ntfy 2.16 or
// later replaces the outage's notification with its recovery (older
// servers show both).
type Ntfy struct {
	name, server, topic string
	auth                string // the Authorization header
	markdown            bool
	subject, body       *msgtmpl.Template
	client              *http.Client
}

var (
	ntfyTitle = msgtmpl.MustParse("ntfy title", defaultSubject)
	ntfyText  = msgtmpl.MustParse("ntfy message", `{{ .Text }}`)
	ntfyMD    = msgtmpl.MustParse("ntfy message", `{{ .Text | markdown }}`)
)

// NewNtfy checks an ntfy receiver.
func NewNtfy(name string, c *config.Ntfy) (*Ntfy, error) {
	n := &Ntfy{name: name, server: strings.TrimRight(cmpOr(c.URL, "https://ntfy.sh"), "/"), topic: c.Topic,
		markdown: c.Markdown, client: serviceClient()}
	switch {
	case c.Token != "":
		n.auth = "Bearer " + string(c.Token)
	case c.Username != "":
		req, _ := http.NewRequest("GET", "http://x", nil)
		req.SetBasicAuth(c.Username, string(c.Password))
		n.auth = req.Header.Get("Authorization")
	}
	var err error
	if n.subject, err = parseOptional("ntfy.subject", c.Subject); err != nil {
		return nil, err
	}
	if n.body, err = parseOptional("ntfy.body", c.Body); err != nil {
		return nil, err
	}
	return n, nil
}

// Describe implements Notifier.
func (n *Ntfy) Describe() string { return fmt.Sprintf("ntfy topic %s on %s", n.topic, n.server) }

// Notify implements Notifier.
func (n *Ntfy) Notify(ctx context.Context, no Notification) (string, error) {
	a := no.Alert
	title, err := render(n.subject, ntfyTitle, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, ntfy subject: %v", n.name, err)}
	}
	def := ntfyText
	if n.markdown {
		def = ntfyMD
	}
	text, err := render(n.body, def, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, ntfy body: %v", n.name, err)}
	}
	msg := map[string]any{
		"topic":    n.topic,
		"title":    clipRunes(msgtmpl.OneLine(title), 250),
		"message":  clipRunes(text, 3800), // ntfy turns a longer message into an attachment
		"priority": ntfyPriority(a),
		"tags":     ntfyTags(a),
	}
	if n.markdown {
		msg["markdown"] = true
	}
	if a.URL != "" {
		msg["click"] = a.URL
	}
	if a.Incident > 0 {
		msg["sequence_id"] = fmt.Sprintf("watchpost-%d", a.Incident)
	}
	body, _ := json.Marshal(msg)
	h := http.Header{"Content-Type": {"application/json"}}
	if n.auth != "" {
		h.Set("Authorization", n.auth)
	}
	out, err := apiCall{receiver: n.name, service: "ntfy", client: n.client, method: http.MethodPost, url: n.server + "/",
		header: h, body: body}.do(ctx, ntfyError)
	if err != nil {
		return "", err
	}
	var reply struct {
		ID string `json:"id"`
	}
	json.Unmarshal(out, &reply)
	return reply.ID, nil
}

// ntfyPriority: 5 (urgent: a long vibration) for what is critical and
// firing, 4 for warnings, 3 (default) for the rest and every recovery.
func ntfyPriority(a msgtmpl.Alert) int {
	switch {
	case a.State == "resolved":
		return 3
	case a.Severity == "critical":
		return 5
	case a.Severity == "warning":
		return 4
	}
	return 3
}

// ntfyTags are emoji short codes ntfy shows before the title.
func ntfyTags(a msgtmpl.Alert) []string {
	switch {
	case a.State == "resolved":
		return []string{"white_check_mark"}
	case a.Severity == "critical":
		return []string{"rotating_light"}
	case a.Severity == "warning":
		return []string{"warning"}
	}
	return []string{"information_source"}
}

// ntfyError reads ntfy's {"code": 40301, "error": "forbidden"}.
func ntfyError(body []byte) string {
	var e struct {
		Code  int    `json:"code"`
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return ""
	}
	return fmt.Sprintf("%s (code %d)", e.Error, e.Code)
}
