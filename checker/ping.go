package checker

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/watchpost/watchpost/config"
)

// Ping defaults: three echo requests a quarter of a second apart, as
// many monitoring tools send, and at most 20.
const (
	DefaultPingCount = 3
	maxPingCount     = 20
	pingInterval     = 250 * time.Millisecond
	pingPayload      = 32
	pingReplyWait    = 2 * time.Second
)

// compilePing prepares a ping check: the target is a host name or an
// address (a URL's host is taken as well).
func compilePing(p *Probe, c config.Check) error {
	host := c.Target
	if h, _, err := splitHostPort(c.Target, "0"); err == nil {
		host = h
	}
	if host == "" {
		return fmt.Errorf("bad target %q: no host", c.Target)
	}
	p.host = host
	p.count = c.Count
	if p.count == 0 {
		p.count = DefaultPingCount
	}
	if p.count < 1 || p.count > maxPingCount {
		return fmt.Errorf("count: want 1 to %d echo requests, got %d", maxPingCount, c.Count)
	}
	return nil
}

// runPing sends the echo requests and reads the replies until every one
// came back or the probe's time is up. It uses an unprivileged ICMP
// socket where net.ipv4.ping_group_range admits the process's group, and
// a raw socket (CAP_NET_RAW) otherwise.
func runPing(ctx context.Context, p *Probe, v map[string]any) error {
	network := "ip"
	if p.opts.IPVersion == 4 || p.opts.IPVersion == 6 {
		network = fmt.Sprintf("ip%d", p.opts.IPVersion)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, network, p.host)
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("resolve %s: %w", p.host, err)
	}
	dst := addrs[0].Unmap()
	v["ip"] = dst.String()
	pc, kind, err := listenICMP(dst.Is6())
	if err != nil {
		return err
	}
	defer pc.close()
	v["icmp_socket"] = kind
	if dl, ok := ctx.Deadline(); ok {
		pc.conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { pc.conn.SetDeadline(time.Now()) })
	defer stop()

	var token [8]byte
	rand.Read(token[:])
	id := int(token[0])<<8 | int(token[1])
	var target net.Addr = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if kind == "unprivileged" {
		target = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	sent := make([]time.Time, p.count)
	var rtts []time.Duration
	ttl := -1
	got := make([]bool, p.count)
	replies := make(chan reply, p.count*2)
	readErr := make(chan error, 1)
	go func() { readErr <- pc.read(replies, dst, id, token[:], kind == "raw") }()

	timer := time.NewTimer(0)
	defer timer.Stop()
	var linger <-chan time.Time
	next, received := 0, 0
	for received < p.count {
		var send <-chan time.Time
		if next < p.count {
			send = timer.C
		}
		select {
		case <-send:
			msg := icmp.Message{Type: pc.echoType(), Body: &icmp.Echo{ID: id, Seq: next, Data: append(token[:], make([]byte, pingPayload-len(token))...)}}
			b, err := msg.Marshal(nil)
			if err != nil {
				return fmt.Errorf("ping %s: %w", dst, err)
			}
			sent[next] = time.Now()
			if _, err := pc.conn.WriteTo(b, target); err != nil {
				return fmt.Errorf("ping %s: send: %w", dst, err)
			}
			next++
			if next < p.count {
				timer.Reset(pingInterval)
			} else {
				// The last request has its own wait for a reply, as
				// ping -W has; the probe's timeout bounds it too.
				linger = time.After(pingReplyWait)
			}
		case r := <-replies:
			if r.seq < 0 || r.seq >= next || got[r.seq] {
				continue // a duplicate, or a reply to a request not sent by this run
			}
			got[r.seq] = true
			received++
			rtts = append(rtts, r.at.Sub(sent[r.seq]))
			if r.ttl >= 0 {
				ttl = r.ttl
			}
		case <-linger:
			received = p.count // stop: what came back is all
			continue
		case err := <-readErr:
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("ping %s: %w", dst, err)
			}
			if next < p.count {
				return fmt.Errorf("ping %s: only %d of %d echo requests sent in time", dst, next, p.count)
			}
			received = p.count
			continue
		}
	}
	putPing(v, p.count, rtts, ttl)
	return nil
}

func putPing(v map[string]any, count int, rtts []time.Duration, ttl int) {
	v["sent"] = count
	v["received"] = len(rtts)
	v["loss"] = math.Round(1000*float64(count-len(rtts))/float64(count)) / 10
	if ttl >= 0 {
		v["ttl"] = ttl
	}
	if len(rtts) == 0 {
		return
	}
	lo, hi, sum := rtts[0], rtts[0], time.Duration(0)
	for _, d := range rtts {
		lo, hi, sum = min(lo, d), max(hi, d), sum+d
	}
	v["rtt"] = sum / time.Duration(len(rtts))
	v["rtt_min"], v["rtt_max"] = lo, hi
	v["response_time"] = v["rtt"]
}

type reply struct {
	seq int
	at  time.Time
	ttl int
}

// icmpConn is one ICMP socket, of either family.
type icmpConn struct {
	conn *icmp.PacketConn
	v6   bool
}

func (c *icmpConn) close() { c.conn.Close() }

func (c *icmpConn) echoType() icmp.Type {
	if c.v6 {
		return ipv6.ICMPTypeEchoRequest
	}
	return ipv4.ICMPTypeEcho
}

// listenICMP opens an unprivileged ICMP socket, or a raw one when the
// kernel refuses that.
func listenICMP(v6 bool) (*icmpConn, string, error) {
	udp, raw, any := "udp4", "ip4:icmp", "0.0.0.0"
	if v6 {
		udp, raw, any = "udp6", "ip6:ipv6-icmp", "::"
	}
	c, err := icmp.ListenPacket(udp, any)
	kind := "unprivileged"
	if err != nil {
		var rawErr error
		c, rawErr = icmp.ListenPacket(raw, any)
		kind = "raw"
		if rawErr != nil {
			if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(rawErr, syscall.EPERM) {
				return nil, "", fmt.Errorf("no ICMP socket: the process's group is outside net.ipv4.ping_group_range and it lacks CAP_NET_RAW (see the README's ping section): %w", err)
			}
			return nil, "", fmt.Errorf("no ICMP socket: %v; raw: %w", err, rawErr)
		}
	}
	ic := &icmpConn{conn: c, v6: v6}
	if v6 {
		if pc := c.IPv6PacketConn(); pc != nil {
			pc.SetControlMessage(ipv6.FlagHopLimit, true)
		}
	} else if pc := c.IPv4PacketConn(); pc != nil {
		pc.SetControlMessage(ipv4.FlagTTL, true)
	}
	return ic, kind, nil
}

// read delivers the echo replies from dst that carry this run's token
// (and, on a raw socket that sees every reply to the host, its id) until
// the socket's deadline.
func (c *icmpConn) read(out chan<- reply, dst netip.Addr, id int, token []byte, checkID bool) error {
	buf := make([]byte, 1500)
	proto := 1
	if c.v6 {
		proto = 58
	}
	for {
		var n, ttl int
		var src net.Addr
		var err error
		if c.v6 {
			var cm *ipv6.ControlMessage
			n, cm, src, err = c.conn.IPv6PacketConn().ReadFrom(buf)
			ttl = -1
			if cm != nil {
				ttl = cm.HopLimit
			}
		} else {
			var cm *ipv4.ControlMessage
			n, cm, src, err = c.conn.IPv4PacketConn().ReadFrom(buf)
			ttl = -1
			if cm != nil {
				ttl = cm.TTL
			}
		}
		if err != nil {
			return err
		}
		at := time.Now()
		if addrOf(src) != dst {
			continue
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || (m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply) {
			continue
		}
		e, ok := m.Body.(*icmp.Echo)
		if !ok || !bytes.HasPrefix(e.Data, token) || (checkID && e.ID != id) {
			continue
		}
		select {
		case out <- reply{seq: e.Seq, at: at, ttl: ttl}:
		default:
		}
	}
}

func addrOf(a net.Addr) netip.Addr {
	var ip net.IP
	switch x := a.(type) {
	case *net.IPAddr:
		ip = x.IP
	case *net.UDPAddr:
		ip = x.IP
	}
	ad, _ := netip.AddrFromSlice(ip)
	return ad.Unmap()
}
