package hoststat

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/munin"
)

// scrape reads a Prometheus text exposition into "name{labels}" → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape node_exporter: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		out[line[:sp]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read node_exporter metrics: %v", err)
	}
	return out
}

// ours indexes one round's values as "graph.field".
func ours(graphs []munin.Graph, fetches []munin.Fetch) map[string]float64 {
	out := map[string]float64{}
	for i := range graphs {
		for _, v := range fetches[i].Values {
			if !v.Unknown {
				out[graphs[i].Name+"."+v.Field] = v.Value
			}
		}
	}
	return out
}

// TestAgainstNodeExporter reads the same host with Debian's
// prometheus-node-exporter and with the collector at (nearly) the same
// instant, and compares every reading both have within a tolerance that
// allows for what changes between the two reads.
func TestAgainstNodeExporter(t *testing.T) {
	port := peers.FreePort(t)
	addr := peers.Addr(port)
	p := peers.Start(t, "prometheus-node-exporter", "--web.listen-address="+addr,
		"--collector.tcpstat",                            // off by default
		"--collector.netdev.device-exclude=^no-such-if$", // Debian's default hides lo
	)
	p.WaitTCP(addr, 15*time.Second)

	c := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Interfaces: []string{"lo", "eth0"}})
	c.Collect(context.Background()) // discovery, so the timed round below is a steady one
	// Bracket our read between two scrapes: a reading that moves is
	// checked to lie between node_exporter's two values, with slack.
	before := scrape(t, "http://"+addr+"/metrics")
	t0 := time.Now()
	graphs, fetches, err := c.Collect(context.Background())
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	elapsed := time.Since(t0)
	after := scrape(t, "http://"+addr+"/metrics")
	got := ours(graphs, fetches)
	ncpu := float64(c.sysSt.ncpu)
	t.Logf("%d graphs; our round took %v", len(graphs), elapsed)

	within := func(what string, ourV float64, key string, slack float64) {
		t.Helper()
		a, ok1 := before[key]
		b, ok2 := after[key]
		if !ok1 || !ok2 {
			t.Errorf("%s: node_exporter has no %s", what, key)
			return
		}
		lo, hi := math.Min(a, b)-slack, math.Max(a, b)+slack
		if ourV < lo || ourV > hi {
			t.Errorf("%s: ours %v, node_exporter %v..%v (slack %v)", what, ourV, a, b, slack)
		} else {
			t.Logf("%-28s ours %-16v node_exporter %v..%v", what, ourV, a, b)
		}
	}
	must := func(k string) float64 {
		t.Helper()
		v, ok := got[k]
		if !ok {
			t.Fatalf("we have no %s", k)
		}
		return v
	}

	// Load averages are updated by the kernel every 5 s.
	within("load1", c.sysSt.load.load[0], "node_load1", 0.2)
	within("load5", must("load.load"), "node_load5", 0.1)
	within("load15", c.sysSt.load.load[2], "node_load15", 0.05)

	const mib = 1 << 20
	m := &c.sysSt.mem
	within("MemTotal", float64(m.v[miMemTotal]), "node_memory_MemTotal_bytes", 0)
	within("MemFree", must("memory.free"), "node_memory_MemFree_bytes", 256*mib)
	within("Buffers", must("memory.buffers"), "node_memory_Buffers_bytes", 16*mib)
	within("Cached (cache+shmem)", must("memory.cached")+must("memory.shmem"), "node_memory_Cached_bytes", 256*mib)
	within("SwapTotal", float64(m.v[miSwapTotal]), "node_memory_SwapTotal_bytes", 0)
	for _, sc := range []map[string]float64{before, after} {
		sc["swap_used"] = sc["node_memory_SwapTotal_bytes"] - sc["node_memory_SwapFree_bytes"]
	}
	within("swap used", must("memory.swap"), "swap_used", 64*mib)

	// CPU: our values are USER_HZ ticks (1/100 s) summed over CPUs,
	// node_exporter's seconds per CPU. Between the scrapes at most
	// ncpu*elapsed seconds pass; a few ticks per CPU more for rounding.
	for _, mode := range []string{"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"} {
		var a, b float64
		for k, v := range before {
			if strings.HasPrefix(k, "node_cpu_seconds_total{") && strings.Contains(k, `mode="`+mode+`"`) {
				a += v
				b += after[k]
			}
		}
		before["sum_cpu_"+mode], after["sum_cpu_"+mode] = a, b
		within("cpu "+mode+" (s)", must("cpu."+mode)/100, "sum_cpu_"+mode, 0.05*ncpu)
	}

	// The root filesystem: used bytes and percent as df computes them.
	if f := rootField(graphs); f != "" {
		for _, sc := range []map[string]float64{before, after} {
			for key, v := range sc {
				for _, k := range []string{"size", "free"} {
					if strings.HasPrefix(key, "node_filesystem_"+k+"_bytes{") && strings.Contains(key, `mountpoint="/"`) {
						sc["root_"+k] = v
					}
				}
			}
			sc["root_used"] = sc["root_size"] - sc["root_free"]
		}
		within("root fs used bytes", must("df_abs."+f), "root_used", 64*mib)
	} else {
		t.Error("no df_abs field for /")
	}

	// Counters move between the reads: the scrapes themselves add lo
	// traffic, forks and context switches.
	within("lo bytes received", must("if_lo.down"), `node_network_receive_bytes_total{device="lo"}`, 256*1024)
	within("lo bytes sent", must("if_lo.up"), `node_network_transmit_bytes_total{device="lo"}`, 256*1024)
	within("lo packets received", must("if_packets_lo.down"), `node_network_receive_packets_total{device="lo"}`, 200)
	if _, ok := got["if_eth0.down"]; ok {
		within("eth0 bytes received", must("if_eth0.down"), `node_network_receive_bytes_total{device="eth0"}`, 256*1024)
		within("eth0 receive errors", must("if_err_eth0.rcvd"), `node_network_receive_errs_total{device="eth0"}`, 0)
	}
	for _, g := range graphs {
		if dev, ok := strings.CutPrefix(g.Name, "diskstats_iops."); ok {
			within(dev+" reads completed", must(g.Name+".rdio"), fmt.Sprintf(`node_disk_reads_completed_total{device=%q}`, dev), 50)
			within(dev+" writes completed", must(g.Name+".wrio"), fmt.Sprintf(`node_disk_writes_completed_total{device=%q}`, dev), 200)
			within(dev+" bytes read", must("diskstats_throughput."+dev+".rdbytes"), fmt.Sprintf(`node_disk_read_bytes_total{device=%q}`, dev), 16*mib)
			within(dev+" io time (ms)", must("diskstats_utilization."+dev+".util")/1000, fmt.Sprintf(`node_disk_io_time_seconds_total{device=%q}`, dev), 2)
		}
	}
	within("forks", must("forks.forks"), "node_forks_total", 50)
	within("context switches", must("interrupts.ctx"), "node_context_switches_total", 20000)
	within("interrupts", must("interrupts.intr"), "node_intr_total", 20000)
	if v, ok := got["entropy.entropy"]; ok {
		within("entropy", v, "node_entropy_available_bits", 64)
	}
	within("open files", must("open_files.used"), "node_filefd_allocated", 4096) // system-wide: moves with the other tests running
	within("procs running", must("vmstat.wait"), "node_procs_running", 64)       // other tests run beside us
	within("procs blocked", must("vmstat.sleep"), "node_procs_blocked", 32)
	bootOurs := float64(time.Now().Unix()) - must("uptime.uptime")*86400
	within("boot time", bootOurs, "node_boot_time_seconds", 2)
	within("TCP CurrEstab (snmp)", must("netstat.established"), "node_netstat_Tcp_CurrEstab", 5)
	within("TCP ActiveOpens (snmp)", must("netstat.active"), "node_netstat_Tcp_ActiveOpens", 20)
	// node_exporter's tcpstat (netlink, IPv4 and IPv6) against our
	// sock_diag counts: listeners are stable, connections come and go.
	within("tcp listen", must("tcp.listen"), `node_tcp_connection_states{state="listen"}`, 2)
	within("tcp established", must("tcp.established"), `node_tcp_connection_states{state="established"}`, 8)
	within("tcp time_wait", must("tcp.time_wait"), `node_tcp_connection_states{state="time_wait"}`, 16)
}

// rootField finds the df field whose label is "/".
func rootField(graphs []munin.Graph) string {
	for _, g := range graphs {
		if g.Name == "df_abs" {
			for _, f := range g.Fields {
				if f.Label == "/" {
					return f.Name
				}
			}
		}
	}
	return ""
}
