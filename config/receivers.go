package config

// Services are the chat and push receivers besides email, Matrix and the
// webhook. Each may give its message a subject and a body as Go
// text/template over the alert object (docs/CONFIG.md, "Message
// templates"); left out, the receiver's own layout is used.
type Services struct {
	Ntfy     *Ntfy     `yaml:"ntfy"`
	Gotify   *Gotify   `yaml:"gotify"`
	Slack    *Slack    `yaml:"slack"`
	Discord  *Discord  `yaml:"discord"`
	Telegram *Telegram `yaml:"telegram"`
	Pushover *Pushover `yaml:"pushover"`
}

// Any reports whether any service is configured.
func (s Services) Any() bool {
	return s.Ntfy != nil || s.Gotify != nil || s.Slack != nil || s.Discord != nil || s.Telegram != nil || s.Pushover != nil
}

// Ntfy publishes to an ntfy topic (https://ntfy.sh or a server of one's
// own): priority and tags follow the severity, a tap opens the incident.
type Ntfy struct {
	URL      string `yaml:"url"` // the server; https://ntfy.sh when left out
	Topic    string `yaml:"topic"`
	Token    Secret `yaml:"token"` // an access token (tk_...), or
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	Subject  string `yaml:"subject"` // template of the title
	Body     string `yaml:"body"`    // template of the message
	Markdown bool   `yaml:"markdown"`
}

// Gotify posts to a Gotify server with an application token.
type Gotify struct {
	URL     string `yaml:"url"`
	Token   Secret `yaml:"token"`
	Subject string `yaml:"subject"`
	Body    string `yaml:"body"`
}

// Slack posts to an incoming webhook (blocks with a plain-text fallback).
type Slack struct {
	WebhookURL Secret `yaml:"webhook_url"`
	Subject    string `yaml:"subject"`
	Body       string `yaml:"body"` // Slack mrkdwn
}

// Discord posts an embed to a channel webhook; a recovery also marks the
// outage's message resolved.
type Discord struct {
	WebhookURL Secret `yaml:"webhook_url"`
	Username   string `yaml:"username"`
	Subject    string `yaml:"subject"`
	Body       string `yaml:"body"` // Discord Markdown
}

// Telegram sends through a bot to a chat, in HTML parse mode; follow-ups
// reply to the incident's first message.
type Telegram struct {
	BotToken Secret `yaml:"bot_token"`
	ChatID   string `yaml:"chat_id"`
	APIURL   string `yaml:"api_url"` // https://api.telegram.org when left out
	Subject  string `yaml:"subject"`
	Body     string `yaml:"body"` // Telegram HTML
}

// Pushover sends to a user or group key through an application token.
type Pushover struct {
	Token   Secret `yaml:"token"`
	User    Secret `yaml:"user"`
	Device  string `yaml:"device"`
	APIURL  string `yaml:"api_url"` // https://api.pushover.net when left out
	Subject string `yaml:"subject"`
	Body    string `yaml:"body"` // Pushover HTML
}
