package logapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/websocket"
)

// Client talks to a remote loghost's log API with the admin token.
type Client struct {
	Server string // base URL, e.g. https://loghost.example.org:8443
	Token  string
	HTTP   *http.Client
}

func (c *Client) endpoint(path string, params url.Values) (string, error) {
	u, err := url.Parse(strings.TrimRight(c.Server, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("server %q: want http(s)://host[:port]", c.Server)
	}
	u.Path += path
	u.RawQuery = params.Encode()
	return u.String(), nil
}

// Search calls GET /api/v1/logs and hands each event to fn in order.
func (c *Client) Search(ctx context.Context, params url.Values, fn func(Event) error) error {
	u, err := c.endpoint("/api/v1/logs", params)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiFailure(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("search: bad answer line: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	return nil
}

func apiFailure(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Errorf("loghost answered %s: %s", resp.Status, e.Error)
	}
	return fmt.Errorf("loghost answered %s", resp.Status)
}

// Tail follows /api/v1/logs/tail until ctx ends or the connection drops.
func (c *Client) Tail(ctx context.Context, params url.Values, fn func(Event) error) error {
	u, err := c.endpoint("/api/v1/logs/tail", params)
	if err != nil {
		return err
	}
	u = "ws" + strings.TrimPrefix(u, "http")
	d := websocket.Dialer{}
	if c.HTTP != nil {
		if t, ok := c.HTTP.Transport.(*http.Transport); ok {
			d.TLSClientConfig = t.TLSClientConfig
		}
	}
	conn, resp, err := d.DialContext(ctx, u, http.Header{"Authorization": {"Bearer " + c.Token}})
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			return apiFailure(resp)
		}
		return fmt.Errorf("follow: %w", err)
	}
	defer conn.Close()
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	for {
		var e Event
		if err := conn.ReadJSON(&e); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("follow: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// GetJSON calls a JSON endpoint of the log API (count, fields,
// histogram, context) and decodes the answer into out.
func (c *Client) GetJSON(ctx context.Context, path string, params url.Values, out any) error {
	u, err := c.endpoint(path, params)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiFailure(resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("%s: bad answer: %w", path, err)
	}
	return nil
}
