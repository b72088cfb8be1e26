package rdap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"time"
)

// whois asks the TLD's WHOIS server (found through IANA's) about d: for
// the TLDs that have no RDAP service yet.
func (c *Client) whois(ctx context.Context, d string) (Expiry, error) {
	tld := d[strings.LastIndexByte(d, '.')+1:]
	c.mu.Lock()
	server, ok := c.whoisBy[tld]
	c.mu.Unlock()
	if !ok {
		ans, err := c.whoisQuery(ctx, c.whoisIANA, tld)
		if err != nil {
			return Expiry{}, err
		}
		server = whoisReferral(ans)
		c.mu.Lock()
		c.whoisBy[tld] = server
		c.mu.Unlock()
	}
	if server == "" {
		return Expiry{}, fmt.Errorf(".%s: %w", tld, ErrNoService)
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "43")
	}
	ans, err := c.whoisQuery(ctx, server, d)
	if err != nil {
		return Expiry{}, err
	}
	w := ParseWhois(ans)
	out := Expiry{Domain: d, Expires: w.Expires, Registrar: w.Registrar, Source: "whois", Server: server, Checked: c.now().UTC()}
	switch {
	case w.NotFound:
		return out, fmt.Errorf("%s: %w", server, ErrNotFound)
	case w.Expires.IsZero():
		return out, fmt.Errorf("%s: %w", server, ErrNoExpiry)
	}
	return out, nil
}

// whoisQuery sends one query (RFC 3912) and reads the answer, at most
// 256 KiB.
func (c *Client) whoisQuery(ctx context.Context, server, q string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := c.dial(ctx, "tcp", server)
	if err != nil {
		return "", &retryAfter{msg: fmt.Sprintf("whois %s: %v", server, err)}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(conn, q+"\r\n"); err != nil {
		return "", &retryAfter{msg: fmt.Sprintf("whois %s: %v", server, err)}
	}
	b, err := io.ReadAll(io.LimitReader(conn, 256<<10))
	if err != nil && len(b) == 0 {
		return "", &retryAfter{msg: fmt.Sprintf("whois %s: %v", server, err)}
	}
	if len(b) == 0 {
		return "", &retryAfter{msg: fmt.Sprintf("whois %s: empty answer", server)}
	}
	return string(b), nil
}

// whoisReferral reads IANA's answer about a TLD: its "whois:" (or
// "refer:") server.
func whoisReferral(ans string) string {
	refer := ""
	sc := bufio.NewScanner(strings.NewReader(ans))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "whois":
			if s := strings.TrimSpace(v); s != "" {
				return s
			}
		case "refer":
			refer = strings.TrimSpace(v)
		}
	}
	return refer
}

// Whois is what a WHOIS answer says about expiry.
type Whois struct {
	Expires   time.Time
	Registrar string
	NotFound  bool
}

var (
	whoisExpiryKeys = []string{"registry expiry date", "registrar registration expiration date", "expiration date", "expiry date",
		"expiration time", "expires", "expires on", "expire", "expire date", "paid-till", "valid until", "renewal date", "free-date"}
	whoisNotFound = regexp.MustCompile(`(?im)no match for|no entries found|no data found|domain not found|object does not exist|^\s*not found|^\s*status:\s*(free|available)\s*$`)
	whoisLayouts  = []string{time.RFC3339, "2006-01-02T15:04:05Z", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04:05 MST",
		"2006-01-02", "2006.01.02", "2006/01/02", "02-Jan-2006", "02.01.2006", "2-Jan-2006", "January 2 2006", "Mon Jan 2 15:04:05 MST 2006",
		"2006-01-02 15:04:05-07:00", "2006-01-02T15:04:05.999999999Z07:00", "20060102"}
)

// ParseWhois reads an answer's expiry date and registrar; the first
// expiry key present wins, in the order of whoisExpiryKeys.
func ParseWhois(ans string) Whois {
	var w Whois
	found := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(ans))
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "%") || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ">>>") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if _, seen := found[k]; !seen {
			found[k] = v
		}
	}
	for _, k := range whoisExpiryKeys {
		if v, ok := found[k]; ok {
			if t, ok := parseWhoisTime(v); ok {
				w.Expires = t
				break
			}
		}
	}
	for _, k := range []string{"registrar", "registrar name", "sponsoring registrar"} {
		if v, ok := found[k]; ok {
			w.Registrar = v
			break
		}
	}
	if w.Expires.IsZero() && whoisNotFound.MatchString(ans) {
		w.NotFound = true
	}
	return w
}

func parseWhoisTime(v string) (time.Time, bool) {
	v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "."))
	if i := strings.Index(v, " ("); i > 0 {
		v = v[:i]
	}
	for _, l := range whoisLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
