package checker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/watchpost/watchpost/config"
)

// maxTCPRead bounds what a tcp or tls probe reads back: a banner or a
// short reply, not a download.
const maxTCPRead = 64 << 10

// compileTCP serves both tcp and tls checks: a tls check is a tcp check
// with a handshake, and both may send the check's body and test the reply.
func compileTCP(p *Probe, c config.Check) error {
	host, port, err := splitHostPort(c.Target, "")
	if err != nil {
		return &FieldError{Key: "target", Err: err}
	}
	p.host = host
	p.addr = net.JoinHostPort(host, port)
	p.body = c.Body
	return nil
}

func runTCP(ctx context.Context, p *Probe, v map[string]any) error {
	start := time.Now()
	v["connected"] = false
	conn, err := p.connect(ctx, v)
	if err != nil {
		return err
	}
	defer conn.Close()
	if p.Type == "tls" {
		tc := tls.Client(conn, p.tlsConfig(p.host))
		if err := tc.HandshakeContext(ctx); err != nil {
			v["response_time"] = time.Since(start)
			p.putUnverified(v, err)
			return fmt.Errorf("TLS handshake with %s: %w", p.addr, err)
		}
		v["tls"] = true
		p.putTLS(v, tc.ConnectionState())
		conn = tc
	}
	v["response_time"] = time.Since(start)
	if p.body != "" {
		if _, err := io.WriteString(conn, p.body); err != nil {
			return fmt.Errorf("send to %s: %w", p.addr, err)
		}
	}
	if !p.reads["body"] && !p.reads["body.json"] {
		return nil
	}
	return p.readReply(conn, v)
}

// readReply reads until the conditions on the body pass, the peer closes,
// or the deadline: this is blackbox_exporter's "expect" without a second
// language. A reply that never satisfies them is a failed condition, not
// a probe error.
func (p *Probe) readReply(conn net.Conn, v map[string]any) error {
	buf := make([]byte, 0, 4096)
	chunk := make([]byte, 4096)
	for len(buf) < maxTCPRead {
		n, err := conn.Read(chunk)
		buf = append(buf, chunk[:min(n, maxTCPRead-len(buf))]...)
		v["body"] = string(buf)
		if n > 0 && p.bodyConditionsPass(v) {
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return fmt.Errorf("read from %s: %w", p.addr, err)
		}
	}
	return nil
}

func (p *Probe) bodyConditionsPass(v map[string]any) bool {
	env := &evalEnv{values: v}
	for _, cs := range [][]*Condition{p.conds, p.warns} {
		for _, c := range cs {
			if c.key != "body" && c.key != "body.json" {
				continue
			}
			if ok, _ := c.eval(env); !ok {
				return false
			}
		}
	}
	return true
}
