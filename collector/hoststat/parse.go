package hoststat

import (
	"bytes"
	"errors"
)

// The parsers below read the text formats of /proc without allocating:
// they run every collection round on small hosts, so they walk the bytes
// in place and hand out sub-slices. Every one is fuzzed (fuzz_test.go):
// hostile or truncated input yields an error or partial data, never a
// panic.

var errFormat = errors.New("unexpected format")

// nextLine returns the line starting at b[i:] and the index after it.
func nextLine(b []byte, i int) (line []byte, next int) {
	if i >= len(b) {
		return nil, len(b)
	}
	j := bytes.IndexByte(b[i:], '\n')
	if j < 0 {
		return b[i:], len(b)
	}
	return b[i : i+j], i + j + 1
}

// field returns the whitespace-separated field starting at or after b[i:]
// and the index after it; an empty field means the line is exhausted.
func field(b []byte, i int) (f []byte, next int) {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\t' {
		j++
	}
	return b[i:j], j
}

// parseUint reads a decimal unsigned integer; overflow and anything but
// digits fail.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseHex reads a hexadecimal unsigned integer (the state column of
// /proc/net/tcp).
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(d)
	}
	return n, true
}

// parseDecimal reads the fixed-point numbers of /proc/loadavg and
// /proc/uptime ("0.32", "12345.67") without strconv's string argument.
func parseDecimal(b []byte) (float64, bool) {
	dot := bytes.IndexByte(b, '.')
	if dot < 0 {
		n, ok := parseUint(b)
		return float64(n), ok
	}
	ip, ok := parseUint(b[:dot])
	if !ok {
		return 0, false
	}
	frac := b[dot+1:]
	if len(frac) == 0 {
		return float64(ip), true
	}
	if len(frac) > 9 {
		frac = frac[:9]
	}
	fp, ok := parseUint(frac)
	if !ok {
		return 0, false
	}
	div := 1.0
	for range frac {
		div *= 10
	}
	return float64(ip) + float64(fp)/div, true
}

// procStat is what /proc/stat says: the aggregate cpu line in USER_HZ
// ticks (cpuCols says how many columns the kernel gave), the cpu count and
// the counters behind forks, interrupts and vmstat.
type procStat struct {
	cpu       [10]uint64 // user nice system idle iowait irq softirq steal guest guest_nice
	cpuCols   int
	ncpu      int
	intr      uint64
	ctxt      uint64
	processes uint64
	running   uint64
	blocked   uint64
	btime     uint64
}

func parseProcStat(b []byte, s *procStat) error {
	*s = procStat{}
	seen := false
	for i := 0; i < len(b); {
		var line []byte
		line, i = nextLine(b, i)
		key, j := field(line, 0)
		switch {
		case string(key) == "cpu":
			seen = true
			for k := 0; k < len(s.cpu); k++ {
				var f []byte
				f, j = field(line, j)
				n, ok := parseUint(f)
				if !ok {
					break
				}
				s.cpu[k] = n
				s.cpuCols = k + 1
			}
		case len(key) > 3 && string(key[:3]) == "cpu":
			if _, ok := parseUint(key[3:]); ok {
				s.ncpu++
			}
		default:
			f, _ := field(line, j)
			n, ok := parseUint(f)
			if !ok {
				continue
			}
			switch string(key) {
			case "intr":
				s.intr = n
			case "ctxt":
				s.ctxt = n
			case "processes":
				s.processes = n
			case "procs_running":
				s.running = n
			case "procs_blocked":
				s.blocked = n
			case "btime":
				s.btime = n
			}
		}
	}
	if !seen || s.cpuCols < 4 {
		return errFormat
	}
	return nil
}

// meminfo keys munin's memory plugin uses, as indexes into meminfo.v.
const (
	miMemTotal = iota
	miMemFree
	miBuffers
	miCached
	miSwapCached
	miActive
	miInactive
	miSwapTotal
	miSwapFree
	miMapped
	miShmem
	miSlab
	miPageTables
	miCommitted
	miVmallocUsed
	miPercpu
	miMemAvailable
	miCount
)

// meminfo holds the values in bytes and which keys were present: munin
// only draws the fields the kernel reports.
type meminfo struct {
	v       [miCount]uint64
	present uint32
}

func (m *meminfo) has(k int) bool { return m.present&(1<<k) != 0 }

func meminfoKey(k []byte) int {
	switch string(k) {
	case "MemTotal":
		return miMemTotal
	case "MemFree":
		return miMemFree
	case "Buffers":
		return miBuffers
	case "Cached":
		return miCached
	case "SwapCached":
		return miSwapCached
	case "Active":
		return miActive
	case "Inactive":
		return miInactive
	case "SwapTotal":
		return miSwapTotal
	case "SwapFree":
		return miSwapFree
	case "Mapped":
		return miMapped
	case "Shmem":
		return miShmem
	case "Slab":
		return miSlab
	case "PageTables":
		return miPageTables
	case "Committed_AS":
		return miCommitted
	case "VmallocUsed":
		return miVmallocUsed
	case "Percpu":
		return miPercpu
	case "MemAvailable":
		return miMemAvailable
	}
	return -1
}

func parseMeminfo(b []byte, m *meminfo) error {
	*m = meminfo{}
	for i := 0; i < len(b); {
		var line []byte
		line, i = nextLine(b, i)
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			continue
		}
		k := meminfoKey(line[:c])
		if k < 0 {
			continue
		}
		f, j := field(line, c+1)
		n, ok := parseUint(f)
		if !ok {
			continue
		}
		// Values are in kB when a unit is given (munin multiplies by
		// 1024 exactly as here).
		if unit, _ := field(line, j); len(unit) > 0 {
			if n > (1<<64-1)/1024 {
				continue
			}
			n *= 1024
		}
		m.v[k] = n
		m.present |= 1 << k
	}
	if !m.has(miMemTotal) {
		return errFormat
	}
	return nil
}

// loadavg is /proc/loadavg: the three averages and the scheduling
// entities (threads) running and in total.
type loadavg struct {
	load           [3]float64
	running, total uint64
}

func parseLoadavg(b []byte, l *loadavg) error {
	*l = loadavg{}
	j := 0
	for k := 0; k < 3; k++ {
		var f []byte
		f, j = field(b, j)
		v, ok := parseDecimal(f)
		if !ok {
			return errFormat
		}
		l.load[k] = v
	}
	f, _ := field(b, j)
	if s := bytes.IndexByte(f, '/'); s > 0 {
		l.running, _ = parseUint(f[:s])
		l.total, _ = parseUint(bytes.TrimRight(f[s+1:], "\n"))
	}
	return nil
}

// parseUptime reads the first number of /proc/uptime (seconds).
func parseUptime(b []byte) (float64, error) {
	f, _ := field(bytes.TrimRight(b, "\n"), 0)
	v, ok := parseDecimal(f)
	if !ok {
		return 0, errFormat
	}
	return v, nil
}

// parseFileNr reads /proc/sys/fs/file-nr: allocated, free (always 0 on
// 2.6+) and maximum file handles.
func parseFileNr(b []byte) (alloc, free, max uint64, err error) {
	b = bytes.TrimRight(b, "\n")
	var f []byte
	var j int
	var ok1, ok2, ok3 bool
	f, j = field(b, 0)
	alloc, ok1 = parseUint(f)
	f, j = field(b, j)
	free, ok2 = parseUint(f)
	f, _ = field(b, j)
	max, ok3 = parseUint(f)
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, errFormat
	}
	return alloc, free, max, nil
}

// parseSingle reads a file holding one integer (entropy_avail, speed).
func parseSingle(b []byte) (uint64, error) {
	f, _ := field(bytes.TrimSpace(b), 0)
	n, ok := parseUint(f)
	if !ok {
		return 0, errFormat
	}
	return n, nil
}

// diskstat is one /proc/diskstats line: fields 4..20 of the kernel's
// documentation (reads, reads merged, sectors read, ms reading, writes,
// ..., ms doing I/O, weighted ms, discards...). n counts those present.
type diskstat struct {
	v [17]uint64
	n int
}

// Indexes into diskstat.v.
const (
	dsReads       = 0
	dsReadSectors = 2
	dsReadMs      = 3
	dsWrites      = 4
	dsWriteSect   = 6
	dsWriteMs     = 7
	dsIOMs        = 9
)

// parseDiskstats calls fn for every device line with at least the eleven
// classic counters (older kernels give partitions four; munin skips those
// too). d is the caller's scratch: a local would escape through fn.
func parseDiskstats(b []byte, d *diskstat, fn func(name []byte, d *diskstat)) {
	for i := 0; i < len(b); {
		var line []byte
		line, i = nextLine(b, i)
		_, j := field(line, 0) // major
		_, j = field(line, j)  // minor
		var name []byte
		name, j = field(line, j)
		if len(name) == 0 {
			continue
		}
		*d = diskstat{}
		for k := 0; k < len(d.v); k++ {
			var f []byte
			f, j = field(line, j)
			n, ok := parseUint(f)
			if !ok {
				break
			}
			d.v[k] = n
			d.n = k + 1
		}
		if d.n >= 11 {
			fn(name, d)
		}
	}
}

// netdev is one /proc/net/dev line: 8 receive and 8 transmit counters
// (bytes packets errs drop fifo frame/colls compressed multicast/carrier).
type netdev struct {
	rx, tx [8]uint64
}

// parseNetDev calls fn per interface; d is the caller's scratch.
func parseNetDev(b []byte, d *netdev, fn func(name []byte, d *netdev)) {
	for i := 0; i < len(b); {
		var line []byte
		line, i = nextLine(b, i)
		c := bytes.IndexByte(line, ':')
		if c < 0 {
			continue // the two header lines
		}
		name := bytes.TrimLeft(line[:c], " \t")
		if len(name) == 0 {
			continue
		}
		*d = netdev{}
		j := c + 1
		ok := true
		for k := 0; k < 16 && ok; k++ {
			var f []byte
			f, j = field(line, j)
			var n uint64
			n, ok = parseUint(f)
			if k < 8 {
				d.rx[k] = n
			} else {
				d.tx[k-8] = n
			}
		}
		if ok {
			fn(name, d)
		}
	}
}

// tcpStates counts sockets per state of /proc/net/tcp{,6}; index is the
// kernel's state number (1 ESTABLISHED ... 11 CLOSING).
type tcpStates [12]uint64

func parseNetTCP(b []byte, s *tcpStates) {
	_, i := nextLine(b, 0) // header
	for i < len(b) {
		var line []byte
		line, i = nextLine(b, i)
		_, j := field(line, 0) // sl
		_, j = field(line, j)  // local
		_, j = field(line, j)  // remote
		f, _ := field(line, j)
		st, ok := parseHex(f)
		if ok && st < uint64(len(s)) {
			s[st]++
		}
	}
}

// snmpTCP holds the Tcp: counters of /proc/net/snmp munin's netstat plugin
// graphs.
type snmpTCP struct {
	activeOpens, passiveOpens, attemptFails, estabResets, currEstab uint64
	ok                                                              bool
}

// parseSNMP pairs the "Tcp:" header line with the "Tcp:" value line.
func parseSNMP(b []byte, t *snmpTCP) error {
	*t = snmpTCP{}
	var header []byte
	for i := 0; i < len(b); {
		var line []byte
		line, i = nextLine(b, i)
		if !bytes.HasPrefix(line, []byte("Tcp:")) {
			continue
		}
		if header == nil {
			header = line
			continue
		}
		hj, vj := 4, 4
		for {
			var h, v []byte
			h, hj = field(header, hj)
			v, vj = field(line, vj)
			if len(h) == 0 || len(v) == 0 {
				break
			}
			n, ok := parseUint(v)
			if !ok {
				continue // MaxConn is -1
			}
			switch string(h) {
			case "ActiveOpens":
				t.activeOpens = n
			case "PassiveOpens":
				t.passiveOpens = n
			case "AttemptFails":
				t.attemptFails = n
			case "EstabResets":
				t.estabResets = n
			case "CurrEstab":
				t.currEstab = n
			}
		}
		t.ok = true
		return nil
	}
	return errFormat
}

// parseVmstat reads pswpin and pswpout (pages swapped) of /proc/vmstat.
func parseVmstat(b []byte) (in, out uint64, err error) {
	found := 0
	for i := 0; i < len(b) && found < 2; {
		var line []byte
		line, i = nextLine(b, i)
		k, j := field(line, 0)
		switch string(k) {
		case "pswpin":
			f, _ := field(line, j)
			in, _ = parseUint(f)
			found++
		case "pswpout":
			f, _ := field(line, j)
			out, _ = parseUint(f)
			found++
		}
	}
	if found < 2 {
		return 0, 0, errFormat
	}
	return in, out, nil
}

// parsePidState returns the state letter of a /proc/PID/stat line: the
// field after the command name, which may itself hold spaces and
// parentheses, hence the last ')'.
func parsePidState(b []byte) (byte, bool) {
	p := bytes.LastIndexByte(b, ')')
	if p < 0 || p+2 >= len(b) || b[p+1] != ' ' {
		return 0, false
	}
	return b[p+2], true
}

// mountEntry is one /proc/self/mountinfo line, as sub-slices of the line
// (the mount point still octal-escaped).
type mountEntry struct {
	majmin, mountPoint, fsType, source []byte
}

// parseMountinfo calls fn for each well-formed line: "ID PARENT MAJ:MIN
// ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS".
func parseMountinfo(b []byte, fn func(m *mountEntry)) {
	m := new(mountEntry) // only parsed when the file changed
	for i := 0; i < len(b); {
		var line []byte
		line, i = nextLine(b, i)
		_, j := field(line, 0) // mount ID
		_, j = field(line, j)  // parent ID
		m.majmin, j = field(line, j)
		_, j = field(line, j) // root
		m.mountPoint, j = field(line, j)
		if len(m.mountPoint) == 0 {
			continue
		}
		sep := bytes.Index(line[j:], []byte(" - "))
		if sep < 0 {
			continue
		}
		j += sep + 3
		m.fsType, j = field(line, j)
		m.source, _ = field(line, j)
		if len(m.fsType) == 0 {
			continue
		}
		fn(m)
	}
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space, \011,
// \012, \134) in mountinfo paths, appending to dst.
func unescapeMount(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			v := (s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0')
			dst = append(dst, v)
			i += 3
			continue
		}
		dst = append(dst, s[i])
	}
	return dst
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
