package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
)

// MatrixConfig is a Matrix room receiver.
type MatrixConfig struct {
	Homeserver  string // https://matrix.example.org
	AccessToken string
	Room        string       // !id:server (an alias must be resolved first)
	Client      *http.Client // optional (tests)
	// Body and HTML are templates of the plain and the formatted body
	// ("" : the default).
	Body, HTML string
}

// Matrix posts messages to a room through the client-server API.
type Matrix struct {
	cfg        MatrixConfig
	client     *http.Client
	serverName string // set while the homeserver is still to be discovered

	mu sync.Mutex // guards discovery

	body, html *msgtmpl.Template
}

// NewMatrix checks the configuration. A homeserver given as a bare
// server name ("example.org") is discovered through
// https://example.org/.well-known/matrix/client on first use.
func NewMatrix(cfg MatrixConfig) (*Matrix, error) {
	if cfg.AccessToken == "" || cfg.Room == "" {
		return nil, fmt.Errorf("matrix: access token and room are required")
	}
	mx := &Matrix{cfg: cfg, client: &http.Client{Timeout: 30 * time.Second}}
	if cfg.Client != nil {
		mx.client = cfg.Client
	}
	var err error
	if mx.body, err = parseOptional("matrix.body", cfg.Body); err != nil {
		return nil, err
	}
	if mx.html, err = parseOptional("matrix.html", cfg.HTML); err != nil {
		return nil, err
	}
	if !strings.Contains(cfg.Homeserver, "://") && cfg.Homeserver != "" && !strings.ContainsAny(cfg.Homeserver, "/?#@ ") {
		mx.serverName = cfg.Homeserver
		mx.cfg.Homeserver = ""
		return mx, nil
	}
	u, err := url.Parse(cfg.Homeserver)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("matrix homeserver: want an http(s) URL or a server name, got %q", cfg.Homeserver)
	}
	mx.cfg.Homeserver = strings.TrimRight(cfg.Homeserver, "/")
	return mx, nil
}

// base is the homeserver's client API URL, discovering it once from the
// server name's .well-known file when only a name was configured.
func (mx *Matrix) base(ctx context.Context) (string, error) {
	mx.mu.Lock()
	defer mx.mu.Unlock()
	if mx.cfg.Homeserver != "" {
		return mx.cfg.Homeserver, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+mx.serverName+"/.well-known/matrix/client", nil)
	if err != nil {
		return "", &PermanentError{Msg: fmt.Sprintf("matrix: server name %q: %v", mx.serverName, err)}
	}
	resp, err := mx.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("matrix: discover the homeserver of %s: %w", mx.serverName, err)
	}
	defer resp.Body.Close()
	var wk struct {
		Homeserver struct {
			BaseURL string `json:"base_url"`
		} `json:"m.homeserver"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("matrix: discover the homeserver of %s: %s", mx.serverName, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&wk); err != nil {
		return "", fmt.Errorf("matrix: discover the homeserver of %s: %w", mx.serverName, err)
	}
	u, err := url.Parse(wk.Homeserver.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("matrix: %s's .well-known names no usable base_url (%q)", mx.serverName, wk.Homeserver.BaseURL)
	}
	mx.cfg.Homeserver = strings.TrimRight(wk.Homeserver.BaseURL, "/")
	return mx.cfg.Homeserver, nil
}

// MatrixMessage is one message to the room.
type MatrixMessage struct {
	TxnID  string // fixed when queued: a retry after a lost answer posts nothing twice
	Notice bool   // m.notice (resolutions); m.text wakes people (the default push rules mute notices)
	Text   string
	HTML   string // already escaped
	Thread string // the incident's first event: follow-ups go in its thread
	// Alert is what the room's templates see (nil: no templates apply).
	Alert *msgtmpl.Alert
}

// RetryAfterError says the homeserver asked to wait.
type RetryAfterError struct {
	Wait time.Duration
	Msg  string
}

func (e *RetryAfterError) Error() string { return e.Msg }

// PermanentError is a refusal a retry cannot fix (401/403: the token or
// the room is wrong).
type PermanentError struct{ Msg string }

func (e *PermanentError) Error() string { return e.Msg }

// Send posts the message and returns its event id.
func (mx *Matrix) Send(ctx context.Context, m MatrixMessage) (string, error) {
	if m.Alert != nil && mx.body != nil {
		s, err := mx.body.Execute(*m.Alert)
		if err != nil {
			return "", &PermanentError{Msg: fmt.Sprintf("matrix body template: %v", err)}
		}
		// A plain body of its own has no formatted twin unless the html
		// template gives one.
		m.Text, m.HTML = s, ""
	}
	if m.Alert != nil && mx.html != nil {
		s, err := mx.html.Execute(*m.Alert)
		if err != nil {
			return "", &PermanentError{Msg: fmt.Sprintf("matrix html template: %v", err)}
		}
		m.HTML = s
	}
	msgtype := "m.text"
	if m.Notice {
		msgtype = "m.notice"
	}
	content := map[string]any{
		"msgtype": msgtype,
		"body":    m.Text,
		// Nobody is pinged by an @room or a user id that came from a log
		// line.
		"m.mentions": map[string]any{},
	}
	if m.HTML != "" {
		content["format"] = "org.matrix.custom.html"
		content["formatted_body"] = m.HTML
	}
	if m.Thread != "" {
		content["m.relates_to"] = map[string]any{"rel_type": "m.thread", "event_id": m.Thread,
			"is_falling_back": true, "m.in_reply_to": map[string]any{"event_id": m.Thread}}
	}
	body, _ := json.Marshal(content)
	hs, err := mx.base(ctx)
	if err != nil {
		return "", err
	}
	u := fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/send/m.room.message/%s", hs,
		url.PathEscape(mx.cfg.Room), url.PathEscape(m.TxnID))
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	// The token goes in the header, never in the URL (which proxies log).
	req.Header.Set("Authorization", "Bearer "+mx.cfg.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := mx.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("matrix: %w", err)
	}
	defer resp.Body.Close()
	var reply struct {
		EventID      string `json:"event_id"`
		ErrCode      string `json:"errcode"`
		Error        string `json:"error"`
		RetryAfterMS int64  `json:"retry_after_ms"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&reply)
	switch {
	case resp.StatusCode == http.StatusOK && reply.EventID != "":
		return reply.EventID, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := time.Duration(reply.RetryAfterMS) * time.Millisecond
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && wait == 0 {
			wait = time.Duration(s) * time.Second
		}
		return "", &RetryAfterError{Wait: wait, Msg: "matrix: rate limited (M_LIMIT_EXCEEDED)"}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return "", &PermanentError{Msg: fmt.Sprintf("matrix: %s %s: %s (check the access token and that the bot is in the room)", resp.Status, reply.ErrCode, reply.Error)}
	}
	return "", fmt.Errorf("matrix: %s %s: %s", resp.Status, reply.ErrCode, reply.Error)
}
