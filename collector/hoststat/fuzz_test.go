package hoststat

import (
	"os"
	"path/filepath"
	"testing"
)

// parseAny runs the parser for kind over b; every parser must survive any
// input.
func parseAny(kind uint8, b []byte) {
	switch kind % 14 {
	case 0:
		var s procStat
		parseProcStat(b, &s)
	case 1:
		var m meminfo
		parseMeminfo(b, &m)
	case 2:
		var l loadavg
		parseLoadavg(b, &l)
	case 3:
		parseUptime(b)
		parseSingle(b)
	case 4:
		parseFileNr(b)
	case 5:
		parseDiskstats(b, new(diskstat), func(name []byte, d *diskstat) {
			if len(name) == 0 || d.n < 11 {
				panic("bad diskstat")
			}
		})
	case 6:
		parseNetDev(b, new(netdev), func(name []byte, d *netdev) {
			if len(name) == 0 {
				panic("empty interface name")
			}
		})
	case 7:
		var s tcpStates
		parseNetTCP(b, &s)
	case 8:
		var t snmpTCP
		parseSNMP(b, &t)
	case 9:
		parseVmstat(b)
	case 10:
		parsePidState(b)
	case 11:
		parseMountinfo(b, func(m *mountEntry) {
			unescapeMount(nil, m.mountPoint)
			cleanFieldname(string(m.source))
		})
	case 12:
		walkDirents(b, func([]byte) {})
		suggestInterface(b)
		parseDecimal(b)
		parseHex(b)
	case 13:
		var s tcpStates
		parseDiagMsgs(b, &s)
	}
}

// FuzzParsers feeds every /proc format parser (one dispatch, seeded with
// the fixture files of each format) arbitrary bytes.
func FuzzParsers(f *testing.F) {
	seeds := map[uint8]string{0: "stat", 1: "meminfo", 2: "loadavg", 3: "uptime", 4: "sys/fs/file-nr",
		5: "diskstats", 6: "net/dev", 7: "net/tcp", 8: "net/snmp", 9: "vmstat", 10: "1/stat", 11: "self/mountinfo"}
	for _, fx := range []string{"debian12", "edge"} {
		for kind, name := range seeds {
			if b, err := os.ReadFile(filepath.Join(fixtures, fx, "proc", name)); err == nil {
				f.Add(kind, b)
			}
		}
	}
	f.Add(uint8(10), []byte("1 (a) b) c) Z 0"))
	f.Add(uint8(11), []byte(`1 2 3:4 / /a\040b\ rw - ext4 /dev/x rw`))
	f.Add(uint8(12), []byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x18\x00\x04123\x00\x00\x00\x00\x00"))
	f.Add(uint8(2), []byte("99999999999999999999999.9 1.2 3/"))
	f.Add(uint8(13), []byte("\x18\x00\x00\x00\x14\x00\x02\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x01\x00\x00\x00\x00\x00\x00\x14\x00\x00\x00\x03\x00\x02\x00"))
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		parseAny(kind, b)
	})
}
