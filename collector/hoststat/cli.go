package hoststat

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"time"

	"github.com/watchpost/watchpost/munin"
)

// Main is `watchpost hoststat`: one round of the built-in collectors
// printed as munin's config and fetch text (or JSON metric items), to see
// what a host would report; -rounds N measures CPU per round instead.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hoststat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	proc := fs.String("proc", "/proc", "procfs root")
	sys := fs.String("sys", "/sys", "sysfs root")
	format := fs.String("o", "munin", "output: munin (config and values as munin-run prints them) or json (metric items)")
	rounds := fs.Int("rounds", 0, "run N rounds and print the CPU time per round instead of the values")
	ifs := fs.String("interfaces", "", "comma-separated interfaces (default: as munin's if_ suggests)")
	disable := fs.String("disable", "", "comma-separated readers to skip (e.g. tcp)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts := Options{ProcRoot: *proc, SysRoot: *sys, Logger: slog.New(slog.NewTextHandler(stderr, nil))}
	if *ifs != "" {
		opts.Interfaces = strings.Split(*ifs, ",")
	}
	if *disable != "" {
		opts.Disable = strings.Split(*disable, ",")
	}
	c := New(opts)
	if *rounds > 0 {
		return measure(ctx, c, *rounds, stdout, stderr)
	}
	graphs, fetches, err := c.Collect(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "hoststat: %v\n", err)
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	switch *format {
	case "json":
		enc := json.NewEncoder(w)
		now := time.Now().Unix()
		for i, g := range graphs {
			enc.Encode(munin.Item{Type: "metric", Time: now, Origin: "builtin", Graph: g, Values: fetches[i].Values})
		}
	case "munin":
		writeMunin(w, graphs, fetches)
	default:
		fmt.Fprintf(stderr, "hoststat: unknown output %q\n", *format)
		return 2
	}
	if err != nil {
		return 1
	}
	return 0
}

// measure runs rounds after a discovery round and reports wall and CPU
// (user+system, getrusage) time per round.
func measure(ctx context.Context, c *Collector, n int, stdout, stderr io.Writer) int {
	c.Collect(ctx)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0, t0 := cpu(), time.Now()
	for i := 0; i < n; i++ {
		if _, _, err := c.Collect(ctx); err != nil {
			fmt.Fprintf(stderr, "hoststat: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "rounds %d  wall/round %v  cpu/round %v\n", n, time.Since(t0)/time.Duration(n), (cpu()-c0)/time.Duration(n))
	return 0
}

// writeMunin prints graphs as `multigraph NAME` sections of munin's config
// lines followed by their values, the form munin-run users compare.
func writeMunin(w io.Writer, graphs []munin.Graph, fetches []munin.Fetch) {
	for i, g := range graphs {
		fmt.Fprintf(w, "multigraph %s\n", g.Name)
		w.Write(munin.RenderConfig(g))
		if i < len(fetches) {
			w.Write(munin.RenderFetch(fetches[i]))
		}
		fmt.Fprintln(w)
	}
}
