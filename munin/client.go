package munin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Limits on what a polled node may send: a hostile or broken node gets an
// error, never our memory.
const (
	clientMaxLine  = 64 << 10
	clientMaxBytes = 16 << 20
	// clientMaxServices bounds a poll round: each service costs two
	// exchanges.
	clientMaxServices = 2000
)

// Client talks to a munin-node. It is also a Source, so a Node can relay
// another node. Its methods are not for concurrent use (one session is
// one conversation); the mutex only guards against misuse.
type Client struct {
	mu       sync.Mutex
	conn     net.Conn
	r        *bufio.Reader
	timeout  time.Duration
	Hostname string   // from the banner
	Caps     []string // what the node answered to `cap`
}

// Dial connects to addr and reads the banner. timeout bounds each
// exchange (0: 30 s).
func Dial(ctx context.Context, addr string, timeout time.Duration) (*Client, error) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("munin dial %s: %w", addr, err)
	}
	c := NewClient(conn, timeout)
	if err := c.ReadBanner(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("munin %s: %w", addr, err)
	}
	return c, nil
}

// ReadBanner reads "# munin node at HOST" and sets Hostname.
func (c *Client) ReadBanner() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	line, err := c.readLine()
	if err != nil {
		return fmt.Errorf("banner: %w", err)
	}
	host, ok := strings.CutPrefix(line, "# munin node at ")
	if !ok {
		return fmt.Errorf("banner: unexpected %q", trunc(line))
	}
	c.Hostname = strings.TrimSpace(host)
	return nil
}

// NewClient wraps a connection whose banner the caller reads (or has
// read); tests and fuzzing use it on pipes.
func NewClient(conn net.Conn, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Client{conn: conn, r: bufio.NewReaderSize(conn, 4096), timeout: timeout}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func (c *Client) readLine() (string, error) {
	var buf []byte
	for {
		frag, err := c.r.ReadSlice('\n')
		if len(buf)+len(frag) > clientMaxLine {
			return "", fmt.Errorf("line over %d bytes", clientMaxLine)
		}
		buf = append(buf, frag...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if err == io.EOF && len(buf) > 0 {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
	return strings.TrimRight(string(buf), "\r\n"), nil
}

func (c *Client) send(ctx context.Context, cmd string) error {
	dl := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.conn.SetDeadline(dl)
	if _, err := io.WriteString(c.conn, cmd+"\n"); err != nil {
		return fmt.Errorf("munin %s: %w", strings.Fields(cmd + " x")[0], err)
	}
	return nil
}

// exchange sends cmd and reads a one-line answer.
func (c *Client) exchange(ctx context.Context, cmd string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.send(ctx, cmd); err != nil {
		return "", err
	}
	l, err := c.readLine()
	if err != nil {
		return "", fmt.Errorf("munin %s: %w", cmd, err)
	}
	return l, nil
}

// multi sends cmd and reads lines up to the "." terminator.
func (c *Client) multi(ctx context.Context, cmd string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.send(ctx, cmd); err != nil {
		return nil, err
	}
	return c.readBlock(cmd)
}

func (c *Client) readBlock(cmd string) ([]byte, error) {
	var b bytes.Buffer
	for {
		l, err := c.readLine()
		if err != nil {
			return nil, fmt.Errorf("munin %s: %w", cmd, err)
		}
		if l == "." {
			return b.Bytes(), nil
		}
		if b.Len()+len(l) > clientMaxBytes {
			return nil, fmt.Errorf("munin %s: answer over %d bytes", cmd, clientMaxBytes)
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
}

// Cap announces our capabilities and records the node's.
func (c *Client) Cap(ctx context.Context, caps ...string) ([]string, error) {
	l, err := c.exchange(ctx, "cap "+strings.Join(caps, " "))
	if err != nil {
		return nil, err
	}
	rest, ok := strings.CutPrefix(l, "cap")
	if !ok {
		// munin-node 1.2 knows no cap and says so; it is not an error.
		return nil, nil
	}
	c.Caps = strings.Fields(rest)
	return c.Caps, nil
}

// List returns the node's services (for its own host name).
func (c *Client) List(ctx context.Context) ([]string, error) {
	l, err := c.exchange(ctx, "list")
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(l, "#") {
		return nil, fmt.Errorf("munin list: %q", trunc(l))
	}
	names := strings.Fields(l)
	if len(names) > clientMaxServices {
		return nil, fmt.Errorf("munin list: %d services, more than %d", len(names), clientMaxServices)
	}
	return names, nil
}

// Nodes returns the host names the node serves.
func (c *Client) Nodes(ctx context.Context) ([]string, error) {
	b, err := c.multi(ctx, "nodes")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

// Version returns the node's version line.
func (c *Client) Version(ctx context.Context) (string, error) {
	return c.exchange(ctx, "version")
}

// nodeError turns a one-line error answer back into the Source errors.
func nodeError(name string, b []byte) error {
	switch strings.TrimSpace(string(b)) {
	case "# Unknown service":
		return ErrUnknownService
	case "# Timed out":
		return ErrTimedOut
	case "# Bad exit":
		return &ExitError{Plugin: name, Err: errors.New("bad exit (reported by the node)")}
	}
	return nil
}

func validService(name string) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n") {
		return fmt.Errorf("munin: bad service name %q", trunc(name))
	}
	return nil
}

// Config returns `config NAME`'s lines, without the terminator.
func (c *Client) Config(ctx context.Context, name string) ([]byte, error) {
	if err := validService(name); err != nil {
		return nil, err
	}
	b, err := c.multi(ctx, "config "+name)
	if err != nil {
		return nil, err
	}
	return b, nodeError(name, b)
}

// Fetch returns `fetch NAME`'s lines, without the terminator.
func (c *Client) Fetch(ctx context.Context, name string) ([]byte, error) {
	if err := validService(name); err != nil {
		return nil, err
	}
	b, err := c.multi(ctx, "fetch "+name)
	if err != nil {
		return nil, err
	}
	return b, nodeError(name, b)
}

// Close says quit and closes the connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.SetDeadline(time.Now().Add(time.Second))
	io.WriteString(c.conn, "quit\n")
	return c.conn.Close()
}

// Poll runs one munin master round against addr: banner, `cap
// multigraph`, `list`, then `config` and `fetch` of every service. A
// service that fails is reported in err (joined) while the others'
// graphs and values are still returned; a failed connection returns
// whatever was read before it.
func Poll(ctx context.Context, addr string, timeout time.Duration) (hostname string, graphs []Graph, fetches []Fetch, err error) {
	c, err := Dial(ctx, addr, timeout)
	if err != nil {
		return "", nil, nil, err
	}
	return c.Poll(ctx)
}

// Poll runs the master round of the package-level Poll on a connected
// client (banner read), then closes it.
func (c *Client) Poll(ctx context.Context) (hostname string, graphs []Graph, fetches []Fetch, err error) {
	defer c.Close()
	if _, err := c.Cap(ctx, "multigraph"); err != nil {
		return c.Hostname, nil, nil, err
	}
	names, err := c.List(ctx)
	if err != nil {
		return c.Hostname, nil, nil, err
	}
	var errs []error
	for _, name := range names {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		cb, err := c.Config(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("config %s: %w", name, err))
			if !errors.Is(err, ErrUnknownService) && !errors.Is(err, ErrTimedOut) && nodeError(name, cb) == nil {
				break // the connection itself failed
			}
			continue
		}
		g, perr := ParseConfig(name, cb)
		if perr != nil {
			errs = append(errs, fmt.Errorf("config %s: %w", name, perr))
		}
		graphs = append(graphs, g...)
		fb, err := c.Fetch(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("fetch %s: %w", name, err))
			if nodeError(name, fb) == nil {
				break
			}
			continue
		}
		f, perr := ParseFetch(name, fb)
		if perr != nil {
			errs = append(errs, fmt.Errorf("fetch %s: %w", name, perr))
		}
		fetches = append(fetches, f...)
	}
	return c.Hostname, graphs, fetches, errors.Join(errs...)
}
