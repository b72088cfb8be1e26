package checker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/watchpost/watchpost/config"
)

// compileUDP prepares a udp check: the body is sent as one datagram to
// host:port; when a condition reads the reply (body, body.json.PATH,
// replied), the probe waits for one datagram back until its timeout.
// Binary payloads are written with YAML's double-quoted escapes ("\xff").
func compileUDP(p *Probe, c config.Check) error {
	host, port, err := splitHostPort(c.Target, "")
	if err != nil {
		return err
	}
	p.host = host
	p.addr = net.JoinHostPort(host, port)
	p.body = c.Body
	return nil
}

func runUDP(ctx context.Context, p *Probe, v map[string]any) error {
	network := "udp"
	switch p.opts.IPVersion {
	case 4:
		network = "udp4"
	case 6:
		network = "udp6"
	}
	start := time.Now()
	// A connected socket: the kernel hands back only the target's
	// datagrams, and an ICMP port unreachable as ECONNREFUSED.
	conn, err := (&net.Dialer{}).DialContext(ctx, network, p.addr)
	if err != nil {
		return fmt.Errorf("udp %s: %w", p.addr, err)
	}
	defer conn.Close()
	if h, _, err := net.SplitHostPort(conn.RemoteAddr().String()); err == nil {
		v["ip"] = h
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte(p.body)); err != nil {
		return fmt.Errorf("send to %s: %w", p.addr, err)
	}
	v["replied"] = false
	if !p.reads["body"] && !p.reads["body.json"] && !p.reads["replied"] {
		v["response_time"] = time.Since(start)
		return nil
	}
	buf := make([]byte, 65535)
	n, err := conn.Read(buf)
	v["response_time"] = time.Since(start)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("udp %s: port unreachable (nothing listens there)", p.addr)
	case errors.Is(err, os.ErrDeadlineExceeded):
		if p.reads["replied"] && !p.reads["body"] && !p.reads["body.json"] {
			return nil // "replied == false" may be what is wanted
		}
		return fmt.Errorf("udp %s: no reply within %s", p.addr, formatDuration(p.Timeout))
	case err != nil:
		return fmt.Errorf("udp %s: %w", p.addr, err)
	}
	v["replied"] = true
	v["body"] = string(buf[:n])
	return nil
}
