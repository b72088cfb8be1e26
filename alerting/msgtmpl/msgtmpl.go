// Package msgtmpl is the templates of alert messages: every receiver's
// subject and body may be a Go text/template over one alert object
// (Alert), with helpers that escape for JSON, HTML, Markdown, Slack and
// Matrix so that log data inside an alert stays data.
//
// A template is parsed and run against sample alerts (firing and
// resolved, with hostile log lines) when the configuration is loaded, so
// a mistake is a configuration error, not a failed delivery at 3 a.m.
package msgtmpl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// Alert is what a template sees: one notification, or a group of them
// sent as one message (Count > 1, the fields then describe the first).
type Alert struct {
	Subject  string            // the default subject: "[watchpost] web is DOWN"
	Text     string            // the default plain-text body
	Update   string            // an update's or resolution's own words (resolved by, a status update)
	Severity string            // critical, warning or info
	State    string            // firing or resolved
	Kind     string            // the outbox kind: check_down, check_up, rule_alert, reminder, ...
	Check    string            // the check or heartbeat, when a check fired
	Host     string            // the host label, when there is one
	Title    string            // what fired: a rule's title, a check's name
	Labels   map[string]string // the alert's labels (.Labels.host)
	URL      string            // the incident's page (server.public_url), or ""
	Line     string            // the log line that fired a rule, or ""
	Detail   string            // why a check failed
	Start    time.Time         // when it started
	Duration time.Duration     // how long it lasted (resolved) or has lasted so far
	Incident int64             // the incident's number, 0 when none
	Count    int               // alerts in this message
	Receiver string            // the receiver's name
}

// Firing reports whether the alert is not over.
func (a Alert) Firing() bool { return a.State != "resolved" }

// maxOutput bounds what one template writes: a message, not a flood
// (and a template looping a billion times stops here).
const maxOutput = 256 << 10

// Template is a parsed template.
type Template struct {
	t   *template.Template
	src string
}

// Funcs are the helpers every template has besides text/template's own.
func Funcs() template.FuncMap {
	return template.FuncMap{
		"json":       JSON,
		"html":       html.EscapeString,
		"markdown":   Markdown,
		"matrixhtml": MatrixHTML,
		"slack":      Slack,
		"upper":      strings.ToUpper,
		"lower":      strings.ToLower,
		"trunc":      Trunc,
		"oneline":    OneLine,
		"default":    func(def string, v any) string { s := fmt.Sprint(v); return cmpOr(s, def) },
		"join":       strings.Join,
		"date":       func(layout string, t time.Time) string { return t.UTC().Format(layout) },
		"duration":   Duration,
		"title":      func(s string) string { return capitalize(s) },
		"contains":   strings.Contains,
		"hasPrefix":  strings.HasPrefix,
		"replace":    strings.ReplaceAll,
		"urlquery":   template.URLQueryEscaper,
	}
}

func cmpOr(s, def string) string {
	if s == "" || s == "<nil>" {
		return def
	}
	return s
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return strings.ToUpper(string(r)) + s[n:]
}

// Parse reads a template and runs it against the sample alerts, so an
// unknown field, a helper given the wrong argument or a body that is not
// what its receiver needs (check, when not nil, says) fails now. name
// says where it came from, for errors.
func Parse(name, src string, check func(out string) error) (*Template, error) {
	t, err := template.New(name).Funcs(Funcs()).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, tidy(err, name)
	}
	tp := &Template{t: t, src: src}
	for _, a := range Samples() {
		out, err := tp.Execute(a)
		if err != nil {
			return nil, err
		}
		if check != nil {
			if err := check(out); err != nil {
				return nil, fmt.Errorf("with a %s sample alert: %w", a.State, err)
			}
		}
	}
	return tp, nil
}

// MustParse is Parse for templates built into the program.
func MustParse(name, src string) *Template {
	t, err := Parse(name, src, nil)
	if err != nil {
		panic(err)
	}
	return t
}

// Execute renders the template for a.
func (t *Template) Execute(a Alert) (string, error) {
	var b limitedBuffer
	if err := t.t.Execute(&b, a); err != nil {
		return "", tidy(err, t.t.Name())
	}
	return b.String(), nil
}

// Source is the template's text.
func (t *Template) Source() string { return t.src }

// tidy shortens text/template's "template: NAME:1:5: ..." to
// "line 1, column 5: ...", which the configuration error places.
var posRE = regexp.MustCompile(`^template: [^:]*:(\d+)(?::(\d+))?: `)

func tidy(err error, name string) error {
	var le *errLimit
	if errors.As(err, &le) {
		return le
	}
	msg := strings.ReplaceAll(err.Error(), "template: "+name+":", "template: x:")
	if m := posRE.FindStringSubmatch(msg); m != nil {
		rest := msg[len(m[0]):]
		// Drop the repeated "executing "x" at <.Foo>:" prefix's name.
		rest = strings.ReplaceAll(rest, `executing "`+name+`" at `, "at ")
		rest = strings.ReplaceAll(rest, `"`+name+`"`, "the template")
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		return &PosError{Line: line, Col: col, Msg: rest}
	}
	return errors.New(strings.TrimPrefix(msg, "template: "))
}

// PosError is a template error at a line and column of the template's
// own text (1-based; Col 0 when unknown).
type PosError struct {
	Line, Col int
	Msg       string
}

func (e *PosError) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("template line %d, column %d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("template line %d: %s", e.Line, e.Msg)
}

type errLimit struct{}

func (*errLimit) Error() string {
	return fmt.Sprintf("template writes more than %d KiB", maxOutput>>10)
}

type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxOutput {
		return 0, &errLimit{}
	}
	return b.Buffer.Write(p)
}

// JSON is v as a JSON value: a string comes out quoted and escaped
// (`{"text": {{ .Subject | json }}}`).
func JSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// markdownSpecial are the characters CommonMark (and Discord, ntfy and
// Telegram's MarkdownV2) give a meaning to.
var markdownReplacer = func() *strings.Replacer {
	var pairs []string
	for _, c := range "\\`*_{}[]()<>#+-.!|~=" {
		pairs = append(pairs, string(c), "\\"+string(c))
	}
	return strings.NewReplacer(pairs...)
}()

// Markdown escapes every character Markdown gives a meaning to, so a log
// line's asterisks, links and headings show as typed. A mention
// (@everyone) is escaped too.
func Markdown(s string) string {
	s = markdownReplacer.Replace(s)
	return strings.ReplaceAll(s, "@", "@\u200b")
}

// Slack escapes for Slack's mrkdwn: &, < and > are the only characters
// it asks to be escaped (so that <!channel> or a link in a log line is
// text), and formatting characters are kept from pairing up.
func Slack(s string) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
	// A zero-width joiner after each formatting character stops *bold*,
	// _italic_, ~strike~ and `code` from pairing, and shows as typed.
	return strings.NewReplacer("*", "*\u200b", "_", "_\u200b", "~", "~\u200b", "`", "`\u200b").Replace(s)
}

// MatrixHTML escapes for a Matrix formatted_body: HTML-escaped, with line
// breaks kept as <br>.
func MatrixHTML(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
}

// Trunc cuts s to n characters, with an ellipsis when it cut.
func Trunc(n int, s string) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-1, 0)]) + "…"
}

// OneLine folds runs of white space (newlines included) to one space.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Duration words a duration for people: "3m20s", "2h5m", "3d4h".
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		s := d.Round(time.Second).String()
		if t, ok := strings.CutSuffix(s, "m0s"); ok {
			return t + "m"
		}
		return s
	case d < 24*time.Hour:
		s := d.Round(time.Minute).String()
		s = strings.TrimSuffix(s, "0s")
		if strings.HasSuffix(s, "h0m") {
			s = s[:len(s)-2]
		}
		return s
	}
	days := int(d / (24 * time.Hour))
	h := int((d % (24 * time.Hour)).Round(time.Hour) / time.Hour)
	return fmt.Sprintf("%dd%dh", days, h)
}

// Samples are the alerts a template is tried on at load: a firing rule
// alert whose log line is hostile, and a resolved check.
func Samples() []Alert {
	start := time.Date(2026, 3, 1, 2, 3, 4, 0, time.UTC)
	line := `<script>alert(1)</script> **bold** [x](http://evil.example) @everyone <!channel> "quoted" & more`
	return []Alert{{
		Subject: "[watchpost] sshd: too many failures (incident #7)", Text: "sshd: too many failures\n\n" + line + "\n",
		Severity: "critical", State: "firing", Kind: "rule_alert", Host: "web1", Title: "sshd: too many failures",
		Labels: map[string]string{"host": "web1", "severity": "critical", "rule": "ssh"}, URL: "https://watchpost.example/admin/incidents/7",
		Line: line, Start: start, Duration: 90 * time.Second, Incident: 7, Count: 1, Receiver: "sample",
	}, {
		Subject: "[watchpost] web is UP (incident #8)", Text: "web has RECOVERED after 5m.\n", Update: "recovered",
		Severity: "critical", State: "resolved", Kind: "check_up", Check: "web", Title: "web",
		Labels: map[string]string{"check": "web"}, Detail: `status == 200 (status 503)`, Start: start,
		Duration: 5 * time.Minute, Incident: 8, Count: 1, Receiver: "sample",
	}}
}
