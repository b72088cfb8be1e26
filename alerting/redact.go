package alerting

import (
	"errors"
	"net/url"
	"strings"
)

// RedactURL keeps the scheme and host of a URL and hides the rest: a
// webhook or heartbeat URL carries its secret in the path (Slack's
// /services/T…/B…/X…, hc-ping.com/UUID, /ping/{id}) or the query, and
// neither may reach a log line or a delivery's last_error.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(a URL)"
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

// scrubURL returns err with every mention of the secret URL raw
// replaced by its redacted form. net/http names the URL in its errors
// (`Post "https://…": dial tcp …`).
func scrubURL(err error, raw string) error {
	if err == nil || raw == "" {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = RedactURL(ue.URL)
	}
	if msg := err.Error(); strings.Contains(msg, raw) {
		return &scrubbed{msg: strings.ReplaceAll(msg, raw, RedactURL(raw)), err: err}
	}
	return err
}

// scrubbed is an error whose text had a secret taken out; errors.As and
// errors.Is still see the original.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
