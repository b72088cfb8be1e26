package munin

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// startMuninNode runs Debian's munin-node on loopback with the host's
// stock plugins (/etc/munin/plugins) and plugin-conf.d, as PEERS.md says.
func startMuninNode(t testing.TB) string {
	t.Helper()
	peers.Require(t, "munin-node")
	if _, err := os.Stat(DefaultPluginDir); err != nil {
		peers.Unavailable(t, "no %s: %v", DefaultPluginDir, err)
	}
	dir := t.TempDir()
	port := peers.FreePort(t)
	conf := fmt.Sprintf(`log_level 4
log_file %[1]s/node.log
pid_file %[1]s/node.pid
background 0
setsid 0
user root
group root
ignore_file [\#~]$
ignore_file DEADJOE$
ignore_file \.bak$
ignore_file %%$
ignore_file \.dpkg-(tmp|new|old|dist)$
ignore_file \.rpm(save|new)$
ignore_file \.pod$
allow ^127\.0\.0\.1$
host 127.0.0.1
port %[2]d
`, dir, port)
	f := filepath.Join(dir, "munin-node.conf")
	if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := peers.Start(t, "munin-node", "--config", f)
	addr := peers.Addr(port)
	p.WaitTCP(addr, 30*time.Second)
	warmUp(t, addr, nil)
	return addr
}

// warmUp runs one fetch round, as a node that has been up for a while
// has: stateful plugins (diskstats) print nothing on their first run,
// when they have no previous reading to compute rates from.
func warmUp(t testing.TB, addr string, r *Runner) {
	t.Helper()
	ctx := context.Background()
	if r != nil {
		// Once per MUNIN_STATEFILE: direct runs, and runs for a master on
		// 127.0.0.1 (our Node's sessions).
		names, _ := r.List(ctx)
		for _, n := range names {
			r.Fetch(ctx, n)
			r.Fetch(WithMasterIP(ctx, "127.0.0.1"), n)
		}
		return
	}
	c, err := Dial(ctx, addr, 60*time.Second)
	if err != nil {
		t.Fatalf("warm up: %v", err)
	}
	defer c.Close()
	c.Cap(ctx, "multigraph")
	names, _ := c.List(ctx)
	for _, n := range names {
		c.Fetch(ctx, n)
	}
}

// stockRunner is our Runner on the same plugins and plugin-conf.d as the
// real node, with its own state dir (stateful plugins keep their own
// history, as a second munin-node would).
func stockRunner(t testing.TB) *Runner {
	t.Helper()
	st := t.TempDir()
	os.Chmod(filepath.Dir(st), 0o755)
	os.Chmod(st, 0o755)
	r, err := NewRunner(RunnerOptions{StateDir: st, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	warmUp(t, "", r)
	return r
}

// (a) The poller polls the real munin-node and gets every plugin's
// graphs and values.
func TestRealPollMuninNode(t *testing.T) {
	addr := startMuninNode(t)
	ctx := context.Background()
	host, graphs, fetches, err := Poll(ctx, addr, 60*time.Second)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	c, err := Dial(ctx, addr, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Cap(ctx, "multigraph")
	names, _ := c.List(ctx)
	if host == "" || len(names) < 10 {
		t.Fatalf("host %q, %d plugins", host, len(names))
	}
	graphSet := map[string]Graph{}
	for _, g := range graphs {
		graphSet[g.Name] = g
	}
	fetchSet := map[string]Fetch{}
	for _, f := range fetches {
		fetchSet[f.Graph] = f
	}
	for _, n := range names {
		if _, ok := graphSet[n]; !ok && !hasPrefixKey(graphSet, n) {
			t.Errorf("plugin %s: no graph", n)
		}
	}
	nvalues := 0
	for _, g := range graphs {
		if len(g.Fields) == 0 {
			continue
		}
		f, ok := fetchSet[g.Name]
		if !ok {
			t.Errorf("graph %s: no values", g.Name)
			continue
		}
		nvalues += len(f.Values)
	}
	t.Logf("polled %s: %d plugins, %d graphs, %d values", host, len(names), len(graphs), nvalues)
}

func hasPrefixKey(m map[string]Graph, p string) bool {
	for k := range m {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// transcript runs a munin session against addr and returns, per command,
// what the node answered (the banner first).
func transcript(t *testing.T, addr string, cmds []string) []string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Minute))
	r := bufio.NewReader(conn)
	line := func() string {
		l, err := r.ReadString('\n')
		if err != nil {
			return "<" + err.Error() + ">" + l
		}
		return l
	}
	out := []string{line()}
	for _, c := range cmds {
		fmt.Fprintf(conn, "%s\n", c)
		verb := strings.ToLower(strings.Fields(c + " x")[0])
		switch {
		case verb == "quit":
			if l, err := r.ReadString('\n'); err == nil {
				out = append(out, "after quit: "+l)
			} else {
				out = append(out, "<closed>")
			}
		case verb == "nodes" || (verb == "config" || verb == "fetch"):
			var b strings.Builder
			for {
				l := line()
				b.WriteString(l)
				if l == ".\n" || strings.HasPrefix(l, "<") {
					break
				}
			}
			out = append(out, b.String())
		default:
			out = append(out, line())
		}
	}
	return out
}

var valueLine = regexp.MustCompile(`^([A-Za-z0-9_]+)\.value (U|-?[0-9.]+(e[-+]?[0-9]+)?)$`)

// shape replaces each value of a fetch answer by "<v>": two instants give
// the same shape when the same fields are printed in the same order.
func shape(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if m := valueLine.FindStringSubmatch(strings.TrimSuffix(l, "\n")); m != nil {
			l = m[1] + ".value <v>\n"
		}
		b.WriteString(l)
	}
	return b.String()
}

// (b) A munin protocol session against our Node (backed by our Runner on
// the same plugin dir) is answered line for line as munin-node answers it.
// Compared exactly: the banner, `list` before and after `cap multigraph`
// (munin-node sorts it then), `list HOST`, `list other`, `nodes`, `cap`,
// every plugin's `config`, `fetch` of an unknown service, `config` without
// a name, unknown commands, `version` (our Node is told munin-node's
// version and host name), and the connection closing on `quit`. Compared
// by shape (field names, order and line structure; values replaced by
// <v>): every plugin's `fetch`, since values move between two instants.
// A config that munin-node itself answers differently twice in a row
// (none on this host today) would be compared by shape too.
func TestRealNodeTranscript(t *testing.T) {
	addr := startMuninNode(t)
	ctx := context.Background()
	c, err := Dial(ctx, addr, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Cap(ctx, "multigraph")
	names, _ := c.List(ctx)
	host := c.Hostname
	c.Close()

	node, err := NewNode(NodeOptions{Source: stockRunner(t), Hostname: host})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); node.Serve(sctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	cmds := []string{"list", "nodes", "hello", "", "cap multigraph", "list", "list " + host, "list other.example", "version"}
	for _, n := range names {
		cmds = append(cmds, "config "+n)
	}
	for _, n := range names {
		cmds = append(cmds, "fetch "+n)
	}
	cmds = append(cmds, "fetch nosuchplugin", "config", "FETCH load", "spoolfetch 1", "starttls x", "quit")

	theirs := transcript(t, addr, cmds)
	theirs2 := transcript(t, addr, cmds) // to tell volatile configs apart
	ours := transcript(t, ln.Addr().String(), cmds)
	if *update {
		var b strings.Builder
		for i, x := range theirs {
			if i > 0 {
				b.WriteString("> " + cmds[i-1] + "\n")
			}
			b.WriteString(x)
		}
		os.WriteFile("testdata/munin-node-transcript.txt", []byte(b.String()), 0o644)
	}
	exact, byShape := 0, 0
	for i := range theirs {
		cmd := "<banner>"
		if i > 0 {
			cmd = cmds[i-1]
		}
		verb := strings.Fields(strings.ToLower(cmd) + " x")[0]
		if verb == "fetch" || (verb == "config" && theirs[i] != theirs2[i]) {
			byShape++
			if shape(theirs[i]) != shape(ours[i]) {
				t.Errorf("%q by shape:\nmunin-node:\n%s\nours:\n%s", cmd, shape(theirs[i]), shape(ours[i]))
			}
			continue
		}
		exact++
		if theirs[i] != ours[i] {
			t.Errorf("%q:\nmunin-node: %q\nours:       %q", cmd, theirs[i], ours[i])
		}
	}
	t.Logf("%d answers compared exactly, %d by shape", exact, byShape)
}

// (c) Our Runner runs the stock plugins and its values agree with
// munin-node's for the same instant: both fetched at once; gauges within a
// per-plugin tolerance, DERIVE/COUNTER values close (the counters move a
// little between two runs a few ms apart).
func TestRealRunnerAgreesWithMuninNode(t *testing.T) {
	addr := startMuninNode(t)
	r := stockRunner(t)
	ctx := context.Background()
	c, err := Dial(ctx, addr, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Cap(ctx, "multigraph")
	names, _ := c.List(ctx)
	var plugins []string
	for _, n := range names {
		switch {
		case n == "cpu", n == "load", n == "memory", n == "df", n == "df_inode", n == "swap", n == "diskstats",
			strings.HasPrefix(n, "if_"), n == "open_inodes", n == "uptime", n == "forks", n == "vmstat":
			plugins = append(plugins, n)
		}
	}
	if len(plugins) < 5 {
		t.Fatalf("stock plugins not linked: %v", names)
	}
	for _, p := range plugins {
		cfg, err := c.Config(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		graphs, _ := ParseConfig(p, cfg)
		types := map[string]FieldType{}
		for _, g := range graphs {
			for _, f := range g.Fields {
				types[g.Name+"/"+f.Name] = f.Type
			}
		}
		var theirs, ours []byte
		var e1, e2 error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); theirs, e1 = c.Fetch(ctx, p) }()
		go func() { defer wg.Done(); ours, e2 = r.Fetch(ctx, p) }()
		wg.Wait()
		if e1 != nil || e2 != nil {
			t.Errorf("%s: munin-node %v, ours %v", p, e1, e2)
			continue
		}
		tf, _ := ParseFetch(p, theirs)
		of, _ := ParseFetch(p, ours)
		compareFetches(t, p, types, tf, of)
	}
}

func compareFetches(t *testing.T, plugin string, types map[string]FieldType, theirs, ours []Fetch) {
	t.Helper()
	flat := func(fs []Fetch) map[string]Value {
		m := map[string]Value{}
		for _, f := range fs {
			for _, v := range f.Values {
				m[f.Graph+"/"+v.Field] = v
			}
		}
		return m
	}
	tv, ov := flat(theirs), flat(ours)
	var keys []string
	for k := range tv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(tv) != len(ov) {
		t.Errorf("%s: munin-node gave %d values, ours %d", plugin, len(tv), len(ov))
	}
	for _, k := range keys {
		a, b := tv[k], ov[k]
		if _, ok := ov[k]; !ok {
			t.Errorf("%s: %s missing from ours", plugin, k)
			continue
		}
		if plugin == "diskstats" {
			// Rates the plugin computes from its own state file since its
			// previous run: two runners legitimately differ. Names only.
			continue
		}
		if a.Unknown || b.Unknown {
			if a.Unknown != b.Unknown {
				t.Errorf("%s: %s unknown %v vs %v", plugin, k, a.Unknown, b.Unknown)
			}
			continue
		}
		tol := tolerance(plugin, types[k], a.Value)
		if d := math.Abs(a.Value - b.Value); d > tol {
			t.Errorf("%s: %s munin-node %v, ours %v (|Δ| %v > %v)", plugin, k, a.Value, b.Value, d, tol)
		}
	}
}

// tolerance is how far two fetches a few milliseconds apart may differ.
func tolerance(plugin string, typ FieldType, v float64) float64 {
	switch {
	case typ == Derive || typ == Counter:
		return 0.02*math.Abs(v) + 1000 // counters advance between the two runs
	case plugin == "load":
		return 0.2
	case plugin == "df" || plugin == "df_inode":
		return 1 // percent
	case plugin == "memory" || plugin == "swap":
		return math.Max(0.05*math.Abs(v), 64<<20) // bytes; the test itself allocates
	case plugin == "uptime":
		return 0.01 // days
	}
	return 0.05*math.Abs(v) + 5
}
