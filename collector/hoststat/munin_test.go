package hoststat

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/watchpost/watchpost/internal/peers"
)

// configLines splits munin `config` text (and our render of it) into
// graph → "key" → value, dropping values and the free-text info lines.
func configLines(text, plugin string) map[string]map[string]string {
	out := map[string]map[string]string{}
	cur := plugin
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		k, v, _ := strings.Cut(line, " ")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case k == "multigraph":
			cur = v
			continue
		case strings.HasSuffix(k, ".value"), strings.HasSuffix(k, ".info"), k == "graph_info", k == "graph_width":
			continue
		}
		if out[cur] == nil {
			out[cur] = map[string]string{}
		}
		out[cur][k] = strings.TrimSpace(v)
	}
	return out
}

// TestConfigMatchesMunin runs Debian's stock plugins with `munin-run
// PLUGIN config` on this host and checks that every graph and field
// attribute they print (titles, args, labels, types, draw, colours, min,
// max, thresholds, negative pairs, cdefs) is what our graph of the same
// name says. Only info texts are left out: some of ours are shorter.
func TestConfigMatchesMunin(t *testing.T) {
	bin := peers.Require(t, "munin-run")["munin-run"]
	c := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Interfaces: []string{"eth0"}})
	graphs, fetches, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	render(&b, graphs, fetches)
	have := configLines(b.String(), "")
	for _, plugin := range []string{"cpu", "load", "memory", "swap", "forks", "interrupts", "vmstat", "threads",
		"open_files", "processes", "uptime", "entropy", "netstat", "if_eth0", "if_err_eth0", "df", "df_inode"} {
		t.Run(plugin, func(t *testing.T) {
			cmd := exec.Command(bin, plugin, "config")
			cmd.Env = append(cmd.Environ(), "MUNIN_CAP_MULTIGRAPH=1")
			out, err := cmd.Output()
			if err != nil {
				peers.Unavailable(t, "munin-run %s config: %v (plugin not enabled here; installing munin-node enables it)", plugin, err)
			}
			for graph, want := range configLines(string(out), plugin) {
				got, ok := have[graph]
				if !ok {
					t.Errorf("we have no graph %s", graph)
					continue
				}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s: %s is %q, munin says %q", graph, k, got[k], v)
					}
				}
			}
		})
	}
}

// TestValuesMatchMunin runs the stock plugins' fetch right after our round
// and compares every value within a slack for what moves meanwhile (a
// munin-run takes ~0.1 s): cpu ticks, forks, interrupts and traffic grow,
// memory shifts a little.
func TestValuesMatchMunin(t *testing.T) {
	bin := peers.Require(t, "munin-run")["munin-run"]
	c := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Interfaces: []string{"eth0"}})
	const mib = 1 << 20
	for _, tc := range []struct {
		plugin string
		slack  float64 // absolute
	}{
		{"cpu", 100}, {"load", 0.1}, {"memory", 256 * mib}, {"swap", 10}, {"forks", 100}, {"interrupts", 50000},
		// System-wide counts move with whatever else runs: CI tests other
		// packages meanwhile (Chromium, postfix, munin-node come and go).
		{"open_files", 4096}, {"processes", 300}, {"uptime", 0.006 /* munin prints %.2f days */}, {"entropy", 64}, {"netstat", 10},
		{"if_eth0", 256 * 1024}, {"if_err_eth0", 0}, {"df", 0.1}, {"df_inode", 0.1},
	} {
		t.Run(tc.plugin, func(t *testing.T) {
			graphs, fetches, err := c.Collect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, tc.plugin)
			cmd.Env = append(cmd.Environ(), "MUNIN_CAP_MULTIGRAPH=1")
			out, err := cmd.Output()
			if err != nil {
				peers.Unavailable(t, "munin-run %s: %v (plugin not enabled here; installing munin-node enables it)", tc.plugin, err)
			}
			got := ours(graphs, fetches)
			graph := tc.plugin
			n := 0
			for _, line := range strings.Split(string(out), "\n") {
				k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
				if k == "multigraph" {
					graph = v
					continue
				}
				field, ok := strings.CutSuffix(k, ".value")
				if !ok {
					continue
				}
				want, err := strconv.ParseFloat(v, 64)
				if err != nil {
					continue // U
				}
				have, ok := got[graph+"."+field]
				if !ok {
					t.Errorf("we have no %s.%s (munin: %v)", graph, field, want)
					continue
				}
				n++
				if math.Abs(have-want) > tc.slack+0.01*math.Abs(want) {
					t.Errorf("%s.%s: ours %v, munin %v", graph, field, have, want)
				}
			}
			if n == 0 {
				t.Errorf("no values compared:\n%s", out)
			}
		})
	}
}
