package alerting

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
)

// Webhook posts notifications as JSON to a URL, for everything email and
// Matrix do not reach. The body is signed: X-Watchpost-Signature is
// "sha256=" and the hex HMAC-SHA256 of the body under the shared secret.
type Webhook struct {
	URL    string
	Secret string
	client *http.Client

	// A templated body (and headers) replace the JSON payload.
	body        *msgtmpl.Template
	headers     map[string]*msgtmpl.Template
	contentType string
}

// NewWebhook returns a webhook receiver.
func NewWebhook(url, secret string) *Webhook {
	// No client timeout: each attempt's context carries the dispatcher's
	// per-attempt deadline (Config.SendTimeout).
	return &Webhook{URL: url, Secret: secret, client: &http.Client{}}
}

// WebhookPayload is what a webhook receives.
type WebhookPayload struct {
	alert *msgtmpl.Alert // what the body and header templates see (not sent)

	ID      string          `json:"id"` // the same on every retry: receivers drop duplicates by it
	Kind    string          `json:"kind"`
	Labels  Labels          `json:"labels,omitempty"`
	Subject string          `json:"subject"`
	Text    string          `json:"text"`
	Data    json.RawMessage `json:"data"`
	URL     string          `json:"url,omitempty"` // the incident's admin page (server.public_url)
}

// Sign is the signature header value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Post delivers one payload: 2xx is done; 429 and 5xx are retried
// (honouring Retry-After); other 4xx are the receiver's refusal.
func (w *Webhook) Post(ctx context.Context, p WebhookPayload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	ct, extra, body, err := w.templated(p, body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return &PermanentError{Msg: fmt.Sprintf("webhook: %v", scrubURL(err, w.URL))}
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Watchpost-Delivery", p.ID)
	req.Header.Set("X-Watchpost-Signature", Sign(w.Secret, body))
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// The URL often is the secret: the error names it redacted.
		return fmt.Errorf("webhook: %w", scrubURL(err, w.URL))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		wait := time.Duration(0)
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			wait = time.Duration(s) * time.Second
		}
		return &RetryAfterError{Wait: wait, Msg: "webhook: " + resp.Status}
	}
	return &PermanentError{Msg: "webhook: " + resp.Status}
}
