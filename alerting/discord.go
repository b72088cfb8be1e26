package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
	"github.com/watchpost/watchpost/config"
)

// Discord posts an embed through a channel webhook (?wait=true, so the
// message's id comes back). A recovery is its own message, and the
// outage's message is edited to say it is resolved. Mentions are off:
// an @everyone in a log line pings nobody.
type Discord struct {
	name, url, username string
	subject, body       *msgtmpl.Template
	client              *http.Client
}

var (
	discordTitle = msgtmpl.MustParse("discord subject", `{{ if eq .State "resolved" }}RESOLVED: {{ .Title | markdown }}{{ else }}{{ .Subject | markdown }}{{ end }}`)
	discordText  = msgtmpl.MustParse("discord body", `{{ .Text | markdown }}`)
)

// Embed colours: red, amber, blue, green.
const (
	discordRed   = 0xE74C3C
	discordAmber = 0xF1C40F
	discordBlue  = 0x3498DB
	discordGreen = 0x2ECC71
)

// NewDiscord checks a Discord receiver.
func NewDiscord(name string, c *config.Discord) (*Discord, error) {
	d := &Discord{name: name, url: string(c.WebhookURL), username: c.Username, client: serviceClient()}
	var err error
	if d.subject, err = parseOptional("discord.subject", c.Subject); err != nil {
		return nil, err
	}
	if d.body, err = parseOptional("discord.body", c.Body); err != nil {
		return nil, err
	}
	return d, nil
}

// Describe implements Notifier.
func (d *Discord) Describe() string { return "Discord webhook " + RedactURL(d.url) }

func discordColor(a msgtmpl.Alert) int {
	switch {
	case a.State == "resolved":
		return discordGreen
	case a.Severity == "critical":
		return discordRed
	case a.Severity == "warning":
		return discordAmber
	}
	return discordBlue
}

// Notify implements Notifier.
func (d *Discord) Notify(ctx context.Context, n Notification) (string, error) {
	a := n.Alert
	title, err := render(d.subject, discordTitle, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, discord subject: %v", d.name, err)}
	}
	text, err := render(d.body, discordText, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, discord body: %v", d.name, err)}
	}
	// Embed limits: title 256 characters, description 4096.
	embed := map[string]any{"title": clipRunes(msgtmpl.OneLine(title), 256), "description": clipRunes(strings.TrimSpace(text), 4096),
		"color": discordColor(a)}
	if a.URL != "" {
		embed["url"] = a.URL
	}
	if !a.Start.IsZero() {
		embed["timestamp"] = a.Start.UTC().Format("2006-01-02T15:04:05Z")
	}
	msg := map[string]any{"embeds": []any{embed}, "allowed_mentions": map[string]any{"parse": []string{}}}
	if d.username != "" {
		msg["username"] = d.username
	}
	body, _ := json.Marshal(msg)
	out, err := d.call(ctx, http.MethodPost, d.withQuery("", "wait=true"), body)
	if err != nil {
		return "", err
	}
	var reply struct {
		ID string `json:"id"`
	}
	json.Unmarshal(out, &reply)
	if a.State == "resolved" && n.Thread != "" {
		// Mark the outage's message resolved; the recovery is sent
		// already, so a failure here costs only the colour.
		d.markResolved(ctx, n.Thread, a)
	}
	return reply.ID, nil
}

// markResolved edits the message that opened the incident: the same
// embed, turned green, its title saying it is resolved. Discord replaces
// embeds whole, so the message is read first.
func (d *Discord) markResolved(ctx context.Context, id string, a msgtmpl.Alert) {
	path := d.withQuery("/messages/"+url.PathEscape(id), "")
	out, err := d.call(ctx, http.MethodGet, path, nil)
	if err != nil {
		return
	}
	var msg struct {
		Embeds []map[string]any `json:"embeds"`
	}
	if json.Unmarshal(out, &msg) != nil || len(msg.Embeds) == 0 {
		return
	}
	e := msg.Embeds[0]
	title, _ := e["title"].(string)
	if strings.HasPrefix(title, "Resolved") {
		return // a retry after the edit went through
	}
	e["title"] = clipRunes("Resolved after "+msgtmpl.Duration(a.Duration)+": "+title, 256)
	e["color"] = discordGreen
	for _, k := range []string{"type", "provider", "video", "thumbnail", "image"} {
		delete(e, k) // fields Discord fills in itself
	}
	edit, _ := json.Marshal(map[string]any{"embeds": msg.Embeds[:1], "allowed_mentions": map[string]any{"parse": []string{}}})
	d.call(ctx, http.MethodPatch, path, edit)
}

// withQuery adds a path and a query to the webhook URL (which may carry
// a ?thread_id= of its own).
func (d *Discord) withQuery(path, q string) string {
	u, err := url.Parse(d.url)
	if err != nil {
		return d.url
	}
	u.Path = strings.TrimRight(u.Path, "/") + path
	if q != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += q
	}
	return u.String()
}

func (d *Discord) call(ctx context.Context, method, u string, body []byte) ([]byte, error) {
	return apiCall{receiver: d.name, service: "discord", client: d.client, method: method, url: u,
		header: http.Header{"Content-Type": {"application/json"}}, body: body, secretURL: true}.do(ctx, discordError)
}

// discordError reads Discord's {"message": "Unknown Webhook", "code": 10015}.
func discordError(body []byte) string {
	var e struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	}
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return ""
	}
	return fmt.Sprintf("%s (code %d)", e.Message, e.Code)
}
