package hoststat

import (
	"math"
	"strconv"

	"github.com/watchpost/watchpost/munin"
)

// sysState caches the graphs of the single-file readers. A graph is
// rebuilt only when what its config depends on changes (the cpu count for
// cpu's upper limit, MemTotal and the reported keys for memory, file-max
// for open_files' thresholds).
type sysState struct {
	stat    procStat
	cpuG    *munin.Graph
	cpuCols int
	ncpu    int
	forksG  *munin.Graph
	intrG   *munin.Graph
	vmstatG *munin.Graph

	load     loadavg
	loadG    *munin.Graph
	threadsG *munin.Graph

	mem        meminfo
	memG       *munin.Graph
	memPresent uint32
	memTotal   uint64

	swapG    *munin.Graph
	uptimeG  *munin.Graph
	entropyG *munin.Graph
	openG    *munin.Graph
	openMax  uint64
}

func (c *Collector) readStat() error {
	s := &c.sysSt
	b, err := c.fr.readFile(c.proc, "/stat")
	if err != nil {
		return err
	}
	if err := parseProcStat(b, &s.stat); err != nil {
		return err
	}
	st := &s.stat
	if s.cpuG == nil || s.cpuCols != st.cpuCols || s.ncpu != st.ncpu {
		s.cpuG, s.cpuCols, s.ncpu = cpuGraph(st.cpuCols, st.ncpu), st.cpuCols, st.ncpu
	}
	// munin's cpu plugin prints ticks*100/HZ with HZ=100: /proc/stat is in
	// USER_HZ (100 on every Linux), so the raw ticks are its values and
	// their rate is the percentage of one CPU.
	c.begin(s.cpuG)
	for _, f := range s.cpuG.Fields {
		c.val(f.Name, float64(st.cpu[cpuIndex(f.Name)]))
	}
	if s.forksG == nil {
		s.forksG, s.intrG, s.vmstatG = forksGraph(), interruptsGraph(), vmstatGraph()
	}
	c.begin(s.forksG)
	c.val("forks", float64(st.processes))
	c.begin(s.intrG)
	c.val("intr", float64(st.intr))
	c.val("ctx", float64(st.ctxt))
	c.begin(s.vmstatG)
	c.val("wait", float64(st.running))
	c.val("sleep", float64(st.blocked))
	return nil
}

// cpuFields are munin's cpu fields in /proc/stat's column order.
var cpuFieldInfo = [...]struct{ name, info string }{
	{"user", "CPU time spent by normal programs and daemons"},
	{"nice", "CPU time spent by nice(1)d programs"},
	{"system", "CPU time spent by the kernel in system activities"},
	{"idle", "Idle CPU time"},
	{"iowait", "CPU time spent waiting for I/O operations to finish when there is nothing else to do."},
	{"irq", "CPU time spent handling interrupts"},
	{"softirq", "CPU time spent handling \"batched\" interrupts"},
	{"steal", "The time that a virtual CPU had runnable tasks, but the virtual CPU itself was not running"},
	{"guest", "The time spent running a virtual CPU for guest operating systems under the control of the Linux kernel."},
}

func cpuIndex(name string) int {
	for i, f := range cpuFieldInfo {
		if f.name == name {
			return i
		}
	}
	return 0
}

// cpuGraph is munin's cpu config: the fields present depend on how many
// columns the kernel gives (iowait/irq/softirq from 2.6, steal, guest).
func cpuGraph(cols, ncpu int) *munin.Graph {
	if ncpu < 1 {
		ncpu = 1
	}
	limit := strconv.Itoa(ncpu * 100)
	g := &munin.Graph{
		Name: "cpu", Title: "CPU usage", VLabel: "%", Scale: "no",
		Args:     "--base 1000 -r --lower-limit 0 --upper-limit " + limit,
		Info:     "This graph shows how CPU time is spent.",
		Category: "system", Period: "second",
		Order: []string{"system", "user", "nice", "idle"},
	}
	names := []string{"system", "user", "nice", "idle"}
	if cols >= 7 {
		g.Order = append(g.Order, "iowait", "irq", "softirq")
		names = append(names, "iowait", "irq", "softirq")
	}
	if cols >= 8 {
		names = append(names, "steal")
	}
	if cols >= 9 {
		names = append(names, "guest")
	}
	for i, n := range names {
		draw := "STACK"
		if i == 0 {
			draw = "AREA"
		}
		g.Fields = append(g.Fields, munin.Field{Name: n, Label: n, Draw: draw, Min: "0", Type: munin.Derive, Info: cpuFieldInfo[cpuIndex(n)].info})
	}
	return g
}

func forksGraph() *munin.Graph {
	return &munin.Graph{
		Name: "forks", Title: "Fork rate", Args: "--base 1000 -l 0", VLabel: "forks / ${graph_period}",
		Category: "processes", Info: "This graph shows the number of forks (new processes started) per second.",
		Fields: []munin.Field{{Name: "forks", Label: "forks", Type: munin.Derive, Min: "0", Max: "100000", Info: "The number of forks per second."}},
	}
}

func interruptsGraph() *munin.Graph {
	return &munin.Graph{
		Name: "interrupts", Title: "Interrupts and context switches", Args: "--base 1000 -l 0",
		VLabel: "interrupts & ctx switches / ${graph_period}", Category: "system",
		Info: "This graph shows the number of interrupts and context switches on the system. These are typically high on a busy system.",
		Fields: []munin.Field{
			{Name: "intr", Label: "interrupts", Type: munin.Derive, Min: "0", Info: "Interrupts are events that alter sequence of instructions executed by a processor. They can come from either hardware (exceptions, NMI, IRQ) or software."},
			{Name: "ctx", Label: "context switches", Type: munin.Derive, Min: "0", Info: "A context switch occurs when a multitasking operatings system suspends the currently running process, and starts executing another."},
		},
	}
}

func vmstatGraph() *munin.Graph {
	return &munin.Graph{
		Name: "vmstat", Title: "VMstat", Args: "--base 1000 -l 0", VLabel: "process states", Category: "processes",
		Fields: []munin.Field{
			{Name: "wait", Label: "running", Type: munin.Gauge, Max: "500000"},
			{Name: "sleep", Label: "I/O sleep", Type: munin.Gauge, Max: "500000"},
		},
	}
}

func (c *Collector) readLoadavg() error {
	s := &c.sysSt
	b, err := c.fr.readFile(c.proc, "/loadavg")
	if err != nil {
		return err
	}
	if err := parseLoadavg(b, &s.load); err != nil {
		return err
	}
	if s.loadG == nil {
		s.loadG = &munin.Graph{
			Name: "load", Title: "Load average", Args: "--base 1000 -l 0", VLabel: "load", Scale: "no", Category: "system",
			Info:   `The load average of the machine describes how many processes are in the run-queue (scheduled to run "immediately").`,
			Fields: []munin.Field{{Name: "load", Label: "load", Info: "5 minute load average"}},
		}
		s.threadsG = &munin.Graph{
			Name: "threads", Title: "Number of threads", VLabel: "number of threads", Category: "processes",
			Info:   "This graph shows the number of threads.",
			Fields: []munin.Field{{Name: "threads", Label: "threads", Info: "The current number of threads."}},
		}
	}
	c.begin(s.loadG)
	c.val("load", s.load.load[1])
	// The scheduling-entity count of /proc/loadavg is the thread count
	// munin's threads plugin sums from every /proc/PID/status, read from
	// one file (it includes kernel threads, as munin's sum does).
	c.begin(s.threadsG)
	c.val("threads", float64(s.load.total))
	return nil
}

// memField is one field of munin's memory graph: the meminfo key that
// must be present for it to be drawn (-1: always), and its metadata.
type memField struct {
	need int
	f    munin.Field
}

// memFields follow the order munin's memory plugin prints its config in.
var memFields = [...]memField{
	{-1, munin.Field{Name: "apps", Label: "apps", Draw: "AREA", Colour: "COLOUR0", Info: "Memory used by user-space applications."}},
	{-1, munin.Field{Name: "buffers", Label: "buffers", Draw: "STACK", Colour: "COLOUR5", Info: `Block device (e.g. harddisk) cache. Also where "dirty" blocks are stored until written.`}},
	{-1, munin.Field{Name: "swap", Label: "swap", Draw: "STACK", Colour: "COLOUR7", Info: "Swap space used."}},
	{-1, munin.Field{Name: "cached", Label: "cache", Draw: "STACK", Colour: "COLOUR4", Info: "Parked file data (file content) cache."}},
	{-1, munin.Field{Name: "free", Label: "unused", Draw: "STACK", Colour: "COLOUR6", Info: "Wasted memory. Memory that is not used for anything at all."}},
	{miShmem, munin.Field{Name: "shmem", Label: "shmem", Draw: "STACK", Colour: "COLOUR9", Info: "Shared Memory (SYSV SHM segments, tmpfs)."}},
	{miSlab, munin.Field{Name: "slab", Label: "slab_cache", Draw: "STACK", Colour: "COLOUR3", Info: "Memory used by the kernel (major users  are caches like inode, dentry, etc)."}},
	{miSwapCached, munin.Field{Name: "swap_cache", Label: "swap_cache", Draw: "STACK", Colour: "COLOUR2", Info: "A piece of memory that keeps track of pages that have been fetched from swap but not yet been modified."}},
	{miPageTables, munin.Field{Name: "page_tables", Label: "page_tables", Draw: "STACK", Colour: "COLOUR1", Info: "Memory used to map between virtual and physical memory addresses."}},
	{miPercpu, munin.Field{Name: "per_cpu", Label: "per_cpu", Draw: "STACK", Colour: "COLOUR20", Info: "Per CPU allocations"}},
	{miVmallocUsed, munin.Field{Name: "vmalloc_used", Label: "vmalloc_used", Draw: "LINE2", Colour: "COLOUR8", Info: "'VMalloc' (kernel) memory used"}},
	{miCommitted, munin.Field{Name: "committed", Label: "committed", Draw: "LINE2", Colour: "COLOUR10", Info: "The amount of memory allocated to programs. Overcommitting is normal, but may indicate memory leaks."}},
	{miMapped, munin.Field{Name: "mapped", Label: "mapped", Draw: "LINE2", Colour: "COLOUR11", Info: "All mmap()ed pages."}},
	{miActive, munin.Field{Name: "active", Label: "active", Draw: "LINE2", Colour: "COLOUR12", Info: "Memory recently used. Not reclaimed unless absolutely necessary."}},
	{miInactive, munin.Field{Name: "inactive", Label: "inactive", Draw: "LINE2", Colour: "COLOUR15", Info: "Memory not currently used."}},
}

func memoryGraph(m *meminfo) *munin.Graph {
	g := &munin.Graph{
		Name: "memory", Title: "Memory usage", VLabel: "Bytes", Category: "system",
		Args: "--base 1024 -l 0 --upper-limit " + strconv.FormatUint(m.v[miMemTotal], 10),
		Info: "This graph shows what the machine uses memory for.",
	}
	g.Order = append(g.Order, "apps")
	for _, k := range []struct {
		key  int
		name string
	}{{miPageTables, "page_tables"}, {miPercpu, "per_cpu"}, {miSwapCached, "swap_cache"}, {miSlab, "slab"}, {miShmem, "shmem"}} {
		if m.has(k.key) {
			g.Order = append(g.Order, k.name)
		}
	}
	g.Order = append(g.Order, "cached", "buffers", "free", "swap")
	for _, mf := range memFields {
		if mf.need < 0 || m.has(mf.need) {
			g.Fields = append(g.Fields, mf.f)
		}
	}
	return g
}

func (c *Collector) readMeminfo() error {
	s := &c.sysSt
	b, err := c.fr.readFile(c.proc, "/meminfo")
	if err != nil {
		return err
	}
	m := &s.mem
	if err := parseMeminfo(b, m); err != nil {
		return err
	}
	if s.memG == nil || s.memPresent != m.present || s.memTotal != m.v[miMemTotal] {
		s.memG, s.memPresent, s.memTotal = memoryGraph(m), m.present, m.v[miMemTotal]
	}
	c.begin(s.memG)
	for _, f := range s.memG.Fields {
		c.val(f.Name, memValue(m, f.Name))
	}
	return nil
}

// memValue computes a field as munin's memory plugin does; apps is what
// is left of MemTotal after the kernel's own uses, cached excludes shmem.
func memValue(m *meminfo, name string) float64 {
	v := func(k int) float64 { return float64(m.v[k]) }
	switch name {
	case "apps":
		return v(miMemTotal) - v(miMemFree) - v(miBuffers) - v(miCached) - v(miSlab) - v(miPageTables) - v(miPercpu) - v(miSwapCached)
	case "buffers":
		return v(miBuffers)
	case "swap":
		return v(miSwapTotal) - v(miSwapFree)
	case "cached":
		return v(miCached) - v(miShmem)
	case "free":
		return v(miMemFree)
	case "shmem":
		return v(miShmem)
	case "slab":
		return v(miSlab)
	case "swap_cache":
		return v(miSwapCached)
	case "page_tables":
		return v(miPageTables)
	case "per_cpu":
		return v(miPercpu)
	case "vmalloc_used":
		return v(miVmallocUsed)
	case "committed":
		return v(miCommitted)
	case "mapped":
		return v(miMapped)
	case "active":
		return v(miActive)
	case "inactive":
		return v(miInactive)
	}
	return math.NaN()
}

func (c *Collector) readVmstat() error {
	s := &c.sysSt
	b, err := c.fr.readFile(c.proc, "/vmstat")
	if err != nil {
		return err
	}
	in, out, err := parseVmstat(b)
	if err != nil {
		return err
	}
	if s.swapG == nil {
		s.swapG = &munin.Graph{
			Name: "swap", Title: "Swap in/out", Args: "-l 0 --base 1000", VLabel: "pages per ${graph_period} in (-) / out (+)", Category: "system",
			Fields: []munin.Field{
				{Name: "swap_in", Label: "swap", Type: munin.Derive, Max: "100000", Min: "0", Graph: "no"},
				{Name: "swap_out", Label: "swap", Type: munin.Derive, Max: "100000", Min: "0", Negative: "swap_in"},
			},
		}
	}
	c.begin(s.swapG)
	c.val("swap_in", float64(in))
	c.val("swap_out", float64(out))
	return nil
}

func (c *Collector) readUptime() error {
	s := &c.sysSt
	b, err := c.fr.readFile(c.proc, "/uptime")
	if err != nil {
		return err
	}
	up, err := parseUptime(b)
	if err != nil {
		return err
	}
	if s.uptimeG == nil {
		s.uptimeG = &munin.Graph{
			Name: "uptime", Title: "Uptime", Args: "--base 1000 -l 0", Scale: "no", VLabel: "uptime in days", Category: "system",
			Fields: []munin.Field{{Name: "uptime", Label: "uptime", Draw: "AREA"}},
		}
	}
	c.begin(s.uptimeG)
	c.val("uptime", up/86400)
	return nil
}

// readEntropy graphs the kernel's entropy estimate where the file exists;
// its absence is not an error.
func (c *Collector) readEntropy() error {
	s := &c.sysSt
	b, err := c.fr.readFile(c.proc, "/sys/kernel/random/entropy_avail")
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	n, err := parseSingle(b)
	if err != nil {
		return err
	}
	if s.entropyG == nil {
		s.entropyG = &munin.Graph{
			Name: "entropy", Title: "Available entropy", Args: "--base 1000 -l 0", VLabel: "entropy (bytes)", Scale: "no", Category: "system",
			Info:   "This graph shows the amount of entropy available in the system.",
			Fields: []munin.Field{{Name: "entropy", Label: "entropy", Info: "The number of random bytes available. This is typically used by cryptographic applications."}},
		}
	}
	c.begin(s.entropyG)
	c.val("entropy", float64(n))
	return nil
}

func (c *Collector) readFileNr() error {
	s := &c.sysSt
	b, err := c.fr.readFile(c.proc, "/sys/fs/file-nr")
	if err != nil {
		return err
	}
	alloc, free, max, err := parseFileNr(b)
	if err != nil {
		return err
	}
	if s.openG == nil || s.openMax != max {
		// munin's open_files warns at 92 % and goes critical at 98 % of
		// file-max, truncated to integers as its awk printf does.
		s.openMax = max
		s.openG = &munin.Graph{
			Name: "open_files", Title: "File table usage", Args: "--base 1000 -l 0", VLabel: "number of open files", Category: "system",
			Info: "This graph monitors the Linux open files table.",
			Fields: []munin.Field{{
				Name: "used", Label: "open files", Info: "The number of currently open files.",
				Warning:  strconv.FormatUint(uint64(float64(max)*0.92), 10),
				Critical: strconv.FormatUint(uint64(float64(max)*0.98), 10),
			}},
		}
	}
	c.begin(s.openG)
	c.val("used", float64(alloc)-float64(free))
	return nil
}
