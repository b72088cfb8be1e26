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

// Telegram sends through the Bot API's sendMessage in HTML parse mode
// (log data escaped), link previews off; an incident's later messages
// reply to its first, so a chat shows them together.
type Telegram struct {
	name, api, token, chat string
	subject, body          *msgtmpl.Template
	client                 *http.Client
}

var (
	telegramTitle = msgtmpl.MustParse("telegram subject", `{{ if eq .State "resolved" }}RESOLVED: {{ .Title | html }}{{ else }}{{ .Subject | html }}{{ end }}`)
	// 4096 characters is the limit after the markup is read: the text is
	// cut before it is escaped, so no entity or tag is cut in half.
	telegramText = msgtmpl.MustParse("telegram body", `{{ .Text | trunc 3500 | html }}{{ if .URL }}
<a href="{{ .URL | html }}">Incident page</a>{{ end }}`)
)

// NewTelegram checks a Telegram receiver.
func NewTelegram(name string, c *config.Telegram) (*Telegram, error) {
	t := &Telegram{name: name, api: strings.TrimRight(cmpOr(c.APIURL, "https://api.telegram.org"), "/"),
		token: string(c.BotToken), chat: c.ChatID, client: serviceClient()}
	var err error
	if t.subject, err = parseOptional("telegram.subject", c.Subject); err != nil {
		return nil, err
	}
	if t.body, err = parseOptional("telegram.body", c.Body); err != nil {
		return nil, err
	}
	return t, nil
}

// Describe implements Notifier.
func (t *Telegram) Describe() string { return "Telegram chat " + t.chat }

// Notify implements Notifier.
func (t *Telegram) Notify(ctx context.Context, n Notification) (string, error) {
	a := n.Alert
	title, err := render(t.subject, telegramTitle, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, telegram subject: %v", t.name, err)}
	}
	text, err := render(t.body, telegramText, a)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("receiver %s, telegram body: %v", t.name, err)}
	}
	msg := map[string]any{
		"chat_id":              t.chat,
		"text":                 "<b>" + strings.TrimSpace(title) + "</b>\n\n" + strings.TrimSpace(text),
		"parse_mode":           "HTML",
		"link_preview_options": map[string]any{"is_disabled": true},
	}
	if id, err := strconv.ParseInt(n.Thread, 10, 64); err == nil && id > 0 {
		msg["reply_parameters"] = map[string]any{"message_id": id, "allow_sending_without_reply": true}
	}
	// A resolution does not need to wake anyone.
	if a.State == "resolved" {
		msg["disable_notification"] = true
	}
	body, _ := json.Marshal(msg)
	out, err := apiCall{receiver: t.name, service: "telegram", client: t.client, method: http.MethodPost,
		url: t.api + "/bot" + t.token + "/sendMessage", header: http.Header{"Content-Type": {"application/json"}},
		body: body, secretURL: true}.do(ctx, telegramError)
	if err != nil {
		return "", err
	}
	var reply struct {
		OK     bool `json:"ok"`
		Result struct {
			MessageID int64 `json:"message_id"`
		} `json:"result"`
	}
	if json.Unmarshal(out, &reply) != nil || !reply.OK {
		return "", fmt.Errorf("receiver %s, telegram: unexpected answer %s", t.name, clipRunes(string(out), 200))
	}
	return strconv.FormatInt(reply.Result.MessageID, 10), nil
}

// telegramError reads the Bot API's {"ok": false, "description": "Bad
// Request: chat not found"} and its hint for a group that became a
// supergroup.
func telegramError(body []byte) string {
	var e struct {
		Description string `json:"description"`
		Parameters  struct {
			MigrateTo int64 `json:"migrate_to_chat_id"`
		} `json:"parameters"`
	}
	if json.Unmarshal(body, &e) != nil || e.Description == "" {
		return ""
	}
	if e.Parameters.MigrateTo != 0 {
		return fmt.Sprintf("%s (the group is now chat_id %d)", e.Description, e.Parameters.MigrateTo)
	}
	return e.Description
}
