package alerting

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/internal/peers"
)

// hostileLine is a firing log line that tries HTML, Markdown, Slack and
// Discord mentions and a link.
const hostileLine = `Failed password for <script>alert(1)</script> **root** [click](http://evil.example/x) @everyone <!channel> & <b>bold</b> from 203.0.113.9`

// outage fires a rule alert whose log line is hostile, lets the
// dispatcher send it, resolves it ten minutes later and sends that.
func outage(t *testing.T, rs map[string]Receiver) *Dispatcher {
	t.Helper()
	db := openDB(t)
	c := &clock{t: t0}
	d := New(db, Config{Receivers: rs, Hostname: "lh", Now: c.now, PublicURL: "https://watchpost.example/"})
	ctx := context.Background()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	a := RuleAlert("critical", "sshd: failed logins", map[string]string{"host": "web1"}, t0,
		alert{Severity: "critical", Title: "sshd: failed logins", Labels: map[string]string{"host": "web1"}, Time: t0, Line: hostileLine})
	if _, _, err := Fire(ctx, tx, a); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	drain(t, d)
	c.add(10 * time.Minute)
	tx, _ = db.Begin()
	if _, ok, err := Resolve(ctx, tx, Resolution{Source: SourceRule, Key: a.Key, Time: c.t, Text: "quiet for 10m"}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	tx.Commit()
	drain(t, d)
	// Nothing is left to send.
	var open int
	db.QueryRow(`SELECT count(*) FROM deliveries WHERE sent IS NULL`).Scan(&open)
	if open != 0 {
		rows, _ := db.Query(`SELECT receiver, last_error FROM deliveries WHERE sent IS NULL`)
		for rows.Next() {
			var r, e string
			rows.Scan(&r, &e)
			t.Errorf("unsent at %s: %s", r, e)
		}
		rows.Close()
	}
	return d
}

// TestOutageThroughEachReceiver: an outage and its recovery reach every
// chat and push service as one message each, threaded or updated where
// the service allows, the log line arriving as text.
func TestOutageThroughEachReceiver(t *testing.T) {
	slack, slackSrv := newFakeSlack(t)
	discord, discordSrv := newFakeDiscord(t)
	tg, tgSrv := newFakeTelegram(t)
	po, poSrv := newFakePushover(t)
	nt, ntSrv := newFakeNtfy(t)
	a := alertingConfig(t, fmt.Sprintf(`
  slack: {webhook_url: "%s%s"}
  discord: {webhook_url: "%s/api/webhooks/%s/%s", username: watchpost}
  telegram: {bot_token: %q, chat_id: %q, api_url: %q}
  pushover: {token: %s, user: %s, api_url: %q}
  ntfy: {url: %q, topic: ops-alerts, token: %s}
`, slackSrv.URL, slack.path, discordSrv.URL, discord.id, discord.token, tg.token, tg.chat, tgSrv.URL,
		po.token, po.user, poSrv.URL, ntSrv.URL, nt.token))
	rs, err := BuildReceivers(a, "lh")
	if err != nil {
		t.Fatal(err)
	}
	outage(t, rs)
	const incident = "https://watchpost.example/admin/incidents/1"

	t.Run("slack", func(t *testing.T) {
		if len(slack.msgs) != 2 {
			t.Fatalf("slack got %d messages: %+v", len(slack.msgs), slack.msgs)
		}
		for _, m := range slack.msgs {
			if len(m.Mentions) > 0 {
				t.Errorf("a mention from log data: %v", m.Mentions)
			}
			for _, l := range m.Links {
				if l != incident {
					t.Errorf("a link from log data: %q", l)
				}
			}
		}
		if !strings.Contains(slack.msgs[0].Sections[0], hostileLine) {
			t.Errorf("the line is not shown as typed:\n%s", slack.msgs[0].Sections[0])
		}
		if !strings.HasPrefix(slack.msgs[1].Header, "RESOLVED: sshd: failed logins") {
			t.Errorf("recovery: %+v", slack.msgs[1])
		}
	})
	t.Run("discord", func(t *testing.T) {
		if len(discord.msgs) != 2 {
			t.Fatalf("discord got %d messages", len(discord.msgs))
		}
		first, second := discord.msgs[0], discord.msgs[1]
		if !first.Edited || len(first.Original) != 1 {
			t.Fatalf("the outage's message is not edited: %+v", first)
		}
		text, markup := discordPlain(first.Original[0].Description)
		if !strings.Contains(text, hostileLine) || len(markup) > 0 {
			t.Errorf("the line is not shown as typed (markup %q):\n%s", markup, text)
		}
		if first.Pings || second.Pings || first.Embeds[0].URL != incident {
			t.Errorf("pings %v %v, url %q", first.Pings, second.Pings, first.Embeds[0].URL)
		}
		if first.Embeds[0].Color != discordGreen || !strings.HasPrefix(first.Embeds[0].Title, "Resolved after 10m: ") ||
			first.Embeds[0].Description != first.Original[0].Description {
			t.Errorf("the outage's message is not marked resolved: %+v", first.Embeds[0])
		}
		if second.Embeds[0].Color != discordGreen {
			t.Errorf("recovery colour %x", second.Embeds[0].Color)
		}
	})
	t.Run("telegram", func(t *testing.T) {
		if len(tg.msgs) != 2 {
			t.Fatalf("telegram got %d messages", len(tg.msgs))
		}
		if !strings.Contains(tg.msgs[0].Text, hostileLine) {
			t.Errorf("the line is not shown as typed:\n%s", tg.msgs[0].Text)
		}
		for _, m := range tg.msgs {
			for _, l := range m.Links {
				if l != incident {
					t.Errorf("a link from log data: %q", l)
				}
			}
		}
		if tg.msgs[1].ReplyTo != tg.msgs[0].ID || !tg.msgs[1].Silent {
			t.Errorf("the recovery does not reply (silently) to the outage: %+v", tg.msgs[1])
		}
	})
	t.Run("pushover", func(t *testing.T) {
		if len(po.msgs) != 2 {
			t.Fatalf("pushover got %d messages", len(po.msgs))
		}
		if !strings.Contains(po.msgs[0].Message, hostileLine) || len(po.msgs[0].Links) > 0 {
			t.Errorf("the line is not shown as typed (links %v):\n%s", po.msgs[0].Links, po.msgs[0].Message)
		}
		if po.msgs[0].Priority != 1 || po.msgs[1].Priority != -1 || po.msgs[0].URL != incident {
			t.Errorf("priorities %d %d, url %q", po.msgs[0].Priority, po.msgs[1].Priority, po.msgs[0].URL)
		}
	})
	t.Run("ntfy", func(t *testing.T) {
		if len(nt.msgs) != 2 {
			t.Fatalf("ntfy got %d messages", len(nt.msgs))
		}
		shown := nt.shown()
		if len(shown) != 1 || shown[0].Title != "RESOLVED: sshd: failed logins" || shown[0].Tags[0] != "white_check_mark" {
			t.Errorf("the recovery does not replace the outage's notification: %+v", shown)
		}
		m := nt.msgs[0]
		if m.Priority != 5 || m.Tags[0] != "rotating_light" || m.Click != incident || m.Markdown || !strings.Contains(m.Message, hostileLine) {
			t.Errorf("outage notification %+v", m)
		}
	})
}

// TestGotifyOutage runs the outage against a real Gotify server.
func TestGotifyOutage(t *testing.T) {
	g := peers.StartGotify(t)
	a := alertingConfig(t, fmt.Sprintf("  gotify: {url: %q, token: %q}\n", g.URL, g.AppToken))
	rs, err := BuildReceivers(a, "lh")
	if err != nil {
		t.Fatal(err)
	}
	outage(t, rs)
	msgs := g.Messages()
	if len(msgs) != 2 {
		t.Fatalf("gotify has %d messages: %+v", len(msgs), msgs)
	}
	if !strings.Contains(msgs[0].Message, hostileLine) || msgs[0].Priority != 8 || msgs[1].Priority != 2 {
		t.Errorf("messages %+v", msgs)
	}
	disp, _ := msgs[0].Extras["client::display"].(map[string]any)
	click, _ := msgs[0].Extras["client::notification"].(map[string]any)
	if disp["contentType"] != "text/plain" || click == nil {
		t.Errorf("extras %v", msgs[0].Extras)
	}
	// A wrong token is the receiver's configuration to fix.
	bad, _ := NewGotify("phones", &configGotify{URL: g.URL, Token: "wrong"})
	_, err = bad.Notify(context.Background(), Notification{Alert: msgtmpl.Samples()[0]})
	var perm *PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "receiver phones, gotify refuses: 401") {
		t.Errorf("wrong token: %v", err)
	}
}

// TestServiceErrors: a 429 is retried after the service's wait; a 4xx is
// a configuration error that names the receiver; no error shows a token
// that sits in a URL.
func TestServiceErrors(t *testing.T) {
	sample := Notification{Alert: msgtmpl.Samples()[0]}
	ctx := context.Background()
	slack, slackSrv := newFakeSlack(t)
	discord, discordSrv := newFakeDiscord(t)
	tg, tgSrv := newFakeTelegram(t)
	po, poSrv := newFakePushover(t)
	nt, ntSrv := newFakeNtfy(t)
	type tc struct {
		name    string
		n       Notifier
		limit   func()
		wait    time.Duration
		bad     Notifier
		badWord string
	}
	mk := func(n Notifier, err error) Notifier {
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	cases := []tc{
		{"slack", mk(NewSlack("ops", &configSlack{WebhookURL: configSecret(slackSrv.URL + slack.path)})), func() { slack.limitNext = 1 }, 7 * time.Second,
			mk(NewSlack("ops", &configSlack{WebhookURL: configSecret(slackSrv.URL + "/services/T000/B000/secretpart")})), "no_service"},
		{"discord", mk(NewDiscord("ops", &configDiscord{WebhookURL: configSecret(discordSrv.URL + "/api/webhooks/" + discord.id + "/" + discord.token)})), func() { discord.limitNext = 1 }, 2 * time.Second,
			mk(NewDiscord("ops", &configDiscord{WebhookURL: configSecret(discordSrv.URL + "/api/webhooks/1/secretpart")})), "Unknown Webhook (code 10015)"},
		{"telegram", mk(NewTelegram("ops", &configTelegram{BotToken: configSecret(tg.token), ChatID: tg.chat, APIURL: tgSrv.URL})), func() { tg.limitNext = 1 }, 3 * time.Second,
			mk(NewTelegram("ops", &configTelegram{BotToken: configSecret(tg.token), ChatID: "-100999", APIURL: tgSrv.URL})), "chat not found"},
		{"pushover", mk(NewPushover("ops", &configPushover{Token: configSecret(po.token), User: configSecret(po.user), APIURL: poSrv.URL})), func() { po.limitNext = 1 }, 0,
			mk(NewPushover("ops", &configPushover{Token: configSecret(po.token), User: "uQiRzpo4DXghDmr9QzzfQu27cmVRsX", APIURL: poSrv.URL})), "user identifier is not a valid user"},
		{"ntfy", mk(NewNtfy("ops", &configNtfy{URL: ntSrv.URL, Topic: "ops", Token: configSecret(nt.token)})), func() { nt.limitNext = 1 }, 0,
			mk(NewNtfy("ops", &configNtfy{URL: ntSrv.URL, Topic: "ops", Token: "tk_wrong"})), "unauthorized (code 40101)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.limit()
			_, err := c.n.Notify(ctx, sample)
			var ra *RetryAfterError
			if !errors.As(err, &ra) {
				t.Fatalf("429: %v", err)
			}
			if c.wait > 0 && ra.Wait != c.wait {
				t.Errorf("wait %v, want the service's %v", ra.Wait, c.wait)
			}
			if _, err := c.n.Notify(ctx, sample); err != nil {
				t.Fatalf("after the wait: %v", err)
			}
			_, err = c.bad.Notify(ctx, sample)
			var perm *PermanentError
			if !errors.As(err, &perm) || !strings.Contains(err.Error(), "receiver ops, "+c.name) || !strings.Contains(err.Error(), c.badWord) {
				t.Errorf("refusal: %v", err)
			}
			if err != nil && (strings.Contains(err.Error(), "secretpart") || strings.Contains(err.Error(), tg.token)) {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
	// A service that does not answer at all: the error names the host
	// only.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	n, _ := NewTelegram("ops", &configTelegram{BotToken: configSecret(tg.token), ChatID: tg.chat, APIURL: dead.URL})
	if _, err := n.Notify(ctx, sample); err == nil || strings.Contains(err.Error(), tg.token) {
		t.Errorf("dead service: %v", err)
	}
}

type (
	configSecret   = config.Secret
	configSlack    = config.Slack
	configDiscord  = config.Discord
	configTelegram = config.Telegram
	configPushover = config.Pushover
	configNtfy     = config.Ntfy
	configGotify   = config.Gotify
)
