// Package hoststat is Watchpost's built-in host metrics: munin's stock
// Linux plugins (cpu, load, memory, swap, df, df_inode, diskstats, if_,
// if_err_, processes, forks, open_files, netstat, uptime, entropy, ...)
// re-done in Go, reading /proc and /sys directly — no forks, no exec — and
// without allocating per file on the steady-state path, since it runs every
// 10–60 s on small hosts.
//
// Graph metadata (names, titles, labels, draw styles, colours, thresholds)
// copies what Debian's munin-plugins-core prints for `config`, so graphs
// look as munin users know them. Counters are shipped raw with their munin
// type (DERIVE/COUNTER): the loghost's storage turns them into rates with
// rrdtool's rules, so no state is needed here except for diskstats'
// latency and request-size ratios (see disk.go).
package hoststat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/munin"
)

// Options configure a Collector. Zero values pick the host's defaults.
type Options struct {
	ProcRoot string // default /proc
	SysRoot  string // default /sys
	Now      func() time.Time
	Metrics  *metrics.Set // default: a private set
	Logger   *slog.Logger // default: slog.Default()
	// Interfaces lists the network interfaces to graph. Empty means the
	// interfaces munin's if_ plugin suggests: all in /proc/net/dev except
	// lo, greN, sitN and VLAN sub-interfaces (name.N).
	Interfaces []string
	// Disable names readers to skip: "stat", "loadavg", "meminfo",
	// "vmstat", "uptime", "entropy", "file-nr", "processes", "df",
	// "diskstats", "netdev", "snmp", "tcp". On a host with much memory the
	// TCP state count costs most of a round (see docs/BENCHMARKS.md).
	Disable []string
}

// Collector runs the built-in readers. It is safe for concurrent use, but
// rounds are serialised: it reuses its buffers from round to round.
type Collector struct {
	mu   sync.Mutex
	proc string
	sys  string
	now  func() time.Time
	log  *slog.Logger
	ifs  map[string]bool

	fr      fileReader
	readers []reader
	rounds  *metrics.Counter
	dur     *metrics.Histogram

	// The round being built: graphs, where each graph's values start in
	// vals, and the values.
	graphs []*munin.Graph
	starts []int
	vals   []munin.Value

	sysSt  sysState
	disk   diskState
	net    netState
	fs     fsState
	procSt processState

	// statfsFn replaces statfs(2) in tests, whose fixture mount points
	// do not exist on the test host.
	statfsFn func(path []byte, st *syscall.Statfs_t) error
}

type reader struct {
	name string
	fn   func(c *Collector) error
	errs *metrics.Counter
}

// New returns a Collector reading the roots in opts.
func New(opts Options) *Collector {
	c := &Collector{proc: opts.ProcRoot, sys: opts.SysRoot, now: opts.Now, log: opts.Logger}
	if c.proc == "" {
		c.proc = "/proc"
	}
	// sock_diag reports this process's network namespace, which is what
	// /proc/net describes only when ProcRoot is the real /proc: with
	// another root (a fixture, a host's /proc mounted in a container) the
	// files are read instead.
	c.net.diagOff = c.proc != "/proc"
	if c.sys == "" {
		c.sys = "/sys"
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if len(opts.Interfaces) > 0 {
		c.ifs = make(map[string]bool, len(opts.Interfaces))
		for _, i := range opts.Interfaces {
			c.ifs[i] = true
		}
	}
	set := opts.Metrics
	if set == nil {
		set = metrics.NewSet()
	}
	c.rounds = set.GetOrCreateCounter("watchpost_hoststat_rounds_total")
	c.dur = set.GetOrCreateHistogram("watchpost_hoststat_round_duration_seconds")
	for _, r := range []reader{
		{name: "stat", fn: (*Collector).readStat},
		{name: "loadavg", fn: (*Collector).readLoadavg},
		{name: "meminfo", fn: (*Collector).readMeminfo},
		{name: "vmstat", fn: (*Collector).readVmstat},
		{name: "uptime", fn: (*Collector).readUptime},
		{name: "entropy", fn: (*Collector).readEntropy},
		{name: "file-nr", fn: (*Collector).readFileNr},
		{name: "processes", fn: (*Collector).readProcesses},
		{name: "df", fn: (*Collector).readDF},
		{name: "diskstats", fn: (*Collector).readDiskstats},
		{name: "netdev", fn: (*Collector).readNetDev},
		{name: "snmp", fn: (*Collector).readSNMP},
		{name: "tcp", fn: (*Collector).readTCP},
	} {
		if slices.Contains(opts.Disable, r.name) {
			continue
		}
		r.errs = set.GetOrCreateCounter(fmt.Sprintf(`watchpost_hoststat_reader_errors_total{reader=%q}`, r.name))
		c.readers = append(c.readers, r)
	}
	return c
}

// Graphs runs one round and returns the graph configuration it found
// (munin's `config`): which disks, interfaces and filesystems exist is only
// known by looking.
func (c *Collector) Graphs() []munin.Graph {
	g, _, _ := c.Collect(context.Background())
	return g
}

// Collect runs every reader once and returns the graphs and their values.
// A failing reader is logged, counted and joined into the error, but never
// stops the others, so a non-nil error comes with whatever was read.
//
// The Graph values share their Fields slices with the collector's cache:
// treat them as read-only. The Values are fresh for every round, so the
// caller may keep them.
func (c *Collector) Collect(ctx context.Context) ([]munin.Graph, []munin.Fetch, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := time.Now()
	c.graphs = c.graphs[:0]
	c.starts = c.starts[:0]
	c.vals = c.vals[:0]
	var errs []error
	for i := range c.readers {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("host metrics: %w", err))
			break
		}
		r := &c.readers[i]
		if err := c.run(r); err != nil {
			r.errs.Inc()
			c.log.Warn("host metrics reader failed", "reader", r.name, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
		}
	}
	graphs, fetches := c.result()
	c.rounds.Inc()
	c.dur.UpdateDuration(start)
	return graphs, fetches, errors.Join(errs...)
}

// run calls one reader, turning a panic (a parser bug on input nobody
// foresaw) into an error so the other readers still run. The graphs that
// reader began are dropped.
func (c *Collector) run(r *reader) (err error) {
	ng, nv := len(c.graphs), len(c.vals)
	defer func() {
		if p := recover(); p != nil {
			c.graphs, c.starts, c.vals = c.graphs[:ng], c.starts[:ng], c.vals[:nv]
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return r.fn(c)
}

// result copies the round out: two allocations for all the values and
// fetches, one for the graphs.
func (c *Collector) result() ([]munin.Graph, []munin.Fetch) {
	vals := make([]munin.Value, len(c.vals))
	copy(vals, c.vals)
	graphs := make([]munin.Graph, len(c.graphs))
	fetches := make([]munin.Fetch, len(c.graphs))
	for i, g := range c.graphs {
		end := len(vals)
		if i+1 < len(c.starts) {
			end = c.starts[i+1]
		}
		graphs[i] = *g
		fetches[i] = munin.Fetch{Graph: g.Name, Values: vals[c.starts[i]:end:end]}
	}
	return graphs, fetches
}

// begin starts a graph's values in this round.
func (c *Collector) begin(g *munin.Graph) {
	c.graphs = append(c.graphs, g)
	c.starts = append(c.starts, len(c.vals))
}

func (c *Collector) val(field string, v float64) {
	c.vals = append(c.vals, munin.Value{Field: field, Value: v})
}

func (c *Collector) valU(field string) {
	c.vals = append(c.vals, munin.Value{Field: field, Unknown: true})
}

// cleanFieldname is Munin::Plugin's clean_fieldname: a leading run of
// characters that may not start a name becomes one "_", every other
// illegal character "_", and "root" (a munin 2.0 bug) "__root".
func cleanFieldname(s string) string {
	b := make([]byte, 0, len(s)+1)
	i := 0
	for i < len(s) && !(s[i] >= 'A' && s[i] <= 'Z' || s[i] >= 'a' && s[i] <= 'z' || s[i] == '_') {
		i++
	}
	if i > 0 {
		b = append(b, '_')
	}
	for ; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_' {
			b = append(b, ch)
		} else {
			b = append(b, '_')
		}
	}
	if string(b) == "root" {
		return "__root"
	}
	return string(b)
}
