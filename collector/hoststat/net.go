package hoststat

import (
	"errors"
	"strconv"
	"syscall"

	"github.com/watchpost/watchpost/munin"
)

// netState keeps one entry per interface with its three graphs (munin's
// if_IFACE and if_err_IFACE, and if_packets_IFACE), built when the
// interface first shows up.
type netState struct {
	ifaces  map[string]*iface
	scratch netdev
	round   uint64

	snmp     snmpTCP
	netstatG *munin.Graph
	estG     *munin.Graph

	tcp     tcpStates
	tcpG    *munin.Graph
	diagOff bool // sock_diag refused: read /proc/net/tcp instead
	diagBuf []byte
}

type iface struct {
	seen              uint64
	bytes, errs, pkts *munin.Graph
}

// suggestInterface is the if_ plugin's `suggest` rule: everything but lo,
// greN, sitN and VLAN sub-interfaces such as eth0.100.
func suggestInterface(name []byte) bool {
	s := string(name)
	if s == "lo" {
		return false
	}
	if len(s) == 4 && s[:3] == "gre" && s[3] >= '0' && s[3] <= '9' {
		return false
	}
	if len(s) > 3 && s[:3] == "sit" {
		if _, ok := parseUint(name[3:]); ok {
			return false
		}
	}
	// [a-z0-9]+\.[0-9]+
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			if i == 0 {
				return true
			}
			for j := 0; j < i; j++ {
				if !(s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
					return true
				}
			}
			if _, ok := parseUint(name[i+1:]); ok {
				return false
			}
			return true
		}
	}
	return true
}

// graphSafe makes an interface or device name usable inside a graph name.
func graphSafe(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

func (c *Collector) newIface(name string) *iface {
	n := graphSafe(name)
	bytesG := &munin.Graph{
		Name: "if_" + n, Title: name + " traffic", Args: "--base 1000", Category: "network",
		Order:  []string{"down", "up"},
		VLabel: "bits in (-) / out (+) per ${graph_period}",
		Info:   "This graph shows the traffic of the " + name + " network interface. Please note that the traffic is shown in bits per second, not bytes.",
		Fields: []munin.Field{
			{Name: "down", Label: "received", Type: munin.Derive, Graph: "no", Cdef: "down,8,*", Min: "0"},
			{Name: "up", Label: "bps", Type: munin.Derive, Negative: "down", Cdef: "up,8,*", Min: "0",
				Info: "Traffic of the " + name + " interface. Unable to determine interface speed."},
		},
	}
	// The interface speed only goes into the config, so it is read once,
	// when the interface appears. munin sets max to the speed in bits on
	// the byte counters; copied as is so thresholds look the same.
	c.fr.setPath(c.sys, "/class/net/", name, "/speed")
	if b, err := c.fr.read(); err == nil {
		if mbps, err := parseSingle(b); err == nil && mbps > 0 && mbps < 1<<40 {
			bps := strconv.FormatUint(mbps*1000*1000, 10)
			bytesG.Fields[0].Max = bps
			bytesG.Fields[1].Max = bps
			bytesG.Fields[1].Info = "Traffic of the " + name + " interface. Maximum speed is " + strconv.FormatUint(mbps, 10) + " Mb/s."
		}
	}
	errsG := &munin.Graph{
		Name: "if_err_" + n, Title: name + " errors", Args: "--base 1000", Category: "network",
		Order:  []string{"rcvd", "trans"},
		VLabel: "packets in (-) / out (+) per ${graph_period}",
		Info:   "This graph shows the amount of errors, packet drops, and collisions on the " + name + " network interface.",
		Fields: []munin.Field{
			{Name: "rcvd", Label: "errors", Type: munin.Counter, Graph: "no", Warning: "1"},
			{Name: "trans", Label: "errors", Type: munin.Counter, Negative: "rcvd", Warning: "1"},
			{Name: "rxdrop", Label: "drops", Type: munin.Counter, Graph: "no"},
			{Name: "txdrop", Label: "drops", Type: munin.Counter, Negative: "rxdrop"},
			{Name: "collisions", Label: "collisions", Type: munin.Counter},
		},
	}
	// Not a stock plugin: packets per second in the if_ layout.
	pktsG := &munin.Graph{
		Name: "if_packets_" + n, Title: name + " packets", Args: "--base 1000", Category: "network",
		Order:  []string{"down", "up"},
		VLabel: "packets in (-) / out (+) per ${graph_period}",
		Info:   "This graph shows the packets received and sent on the " + name + " network interface.",
		Fields: []munin.Field{
			{Name: "down", Label: "received", Type: munin.Derive, Graph: "no", Min: "0"},
			{Name: "up", Label: "pps", Type: munin.Derive, Negative: "down", Min: "0"},
		},
	}
	return &iface{bytes: bytesG, errs: errsG, pkts: pktsG}
}

func (c *Collector) readNetDev() error {
	n := &c.net
	b, err := c.fr.readFile(c.proc, "/net/dev")
	if err != nil {
		return err
	}
	// Interface speed reads reuse the file buffer, so the content moves
	// aside first.
	if n.ifaces == nil {
		n.ifaces = make(map[string]*iface)
	}
	n.round++
	seen := 0
	c.fr.buf = nil // b keeps the buffer; newIface reads into a new one
	parseNetDev(b, &n.scratch, func(name []byte, d *netdev) {
		if c.ifs != nil {
			if !c.ifs[string(name)] {
				return
			}
		} else if !suggestInterface(name) {
			return
		}
		ifc := n.ifaces[string(name)]
		if ifc == nil {
			ifc = c.newIface(string(name))
			n.ifaces[string(name)] = ifc
		}
		ifc.seen = n.round
		seen++
		c.begin(ifc.bytes)
		c.val("down", float64(d.rx[0]))
		c.val("up", float64(d.tx[0]))
		c.begin(ifc.errs)
		c.val("rcvd", float64(d.rx[2]))
		c.val("trans", float64(d.tx[2]))
		c.val("rxdrop", float64(d.rx[3]))
		c.val("txdrop", float64(d.tx[3]))
		c.val("collisions", float64(d.tx[5]))
		c.begin(ifc.pkts)
		c.val("down", float64(d.rx[1]))
		c.val("up", float64(d.tx[1]))
	})
	c.fr.buf = b[:0]
	if seen < len(n.ifaces) {
		for k, v := range n.ifaces {
			if v.seen != n.round {
				delete(n.ifaces, k)
			}
		}
	}
	return nil
}

func (c *Collector) readSNMP() error {
	n := &c.net
	b, err := c.fr.readFile(c.proc, "/net/snmp")
	if err != nil {
		return err
	}
	if err := parseSNMP(b, &n.snmp); err != nil {
		return err
	}
	if n.netstatG == nil {
		const info = "This graph shows the TCP activity of all the network interfaces combined."
		n.netstatG = &munin.Graph{
			Name: "netstat", Title: "Netstat, combined", Args: "--units=si -l 1 --base 1000 --logarithmic",
			VLabel: "TCP connections", Category: "network", Period: "second", Info: info,
			Fields: []munin.Field{
				{Name: "active", Label: "active", Type: munin.Derive, Min: "0", Max: "50000", Info: "The number of active TCP openings per second."},
				{Name: "passive", Label: "passive", Type: munin.Derive, Min: "0", Max: "50000", Info: "The number of passive TCP openings per second."},
				{Name: "failed", Label: "failed", Type: munin.Derive, Min: "0", Max: "50000", Info: "The number of failed TCP connection attempts per second."},
				{Name: "resets", Label: "resets", Type: munin.Derive, Min: "0", Max: "50000", Info: "The number of TCP connection resets."},
				{Name: "established", Label: "established", Type: munin.Gauge, Info: "The number of currently open connections."},
			},
		}
		n.estG = &munin.Graph{
			Name: "netstat_established", Title: "Netstat, established only", Args: "--lower-limit 0",
			VLabel: "TCP connections", Category: "network", Period: "second", Info: info,
			Fields: []munin.Field{{Name: "established", Label: "established", Type: munin.Gauge, Info: "The number of currently open connections."}},
		}
	}
	s := &n.snmp
	c.begin(n.netstatG)
	c.val("active", float64(s.activeOpens))
	c.val("passive", float64(s.passiveOpens))
	c.val("failed", float64(s.attemptFails))
	c.val("resets", float64(s.estabResets))
	c.val("established", float64(s.currEstab))
	c.begin(n.estG)
	c.val("established", float64(s.currEstab))
	return nil
}

// tcpStateNames are the kernel's TCP states by number (include/net/tcp_states.h).
var tcpStateNames = [...]string{1: "established", 2: "syn_sent", 3: "syn_recv", 4: "fin_wait1", 5: "fin_wait2",
	6: "time_wait", 7: "close", 8: "close_wait", 9: "last_ack", 10: "listen", 11: "closing"}

// readTCP counts IPv4 and IPv6 sockets per state, the graph of munin's
// contributed tcp plugin (netstat -tan by state), through sock_diag
// netlink, or /proc/net/tcp{,6} where netlink is refused. tcp6 is missing
// when IPv6 is off; that is not an error.
func (c *Collector) readTCP() error {
	n := &c.net
	n.tcp = tcpStates{}
	if !n.diagOff {
		if cap(n.diagBuf) < diagRecvBufferLen {
			n.diagBuf = make([]byte, diagRecvBufferLen)
		}
		err := sockDiagTCP(syscall.AF_INET, &n.tcp, n.diagBuf[:diagRecvBufferLen])
		if err == nil {
			err = sockDiagTCP(syscall.AF_INET6, &n.tcp, n.diagBuf[:diagRecvBufferLen])
			if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EAFNOSUPPORT) {
				err = nil // no IPv6
			}
		}
		if err != nil {
			c.log.Info("sock_diag refused; counting TCP states from /proc/net/tcp", "err", err)
			n.diagOff = true
			n.tcp = tcpStates{}
		}
	}
	if n.diagOff {
		b, err := c.fr.readFile(c.proc, "/net/tcp")
		if err != nil {
			return err
		}
		parseNetTCP(b, &n.tcp)
		b, err = c.fr.readFile(c.proc, "/net/tcp6")
		if err != nil && !isNotExist(err) {
			return err
		}
		if err == nil {
			parseNetTCP(b, &n.tcp)
		}
	}
	if n.tcpG == nil {
		n.tcpG = &munin.Graph{
			Name: "tcp", Title: "TCP connection states", Args: "--base 1000 -l 0", VLabel: "connections", Category: "network",
			Info: "This graph shows the TCP sockets (IPv4 and IPv6) by state.",
		}
		for i := 1; i < len(tcpStateNames); i++ {
			n.tcpG.Fields = append(n.tcpG.Fields, munin.Field{Name: tcpStateNames[i], Label: tcpStateNames[i], Draw: "LINE1"})
		}
	}
	c.begin(n.tcpG)
	for i := 1; i < len(tcpStateNames); i++ {
		c.val(tcpStateNames[i], float64(n.tcp[i]))
	}
	return nil
}
