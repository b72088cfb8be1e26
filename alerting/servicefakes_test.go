package alerting

// Fakes of the chat and push services that cannot run here, faithful to
// their documentation: each checks every field its API documents as
// required or bounded, answers with the documented errors (status and
// body), and rate limits the way the service says it does. Each keeps
// what a person would see: the text after the service read its markup.

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// fakeService is what the fakes share: a lock, a switch to answer the
// next request with 429 and a record of requests.
type fakeService struct {
	mu        sync.Mutex
	limitNext int // answer this many next requests with 429
	requests  int
}

func (f *fakeService) limited() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if f.limitNext > 0 {
		f.limitNext--
		return true
	}
	return false
}

func fakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// ---- Slack incoming webhooks ----
// https://api.slack.com/messaging/webhooks: POST JSON; text or blocks;
// errors are plain-text bodies (invalid_payload, no_text, invalid_blocks,
// no_service, channel_is_archived, action_prohibited); 429 with
// Retry-After beyond one message per second.

type slackMsg struct {
	Fallback string
	Header   string
	Sections []string // each as displayed
	Links    []string // link targets the message holds
	Mentions []string // <!channel>, <@U..> control sequences
}

type fakeSlack struct {
	fakeService
	path string
	msgs []slackMsg
}

func newFakeSlack(t *testing.T) (*fakeSlack, *httptest.Server) {
	f := &fakeSlack{path: "/services/T000/B000/XXXXXXXXXXXXXXXX"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != f.path {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "no_service")
		return
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if f.limited() {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, "rate_limited")
		return
	}
	var p struct {
		Text   *string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Elements []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	body, _ := io.ReadAll(r.Body)
	bad := func(code string) { w.WriteHeader(http.StatusBadRequest); io.WriteString(w, code) }
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || json.Unmarshal(body, &p) != nil {
		bad("invalid_payload")
		return
	}
	if (p.Text == nil || *p.Text == "") && len(p.Blocks) == 0 {
		bad("no_text")
		return
	}
	if len(p.Blocks) > 50 {
		bad("invalid_blocks")
		return
	}
	var m slackMsg
	if p.Text != nil {
		m.Fallback = f.display(&m, *p.Text)
	}
	for _, b := range p.Blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || b.Text.Text == "" || utf8.RuneCountInString(b.Text.Text) > 150 {
				bad("invalid_blocks")
				return
			}
			m.Header = b.Text.Text
		case "section":
			if b.Text == nil || (b.Text.Type != "mrkdwn" && b.Text.Type != "plain_text") || b.Text.Text == "" || utf8.RuneCountInString(b.Text.Text) > 3000 {
				bad("invalid_blocks")
				return
			}
			if b.Text.Type == "mrkdwn" {
				m.Sections = append(m.Sections, f.display(&m, b.Text.Text))
			} else {
				m.Sections = append(m.Sections, b.Text.Text)
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				bad("invalid_blocks")
				return
			}
			for _, e := range b.Elements {
				f.display(&m, e.Text)
			}
		default:
			bad("invalid_blocks")
			return
		}
	}
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	f.mu.Unlock()
	io.WriteString(w, "ok")
}

var slackControl = regexp.MustCompile(`<([^<>]*)>`)

// display reads mrkdwn as Slack does: <...> are control sequences
// (links, mentions); &amp; &lt; &gt; are the only entities.
func (f *fakeSlack) display(m *slackMsg, s string) string {
	s = slackControl.ReplaceAllStringFunc(s, func(c string) string {
		in := c[1 : len(c)-1]
		switch {
		case strings.HasPrefix(in, "!") || strings.HasPrefix(in, "@") || strings.HasPrefix(in, "#"):
			m.Mentions = append(m.Mentions, in)
			return ""
		default:
			target, label, _ := strings.Cut(in, "|")
			m.Links = append(m.Links, target)
			return label
		}
	})
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "\u200b", "").Replace(s)
}

// ---- Discord webhooks ----
// https://discord.com/developers/docs/resources/webhook#execute-webhook:
// content, embeds, components, file or poll required; content <= 2000,
// 10 embeds, title <= 256, description <= 4096, all embeds <= 6000;
// username without "discord" or "clyde"; ?wait=true returns the message.
// Errors {"message", "code"}: 10015 Unknown Webhook, 10008 Unknown
// Message, 50006 Cannot send an empty message, 50035 Invalid Form Body.
// 429 {"message", "retry_after", "global"} with Retry-After.

type discordEmbed struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	URL         string `json:"url"`
	Color       int    `json:"color"`
	Timestamp   string `json:"timestamp"`
}

type discordMsg struct {
	ID       string
	Content  string
	Embeds   []discordEmbed
	Pings    bool // whether a mention in it would notify anyone
	Username string
	Edited   bool
	Original []discordEmbed // before the edit
}

type fakeDiscord struct {
	fakeService
	id, token string
	msgs      []*discordMsg
}

func newFakeDiscord(t *testing.T) (*fakeDiscord, *httptest.Server) {
	f := &fakeDiscord{id: "112233445566778899", token: "tok-en_ABC"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeDiscord) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	base := "/api/webhooks/" + f.id + "/" + f.token
	if !strings.HasPrefix(r.URL.Path, base) {
		fakeJSON(w, http.StatusNotFound, map[string]any{"message": "Unknown Webhook", "code": 10015})
		return
	}
	if f.limited() {
		w.Header().Set("Retry-After", "2")
		w.Header().Set("X-RateLimit-Remaining", "0")
		fakeJSON(w, http.StatusTooManyRequests, map[string]any{"message": "You are being rate limited.", "retry_after": 1.5, "global": false})
		return
	}
	var p struct {
		Content         string         `json:"content"`
		Username        string         `json:"username"`
		Embeds          []discordEmbed `json:"embeds"`
		AllowedMentions *struct {
			Parse []string `json:"parse"`
		} `json:"allowed_mentions"`
	}
	body, _ := io.ReadAll(r.Body)
	if r.Method == http.MethodGet {
		body = []byte(`{"content": "-"}`)
	}
	if json.Unmarshal(body, &p) != nil {
		fakeJSON(w, http.StatusBadRequest, map[string]any{"message": "The request body contains invalid JSON.", "code": 50109})
		return
	}
	invalid := func(field string) {
		fakeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid Form Body", "code": 50035,
			"errors": map[string]any{field: map[string]any{"_errors": []any{map[string]any{"code": "BASE_TYPE_BAD_LENGTH"}}}}})
	}
	if p.Content == "" && len(p.Embeds) == 0 {
		fakeJSON(w, http.StatusBadRequest, map[string]any{"message": "Cannot send an empty message", "code": 50006})
		return
	}
	total := 0
	switch {
	case utf8.RuneCountInString(p.Content) > 2000:
		invalid("content")
		return
	case len(p.Embeds) > 10:
		invalid("embeds")
		return
	case utf8.RuneCountInString(p.Username) > 80 || strings.Contains(strings.ToLower(p.Username), "discord") || strings.Contains(strings.ToLower(p.Username), "clyde"):
		invalid("username")
		return
	}
	for _, e := range p.Embeds {
		if utf8.RuneCountInString(e.Title) > 256 || utf8.RuneCountInString(e.Description) > 4096 {
			invalid("embeds")
			return
		}
		if e.URL != "" {
			if u, err := url.Parse(e.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				invalid("embeds.url")
				return
			}
		}
		total += utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description)
	}
	if total > 6000 {
		invalid("embeds")
		return
	}
	// Mentions in content notify unless allowed_mentions.parse is empty;
	// mentions inside embeds never notify.
	pings := strings.Contains(p.Content, "@everyone") && (p.AllowedMentions == nil || len(p.AllowedMentions.Parse) > 0)
	f.mu.Lock()
	defer f.mu.Unlock()
	rest := strings.TrimPrefix(r.URL.Path, base)
	switch {
	case r.Method == http.MethodPost && rest == "":
		m := &discordMsg{ID: strconv.Itoa(1000 + len(f.msgs)), Content: p.Content, Embeds: p.Embeds, Pings: pings, Username: p.Username}
		f.msgs = append(f.msgs, m)
		if r.URL.Query().Get("wait") != "true" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		fakeJSON(w, http.StatusOK, map[string]any{"id": m.ID, "type": 0, "content": m.Content, "embeds": m.Embeds, "webhook_id": f.id})
	case r.Method == http.MethodGet && strings.HasPrefix(rest, "/messages/"):
		id := strings.TrimPrefix(rest, "/messages/")
		for _, m := range f.msgs {
			if m.ID == id {
				fakeJSON(w, http.StatusOK, map[string]any{"id": m.ID, "type": 0, "content": m.Content, "embeds": m.Embeds, "webhook_id": f.id})
				return
			}
		}
		fakeJSON(w, http.StatusNotFound, map[string]any{"message": "Unknown Message", "code": 10008})
	case r.Method == http.MethodPatch && strings.HasPrefix(rest, "/messages/"):
		id := strings.TrimPrefix(rest, "/messages/")
		for _, m := range f.msgs {
			if m.ID == id {
				m.Original, m.Embeds, m.Edited = m.Embeds, p.Embeds, true
				fakeJSON(w, http.StatusOK, map[string]any{"id": m.ID, "embeds": m.Embeds})
				return
			}
		}
		fakeJSON(w, http.StatusNotFound, map[string]any{"message": "Unknown Message", "code": 10008})
	default:
		fakeJSON(w, http.StatusMethodNotAllowed, map[string]any{"message": "405: Method Not Allowed", "code": 0})
	}
}

// discordPlain reads Discord Markdown as text: a backslash before a
// non-alphanumeric character shows that character; unescaped markup is
// reported.
func discordPlain(s string) (text string, markup []string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && !isAlnum(s[i+1]) && s[i+1] != ' ' {
			b.WriteByte(s[i+1])
			i++
			continue
		}
		if strings.IndexByte("*_~`|[]<>#", c) >= 0 {
			markup = append(markup, string(c))
		}
		b.WriteByte(c)
	}
	return strings.ReplaceAll(b.String(), "\u200b", ""), markup
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// ---- Telegram Bot API ----
// https://core.telegram.org/bots/api#sendmessage: chat_id and text
// (1-4096 characters after entities parsing) required; parse_mode HTML
// allows b, strong, i, em, u, ins, s, strike, del, span class=tg-spoiler,
// tg-spoiler, a href, code, pre, blockquote; every other <, > and & must
// be escaped as &lt; &gt; &amp; (&quot; and numeric entities too).
// Errors {"ok": false, "error_code", "description"}; 429 carries
// parameters.retry_after.

type telegramMsg struct {
	ID      int64
	Text    string   // as shown, markup read
	Links   []string // hrefs of <a> entities
	ReplyTo int64
	Silent  bool
}

type fakeTelegram struct {
	fakeService
	token string
	chat  string
	msgs  []telegramMsg
}

func newFakeTelegram(t *testing.T) (*fakeTelegram, *httptest.Server) {
	f := &fakeTelegram{token: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef", chat: "-1001234567890"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeTelegram) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, desc string, params map[string]any) {
		m := map[string]any{"ok": false, "error_code": code, "description": desc}
		if params != nil {
			m["parameters"] = params
		}
		fakeJSON(w, code, m)
	}
	tok, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if !strings.HasPrefix(r.URL.Path, "/bot") || !ok {
		fail(http.StatusNotFound, "Not Found", nil)
		return
	}
	if tok != f.token {
		fail(http.StatusUnauthorized, "Unauthorized", nil)
		return
	}
	if method != "sendMessage" {
		fail(http.StatusNotFound, "Not Found: method not found", nil)
		return
	}
	if f.limited() {
		fail(http.StatusTooManyRequests, "Too Many Requests: retry after 3", map[string]any{"retry_after": 3})
		return
	}
	var p struct {
		ChatID          json.RawMessage `json:"chat_id"`
		Text            string          `json:"text"`
		ParseMode       string          `json:"parse_mode"`
		Disable         bool            `json:"disable_notification"`
		ReplyParameters *struct {
			MessageID int64 `json:"message_id"`
			AllowWO   bool  `json:"allow_sending_without_reply"`
		} `json:"reply_parameters"`
	}
	body, _ := io.ReadAll(r.Body)
	if json.Unmarshal(body, &p) != nil {
		fail(http.StatusBadRequest, "Bad Request: invalid JSON", nil)
		return
	}
	chat := strings.Trim(string(p.ChatID), `"`)
	if chat == "" || chat == "null" {
		fail(http.StatusBadRequest, "Bad Request: chat_id is empty", nil)
		return
	}
	if chat != f.chat {
		fail(http.StatusBadRequest, "Bad Request: chat not found", nil)
		return
	}
	m := telegramMsg{Text: p.Text, Silent: p.Disable}
	if p.ParseMode != "" {
		if p.ParseMode != "HTML" {
			fail(http.StatusBadRequest, "Bad Request: unsupported parse_mode", nil)
			return
		}
		text, links, err := telegramHTML(p.Text)
		if err != nil {
			fail(http.StatusBadRequest, "Bad Request: can't parse entities: "+err.Error(), nil)
			return
		}
		m.Text, m.Links = text, links
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(m.Text)); n == 0 {
		fail(http.StatusBadRequest, "Bad Request: message text is empty", nil)
		return
	} else if n > 4096 {
		fail(http.StatusBadRequest, "Bad Request: message is too long", nil)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rp := p.ReplyParameters; rp != nil {
		found := false
		for _, x := range f.msgs {
			found = found || x.ID == rp.MessageID
		}
		if !found && !rp.AllowWO {
			fail(http.StatusBadRequest, "Bad Request: message to be replied not found", nil)
			return
		}
		if found {
			m.ReplyTo = rp.MessageID
		}
	}
	m.ID = int64(len(f.msgs) + 1)
	f.msgs = append(f.msgs, m)
	fakeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": map[string]any{"message_id": m.ID, "date": 1700000000,
		"chat": map[string]any{"id": f.chat, "type": "supergroup"}, "text": m.Text}})
}

var (
	telegramTags   = map[string]bool{"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true, "s": true, "strike": true, "del": true, "span": true, "tg-spoiler": true, "a": true, "code": true, "pre": true, "blockquote": true, "tg-emoji": true}
	telegramTagRE  = regexp.MustCompile(`^<(/?)([a-z-]+)((?:\s+[a-z-]+="[^"<>]*")*)\s*>`)
	telegramHrefRE = regexp.MustCompile(`href="([^"]*)"`)
	telegramEntRE  = regexp.MustCompile(`^&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);`)
)

// telegramHTML reads Telegram's HTML as the Bot API does, strictly.
func telegramHTML(s string) (text string, links []string, err error) {
	var b strings.Builder
	var open []string
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			m := telegramTagRE.FindStringSubmatch(s[i:])
			if m == nil || !telegramTags[m[2]] {
				name := ""
				if m != nil {
					name = m[2]
				} else if j := strings.IndexAny(s[i+1:], " >"); j > 0 {
					name = strings.TrimPrefix(s[i+1:i+1+j], "/")
				}
				return "", nil, fmt.Errorf("Unsupported start tag %q at byte offset %d", name, i)
			}
			if m[1] == "/" {
				if len(open) == 0 || open[len(open)-1] != m[2] {
					return "", nil, fmt.Errorf("Unexpected end tag at byte offset %d", i)
				}
				open = open[:len(open)-1]
			} else {
				open = append(open, m[2])
				if m[2] == "a" {
					if h := telegramHrefRE.FindStringSubmatch(m[3]); h != nil {
						links = append(links, html.UnescapeString(h[1]))
					}
				}
			}
			i += len(m[0])
		case '>':
			return "", nil, fmt.Errorf("Unexpected end of name token at byte offset %d", i)
		case '&':
			m := telegramEntRE.FindString(s[i:])
			if m == "" {
				return "", nil, fmt.Errorf("Unsupported entity at byte offset %d", i)
			}
			b.WriteString(html.UnescapeString(m))
			i += len(m)
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	if len(open) > 0 {
		return "", nil, fmt.Errorf("Can't find end tag corresponding to start tag %q", open[len(open)-1])
	}
	return b.String(), links, nil
}

// ---- Pushover ----
// https://pushover.net/api: POST form to /1/messages.json; token and user
// (30 characters) and message (<= 1024) required; title <= 250, url <=
// 512, url_title <= 100; priority -2..2 (2 needs retry and expire); html=1
// allows <b> <i> <u> <font color> <a href>. 4xx {"status": 0, "errors":
// [...]}: do not retry; 429 once the application's monthly limit is used.

type pushoverMsg struct {
	Title, Message, URL string
	Priority            int
	Links               []string
}

type fakePushover struct {
	fakeService
	token, user string
	msgs        []pushoverMsg
}

func newFakePushover(t *testing.T) (*fakePushover, *httptest.Server) {
	f := &fakePushover{token: "azGDORePK8gMaC0QOYAMyEEuzJnyUi", user: "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

var pushoverTagRE = regexp.MustCompile(`<(/?)(b|i|u|font|a)(\s+(?:color|href)="[^"]*")?>`)

func (f *fakePushover) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, field, msg string) {
		m := map[string]any{"status": 0, "errors": []string{msg}, "request": "5042853c-402d-4a18-abcb-168734a801de"}
		if field != "" {
			m[field] = "invalid"
		}
		fakeJSON(w, status, m)
	}
	if r.URL.Path != "/1/messages.json" || r.Method != http.MethodPost {
		fail(http.StatusNotFound, "", "not found")
		return
	}
	if f.limited() {
		w.Header().Set("X-Limit-App-Remaining", "0")
		fail(http.StatusTooManyRequests, "", "application has exceeded its message limit")
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "", "invalid form")
		return
	}
	v := r.PostForm
	switch {
	case v.Get("token") != f.token:
		fail(http.StatusBadRequest, "token", "application token is invalid")
		return
	case v.Get("user") != f.user:
		fail(http.StatusBadRequest, "user", "user identifier is not a valid user, group, or subscribed user key")
		return
	case strings.TrimSpace(v.Get("message")) == "":
		fail(http.StatusBadRequest, "message", "message cannot be blank")
		return
	case utf8.RuneCountInString(v.Get("message")) > 1024:
		fail(http.StatusBadRequest, "message", "message cannot be longer than 1024 characters")
		return
	case utf8.RuneCountInString(v.Get("title")) > 250:
		fail(http.StatusBadRequest, "title", "title cannot be longer than 250 characters")
		return
	case len(v.Get("url")) > 512 || utf8.RuneCountInString(v.Get("url_title")) > 100:
		fail(http.StatusBadRequest, "url", "url is too long")
		return
	}
	prio := 0
	if s := v.Get("priority"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < -2 || n > 2 {
			fail(http.StatusBadRequest, "priority", "priority is invalid")
			return
		}
		if n == 2 && (v.Get("retry") == "" || v.Get("expire") == "") {
			fail(http.StatusBadRequest, "retry", "retry and expire are required for emergency priority")
			return
		}
		prio = n
	}
	m := pushoverMsg{Title: v.Get("title"), Message: v.Get("message"), URL: v.Get("url"), Priority: prio}
	if v.Get("html") == "1" {
		// Tags outside the allowed few are shown as text by the apps;
		// here they count as an injection.
		m.Message = pushoverTagRE.ReplaceAllStringFunc(m.Message, func(tag string) string {
			if h := regexp.MustCompile(`href="([^"]*)"`).FindStringSubmatch(tag); h != nil {
				m.Links = append(m.Links, h[1])
			}
			return ""
		})
		m.Message = html.UnescapeString(m.Message)
	}
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	f.mu.Unlock()
	w.Header().Set("X-Limit-App-Limit", "10000")
	w.Header().Set("X-Limit-App-Remaining", "9999")
	fakeJSON(w, http.StatusOK, map[string]any{"status": 1, "request": "647d2300-702c-4b38-8b2f-d56326ae460b"})
}

// ---- ntfy ----
// https://docs.ntfy.sh/publish/#publish-as-json: POST JSON to the root
// URL; topic required; priority 1-5; tags a list; click a URL; markdown a
// bool; sequence_id (2.16) makes clients replace the notification with
// the same id. Errors {"code", "http", "error", "link"}: 40007 invalid
// priority, 40009 invalid topic, 40101 unauthorized, 40301 forbidden,
// 42901 limit reached (429).

type ntfyMsg struct {
	ID, Topic, Title, Message, Click, SequenceID string
	Priority                                     int
	Tags                                         []string
	Markdown                                     bool
}

type fakeNtfy struct {
	fakeService
	token string
	msgs  []ntfyMsg
}

func newFakeNtfy(t *testing.T) (*fakeNtfy, *httptest.Server) {
	f := &fakeNtfy{token: "tk_0123456789abcdefghijklmnopq"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// shown is what a phone shows per sequence: the latest of each.
func (f *fakeNtfy) shown() []ntfyMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ntfyMsg
	idx := map[string]int{}
	for _, m := range f.msgs {
		if i, ok := idx[m.SequenceID]; ok && m.SequenceID != "" {
			out[i] = m
			continue
		}
		idx[m.SequenceID] = len(out)
		out = append(out, m)
	}
	return out
}

func (f *fakeNtfy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status, code int, msg string) {
		fakeJSON(w, status, map[string]any{"code": code, "http": status, "error": msg, "link": "https://ntfy.sh/docs/publish/"})
	}
	if r.Method != http.MethodPost && r.Method != http.MethodPut || r.URL.Path != "/" {
		fail(http.StatusNotFound, 40401, "page not found")
		return
	}
	switch a := r.Header.Get("Authorization"); {
	case a == "":
		fail(http.StatusForbidden, 40301, "forbidden")
		return
	case a != "Bearer "+f.token:
		fail(http.StatusUnauthorized, 40101, "unauthorized")
		return
	}
	if f.limited() {
		fail(http.StatusTooManyRequests, 42901, "limit reached: too many requests, please be nice")
		return
	}
	var m ntfyMsg
	var p struct {
		Topic      string   `json:"topic"`
		Title      string   `json:"title"`
		Message    string   `json:"message"`
		Priority   int      `json:"priority"`
		Tags       []string `json:"tags"`
		Click      string   `json:"click"`
		Markdown   bool     `json:"markdown"`
		SequenceID string   `json:"sequence_id"`
	}
	if json.NewDecoder(r.Body).Decode(&p) != nil {
		fail(http.StatusBadRequest, 40024, "invalid request: request body must be message JSON")
		return
	}
	if !regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`).MatchString(p.Topic) {
		fail(http.StatusBadRequest, 40009, "invalid request: topic invalid")
		return
	}
	if p.Priority != 0 && (p.Priority < 1 || p.Priority > 5) {
		fail(http.StatusBadRequest, 40007, "invalid priority")
		return
	}
	if p.SequenceID != "" && !regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`).MatchString(p.SequenceID) {
		fail(http.StatusBadRequest, 40049, "invalid request: sequence ID invalid")
		return
	}
	if len(p.Message) > 4096 {
		fail(http.StatusRequestEntityTooLarge, 41301, "request entity too large")
		return
	}
	f.mu.Lock()
	m = ntfyMsg{ID: fmt.Sprintf("msg%04d", len(f.msgs)+1), Topic: p.Topic, Title: p.Title, Message: p.Message, Click: p.Click,
		SequenceID: p.SequenceID, Priority: p.Priority, Tags: p.Tags, Markdown: p.Markdown}
	f.msgs = append(f.msgs, m)
	f.mu.Unlock()
	fakeJSON(w, http.StatusOK, map[string]any{"id": m.ID, "time": 1700000000, "event": "message", "topic": m.Topic,
		"title": m.Title, "message": m.Message, "sequence_id": m.SequenceID})
}
