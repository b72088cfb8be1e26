package hoststat

import (
	"bytes"

	"github.com/watchpost/watchpost/munin"
)

// diskState keeps one entry per disk with munin's per-device diskstats
// multigraphs (diskstats_iops.DEV, diskstats_throughput.DEV,
// diskstats_utilization.DEV, diskstats_latency.DEV) and the previous
// counters. Counters (ops, bytes, busy time) are shipped raw as DERIVE so
// the storage makes rates with rrdtool's rules; only the ratios munin
// derives (latency and request size: time or bytes per I/O over the
// round) need the previous round, and are GAUGEs as in munin.
type diskState struct {
	devs    map[string]*disk
	round   uint64
	active  [][]byte // this round's disks, after munin's filters
	scratch diskstat
}

type disk struct {
	seen                    uint64
	iops, tput, util, laten *munin.Graph
	prev                    diskstat
	hasPrev                 bool
}

// skipDiskName drops loop and ram disks: munin shows them only when they
// have I/O, and they never describe real storage.
func skipDiskName(name []byte) bool {
	return bytes.HasPrefix(name, []byte("loop")) || bytes.HasPrefix(name, []byte("ram"))
}

// isPartitionOf is munin's diskstats partition filter: sda1 of sda,
// c0d0p1 of c0d0, md1p1 of md1 — but not dm-100 of dm-1.
func isPartitionOf(name, dev []byte) bool {
	if !bytes.HasPrefix(name, dev) || len(name) == len(dev) {
		return false
	}
	rest := name[len(dev):]
	if rest[0] == 'p' && len(rest) > 1 {
		if _, ok := parseUint(rest[1:]); ok {
			return true
		}
	}
	last := dev[len(dev)-1]
	if last >= '0' && last <= '9' {
		return false
	}
	_, ok := parseUint(rest)
	return ok
}

func newDisk(name string) *disk {
	n := graphSafe(name)
	dev := "/dev/" + name
	return &disk{
		iops: &munin.Graph{
			Name: "diskstats_iops." + n, Title: "IOs for " + dev, Args: "--base 1000", Category: "disk",
			VLabel: "Units read (-) / write (+)",
			Info:   "This graph shows the number of IO operations pr second and the average size of these requests.  Lots of small requests should result in in lower throughput (separate graph) and higher service time (separate graph).",
			Fields: []munin.Field{
				{Name: "rdio", Label: "dummy", Type: munin.Derive, Min: "0", Draw: "LINE1", Graph: "no"},
				{Name: "wrio", Label: "IO/sec", Type: munin.Derive, Min: "0", Draw: "LINE1", Negative: "rdio"},
				{Name: "avgrdrqsz", Label: "dummy", Type: munin.Gauge, Min: "0", Draw: "LINE1", Graph: "no"},
				{Name: "avgwrrqsz", Label: "Req Size (KB)", Info: "Average Request Size in kilobytes (1000 based)", Type: munin.Gauge, Min: "0", Draw: "LINE1", Negative: "avgrdrqsz"},
			},
		},
		tput: &munin.Graph{
			Name: "diskstats_throughput." + n, Title: "Disk throughput for " + dev, Args: "--base 1024", Category: "disk",
			VLabel: "Pr ${graph_period} read (-) / write (+)",
			Info:   "This graph shows disk throughput in bytes pr ${graph_period}.  The graph base is 1024 so KB is for Kibi bytes and so on.",
			Fields: []munin.Field{
				{Name: "rdbytes", Label: "invisible", Type: munin.Derive, Min: "0", Draw: "LINE1", Graph: "no"},
				{Name: "wrbytes", Label: "Bytes", Type: munin.Derive, Min: "0", Draw: "LINE1", Negative: "rdbytes"},
			},
		},
		util: &munin.Graph{
			Name: "diskstats_utilization." + n, Title: "Disk utilization for " + dev, Category: "disk",
			Args: "--base 1000 --lower-limit 0 --upper-limit 100 --rigid", VLabel: "% busy", Scale: "no",
			Fields: []munin.Field{{
				Name: "util", Label: "Utilization", Type: munin.Derive, Min: "0", Draw: "LINE1",
				// The busy time is in ms: ms per second / 10 is percent.
				Cdef: "util,10,/",
				Info: "Utilization of the device in percent. If the time spent for I/O is close to 1000msec for a given second, the device is nearly 100% saturated.",
			}},
		},
		laten: &munin.Graph{
			Name: "diskstats_latency." + n, Title: "Average latency for " + dev, Args: "--base 1000 --logarithmic", Category: "disk",
			VLabel: "seconds",
			Info:   "This graph shows average waiting time/latency for different categories of disk operations.   The times that include the queue times indicate how busy your system is.  If the waiting time hits 1 second then your I/O system is 100% busy.",
			Fields: []munin.Field{
				{Name: "svctm", Label: "Device IO time", Type: munin.Gauge, Min: "0", Draw: "LINE1", Info: "Average time an I/O takes on the block device not including any queue times, just the round trip time for the disk request."},
				{Name: "avgwait", Label: "IO Wait time", Type: munin.Gauge, Min: "0", Draw: "LINE1", Info: "Average wait time for an I/O from request start to finish (includes queue times et al)"},
				{Name: "avgrdwait", Label: "Read IO Wait time", Type: munin.Gauge, Min: "0", Draw: "LINE1", Warning: "0:3", Info: "Average wait time for a read I/O from request start to finish (includes queue times et al)"},
				{Name: "avgwrwait", Label: "Write IO Wait time", Type: munin.Gauge, Min: "0", Draw: "LINE1", Warning: "0:3", Info: "Average wait time for a write I/O from request start to finish (includes queue times et al)"},
			},
		},
	}
}

func (c *Collector) readDiskstats() error {
	s := &c.disk
	b, err := c.fr.readFile(c.proc, "/diskstats")
	if err != nil {
		return err
	}
	// Pass 1: the disks with I/O, shortest names first, so a partition
	// is always seen after its disk (munin sorts by length for this).
	s.active = s.active[:0]
	parseDiskstats(b, &s.scratch, func(name []byte, d *diskstat) {
		if skipDiskName(name) || d.v[dsReads] == 0 && d.v[dsWrites] == 0 {
			return
		}
		s.active = append(s.active, name)
	})
	for i := 1; i < len(s.active); i++ {
		for j := i; j > 0 && len(s.active[j]) < len(s.active[j-1]); j-- {
			s.active[j], s.active[j-1] = s.active[j-1], s.active[j]
		}
	}
	kept := s.active[:0]
	for _, name := range s.active {
		part := false
		for _, dev := range kept {
			if isPartitionOf(name, dev) {
				part = true
				break
			}
		}
		if !part {
			kept = append(kept, name)
		}
	}
	s.active = kept
	if s.devs == nil {
		s.devs = make(map[string]*disk)
	}
	s.round++
	seen := 0
	// Pass 2: emit the kept disks in the file's order.
	parseDiskstats(b, &s.scratch, func(name []byte, d *diskstat) {
		keep := false
		for _, k := range s.active {
			if bytes.Equal(k, name) {
				keep = true
				break
			}
		}
		if !keep {
			return
		}
		dk := s.devs[string(name)]
		if dk == nil {
			dk = newDisk(string(name))
			s.devs[string(name)] = dk
		}
		dk.seen = s.round
		seen++
		c.emitDisk(dk, d)
	})
	if seen < len(s.devs) {
		for k, v := range s.devs {
			if v.seen != s.round {
				delete(s.devs, k)
			}
		}
	}
	return nil
}

func (c *Collector) emitDisk(dk *disk, d *diskstat) {
	const sector = 512
	p := &dk.prev
	// Ratios over the round; unknown on the first round and after a
	// counter went backwards (a device re-created with the same name).
	ok := dk.hasPrev
	for _, k := range [...]int{dsReads, dsWrites, dsReadSectors, dsWriteSect, dsReadMs, dsWriteMs, dsIOMs} {
		if d.v[k] < p.v[k] {
			ok = false
		}
	}
	delta := func(k int) float64 { return float64(d.v[k] - p.v[k]) }
	per := func(num, den float64) float64 {
		if den == 0 {
			return 0
		}
		return num / den
	}
	c.begin(dk.iops)
	c.val("rdio", float64(d.v[dsReads]))
	c.val("wrio", float64(d.v[dsWrites]))
	if ok {
		c.val("avgrdrqsz", per(delta(dsReadSectors)*sector/1000, delta(dsReads)))
		c.val("avgwrrqsz", per(delta(dsWriteSect)*sector/1000, delta(dsWrites)))
	} else {
		c.valU("avgrdrqsz")
		c.valU("avgwrrqsz")
	}
	c.begin(dk.tput)
	c.val("rdbytes", float64(d.v[dsReadSectors])*sector)
	c.val("wrbytes", float64(d.v[dsWriteSect])*sector)
	c.begin(dk.util)
	c.val("util", float64(d.v[dsIOMs]))
	c.begin(dk.laten)
	if ok {
		ios := delta(dsReads) + delta(dsWrites)
		c.val("svctm", per(delta(dsIOMs), ios)/1000)
		c.val("avgwait", per(delta(dsReadMs)+delta(dsWriteMs), ios)/1000)
		c.val("avgrdwait", per(delta(dsReadMs), delta(dsReads))/1000)
		c.val("avgwrwait", per(delta(dsWriteMs), delta(dsWrites))/1000)
	} else {
		for _, f := range dk.laten.Fields {
			c.valU(f.Name)
		}
	}
	dk.prev = *d
	dk.hasPrev = true
}
