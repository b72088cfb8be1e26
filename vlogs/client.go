package vlogs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// ClientOptions say how to reach VictoriaLogs.
type ClientOptions struct {
	URL string // base URL, e.g. http://127.0.0.1:9428 (a vmauth or vlinsert/vlselect in front of a cluster)
	// AccountID and ProjectID are the tenant (headers of every request).
	AccountID, ProjectID uint32
	// Basic auth, or a bearer token; not both.
	Username, Password string
	BearerToken        string
	// TLSCAFile trusts this CA (PEM) instead of the system roots.
	TLSCAFile             string
	TLSInsecureSkipVerify bool
	// Timeout bounds one insert request (default 30 s); queries are bound
	// by their context.
	Timeout time.Duration
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
}

// Client talks to VictoriaLogs' HTTP APIs.
type Client struct {
	o    ClientOptions
	base string
	hc   *http.Client
}

// NewClient checks the options.
func NewClient(o ClientOptions) (*Client, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("victorialogs url %q: want http(s)://host:port", o.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("victorialogs url: give the user and password in their own keys, not in the URL")
	}
	if o.BearerToken != "" && (o.Username != "" || o.Password != "") {
		return nil, errors.New("victorialogs: give a username and password or a bearer token, not both")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	rt := o.Transport
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.TLSInsecureSkipVerify}
		if o.TLSCAFile != "" {
			pem, err := os.ReadFile(o.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("victorialogs CA: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("victorialogs CA %s: no PEM certificate in it", o.TLSCAFile)
			}
			tr.TLSClientConfig.RootCAs = pool
		}
		rt = tr
	}
	return &Client{o: o, base: strings.TrimRight(o.URL, "/"), hc: &http.Client{Transport: rt}}, nil
}

// URL is the base URL.
func (c *Client) URL() string { return c.base }

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("AccountID", strconv.FormatUint(uint64(c.o.AccountID), 10))
	req.Header.Set("ProjectID", strconv.FormatUint(uint64(c.o.ProjectID), 10))
	switch {
	case c.o.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+c.o.BearerToken)
	case c.o.Username != "" || c.o.Password != "":
		req.SetBasicAuth(c.o.Username, c.o.Password)
	}
	return req, nil
}

// HTTPError is an answer other than 2xx.
type HTTPError struct {
	Status int
	Msg    string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Msg) }

func checkResponse(resp *http.Response) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return &HTTPError{Status: resp.StatusCode, Msg: strings.TrimSpace(string(msg))}
}

// insertParams: _msg and _time are named as sent; host and program make
// the stream.
const insertParams = "?_stream_fields=host,program&_msg_field=_msg&_time_field=_time"

// Insert posts a gzip-compressed batch of JSON lines. The Content-Type
// matters: without it VictoriaLogs answers 200 and stores nothing.
func (c *Client) Insert(ctx context.Context, gz []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodPost, "/insert/jsonline"+insertParams, bytes.NewReader(gz))
	if err != nil {
		return fmt.Errorf("victorialogs insert: %w", err)
	}
	req.Header.Set("Content-Type", "application/stream+json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("victorialogs insert: %w", err)
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		return fmt.Errorf("victorialogs insert: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

// maxRow bounds one row of a query answer (VictoriaLogs keeps rows under
// 2 MB; escaping may double that).
const maxRow = 8 << 20

// Query runs a LogsQL query and calls fn for each row (a JSON object);
// limit > 0 asks for the newest limit rows, which come oldest first.
func (c *Client) Query(ctx context.Context, q string, limit int, fn func(*fastjson.Value) error) error {
	form := url.Values{"query": {q}}
	if limit > 0 {
		form.Set("limit", strconv.Itoa(limit))
	}
	req, err := c.newRequest(ctx, http.MethodPost, "/select/logsql/query", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("victorialogs query: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("victorialogs query: %w", err)
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		return fmt.Errorf("victorialogs query [%s]: %w", q, err)
	}
	br := bufio.NewReaderSize(resp.Body, 256<<10)
	var p fastjson.Parser
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
				if len(long) > maxRow {
					return fmt.Errorf("victorialogs query: a row over %d bytes", maxRow)
				}
			}
			line = long
		}
		if len(bytes.TrimSpace(line)) > 0 {
			v, perr := p.ParseBytes(line)
			if perr != nil {
				return fmt.Errorf("victorialogs query: bad row: %w", perr)
			}
			if ferr := fn(v); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("victorialogs query: %w", err)
		}
	}
}

// Metrics reads VictoriaLogs' own /metrics: the value of every sample
// whose name starts with one of prefixes, keyed by the whole series.
func (c *Client) Metrics(ctx context.Context, prefixes ...string) (map[string]float64, error) {
	return c.MetricsAt(ctx, c.base+"/metrics", prefixes...)
}

// MetricsAt is Metrics from another URL (a cluster node), with the same
// credentials.
func (c *Client) MetricsAt(ctx context.Context, u string, prefixes ...string) (map[string]float64, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "", nil)
	if err == nil {
		req.URL, err = url.Parse(u)
	}
	if err == nil {
		req.Host = req.URL.Host
	}
	if err != nil {
		return nil, fmt.Errorf("victorialogs metrics: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("victorialogs metrics: %w", err)
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		return nil, fmt.Errorf("victorialogs metrics: %w", err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 64<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		match := false
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				match = true
				break
			}
		}
		if !match {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}
