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
	"time"
)

// MatrixConfig is a Matrix room receiver.
type MatrixConfig struct {
	Homeserver  string // https://matrix.example.org
	AccessToken string
	Room        string // !id:server (an alias must be resolved first)
}

// Matrix posts messages to a room through the client-server API.
type Matrix struct {
	cfg    MatrixConfig
	client *http.Client
}

// NewMatrix checks the configuration.
func NewMatrix(cfg MatrixConfig) (*Matrix, error) {
	u, err := url.Parse(cfg.Homeserver)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("matrix homeserver: want an http(s) URL, got %q", cfg.Homeserver)
	}
	if cfg.AccessToken == "" || cfg.Room == "" {
		return nil, fmt.Errorf("matrix: access token and room are required")
	}
	cfg.Homeserver = strings.TrimRight(cfg.Homeserver, "/")
	return &Matrix{cfg: cfg, client: &http.Client{Timeout: 30 * time.Second}}, nil
}

// MatrixMessage is one message to the room.
type MatrixMessage struct {
	TxnID  string // fixed when queued: a retry after a lost answer posts nothing twice
	Notice bool   // m.notice (resolutions); m.text wakes people (the default push rules mute notices)
	Text   string
	HTML   string // already escaped
	Thread string // the incident's first event: follow-ups go in its thread
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
	u := fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/send/m.room.message/%s", mx.cfg.Homeserver,
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
