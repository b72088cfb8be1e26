package alerting

import (
	"context"
	"fmt"
	"html"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
)

// EmailConfig is an SMTP receiver.
type EmailConfig struct {
	SMTP     string // host:port
	TLS      string // starttls (required; the default), implicit, none
	From     string
	To       []string
	Username string
	Password string
	HELO     string
	// Subject and Body are message templates ("" : the default).
	Subject, Body string
}

// Email sends messages by SMTP through github.com/wneessen/go-mail.
type Email struct {
	cfg           EmailConfig
	host          string
	port          int
	subject, body *msgtmpl.Template
}

// NewEmail checks the configuration.
func NewEmail(cfg EmailConfig) (*Email, error) {
	host, portStr, err := net.SplitHostPort(cfg.SMTP)
	if err != nil {
		return nil, fmt.Errorf("email smtp address: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("email smtp port: %w", err)
	}
	if cfg.From == "" || len(cfg.To) == 0 {
		return nil, fmt.Errorf("email: from and to are required")
	}
	e := &Email{cfg: cfg, host: host, port: port}
	if e.subject, err = parseOptional("email.subject", cfg.Subject); err != nil {
		return nil, err
	}
	if e.body, err = parseOptional("email.body", cfg.Body); err != nil {
		return nil, err
	}
	return e, nil
}

// Send implements Sender.
func (e *Email) Send(ctx context.Context, m Message) error {
	m, err := e.apply(m)
	if err != nil {
		return err
	}
	msg := mail.NewMsg()
	if err := msg.From(e.cfg.From); err != nil {
		return fmt.Errorf("email from: %w", err)
	}
	if err := msg.To(e.cfg.To...); err != nil {
		return fmt.Errorf("email to: %w", err)
	}
	msg.Subject(headerSafe(m.Subject))
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDate()
	if m.InReplyTo != "" {
		msg.SetGenHeader(mail.HeaderInReplyTo, "<"+m.InReplyTo+">")
		msg.SetGenHeader(mail.HeaderReferences, "<"+m.InReplyTo+">")
	}
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	opts := []mail.Option{mail.WithPort(e.port), mail.WithTimeout(30 * time.Second)}
	switch e.cfg.TLS {
	case "implicit":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if e.cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(e.cfg.HELO))
	}
	if e.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(e.cfg.Username), mail.WithPassword(e.cfg.Password))
	}
	c, err := mail.NewClient(e.host, opts...)
	if err != nil {
		return fmt.Errorf("email client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send email: %w", err)
	}
	return nil
}

func renderChange(c change, incidentID, ownID string) Message {
	// One subject for the whole incident, so that clients thread it.
	subject := fmt.Sprintf("[watchpost] %s (incident #%d)", c.Check, c.Incident)
	var state, text string
	if c.To == "down" {
		state = "DOWN"
		text = fmt.Sprintf("%s is DOWN since %s.\n\nWhat failed: %s\n", c.Check, c.Since.UTC().Format(time.RFC1123), c.Detail)
	} else {
		state = "RECOVERED"
		text = fmt.Sprintf("%s has RECOVERED at %s.\n", c.Check, c.Since.UTC().Format(time.RFC1123))
	}
	m := Message{Subject: subject, Text: text, MessageID: ownID,
		HTML: "<p><strong>" + html.EscapeString(c.Check) + " " + state + "</strong></p><pre>" + html.EscapeString(text) + "</pre>"}
	if c.To == "down" {
		m.MessageID = incidentID // the thread's root
	} else {
		m.InReplyTo = incidentID
	}
	return m
}

func renderAlert(a alert, ownID string) Message {
	subject := fmt.Sprintf("[watchpost] %s: %s", strings.ToUpper(a.Severity), a.Title)
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) at %s\n", a.Title, a.Severity, a.Time.UTC().Format(time.RFC1123))
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, a.Labels[k])
	}
	if a.Line != "" {
		fmt.Fprintf(&b, "\nThe log line:\n%s\n", a.Line)
	}
	return Message{Subject: subject, Text: b.String(), MessageID: ownID, HTML: "<pre>" + html.EscapeString(b.String()) + "</pre>"}
}

// apply renders the receiver's subject and body templates, if any.
func (e *Email) apply(m Message) (Message, error) {
	if m.Alert != nil && e.subject != nil {
		s, err := e.subject.Execute(*m.Alert)
		if err != nil {
			return m, &PermanentError{Msg: fmt.Sprintf("email subject template: %v", err)}
		}
		m.Subject = msgtmpl.OneLine(s)
	}
	if m.Alert != nil && e.body != nil {
		s, err := e.body.Execute(*m.Alert)
		if err != nil {
			return m, &PermanentError{Msg: fmt.Sprintf("email body template: %v", err)}
		}
		// The templated text is the message: no HTML part that would
		// say something else.
		m.Text, m.HTML = s, ""
	}
	return m, nil
}

// headerSafe keeps log data from breaking out of a header: control
// characters become spaces and the text is cut at 200 bytes.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}
