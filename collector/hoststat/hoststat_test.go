package hoststat

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/munin"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const fixtures = "../../fixtures/proc"

// fakeStatfs gives fixture mount points fixed sizes: the fixture's paths
// do not exist on the test host.
func fakeStatfs(path []byte, st *syscall.Statfs_t) error {
	p := string(path[:len(path)-1])
	*st = syscall.Statfs_t{Blocks: 1000, Bfree: 500, Bavail: 450, Files: 100, Ffree: 40, Frsize: 4096, Bsize: 4096}
	switch p {
	case "/empty":
		st.Blocks = 0
	case "/boot/efi":
		st.Files, st.Ffree = 0, 0
	case "/run":
		st.Bfree, st.Bavail = 1000, 1000
	case "/gone":
		return syscall.ENOENT
	}
	return nil
}

func newFixture(t testing.TB, name string, ifs ...string) *Collector {
	t.Helper()
	root := filepath.Join(fixtures, name)
	c := New(Options{
		ProcRoot:   filepath.Join(root, "proc"),
		SysRoot:    filepath.Join(root, "sys"),
		Now:        func() time.Time { return time.Unix(1795618657, 0) },
		Metrics:    metrics.NewSet(),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Interfaces: ifs,
	})
	c.statfsFn = fakeStatfs
	return c
}

func render(w *strings.Builder, graphs []munin.Graph, fetches []munin.Fetch) {
	writeMunin(w, graphs, fetches)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s (run go test -update to accept):\n%s", name, path, diff(string(want), got))
	}
}

func diff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			fmt.Fprintf(&out, "line %d:\n- %s\n+ %s\n", i+1, x, y)
			if out.Len() > 4000 {
				break
			}
		}
	}
	return out.String()
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		ifs     []string
		rounds  int
	}{
		{fixture: "debian12", rounds: 1},
		{fixture: "edge", rounds: 2},
		{fixture: "edge", ifs: []string{"lo", "eth0.100"}, rounds: 1},
	} {
		name := tc.fixture + strings.Join(append([]string{""}, tc.ifs...), "_")
		t.Run(name, func(t *testing.T) {
			c := newFixture(t, tc.fixture, tc.ifs...)
			var out strings.Builder
			for r := 1; r <= tc.rounds; r++ {
				graphs, fetches, err := c.Collect(context.Background())
				if err != nil {
					t.Fatalf("round %d: %v", r, err)
				}
				if len(graphs) != len(fetches) {
					t.Fatalf("%d graphs, %d fetches", len(graphs), len(fetches))
				}
				fmt.Fprintf(&out, "# round %d\n", r)
				render(&out, graphs, fetches)
			}
			golden(t, name, out.String())
		})
	}
}

// TestValuesStable checks that the values of one round survive the next:
// the collector reuses its buffers, the returned values must not.
func TestValuesStable(t *testing.T) {
	c := newFixture(t, "edge")
	_, f1, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var before strings.Builder
	fmt.Fprint(&before, f1)
	if _, _, err := c.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	var after strings.Builder
	fmt.Fprint(&after, f1)
	if before.String() != after.String() {
		t.Fatal("a later round changed an earlier round's values")
	}
}

// TestFailingReader removes files from a copy of a fixture: the readers
// of the other files must still deliver.
func TestFailingReader(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"stat", "loadavg"} {
		b, err := os.ReadFile(filepath.Join(fixtures, "edge", "proc", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "meminfo"), []byte("garbage\n"), 0o644)
	set := metrics.NewSet()
	c := New(Options{ProcRoot: dir, SysRoot: dir, Metrics: set, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	graphs, _, err := c.Collect(context.Background())
	if err == nil {
		t.Fatal("want an error for the missing files")
	}
	names := map[string]bool{}
	for _, g := range graphs {
		names[g.Name] = true
	}
	for _, want := range []string{"cpu", "forks", "load", "threads"} {
		if !names[want] {
			t.Errorf("graph %s missing after other readers failed; got %v", want, names)
		}
	}
	for _, want := range []string{"meminfo: unexpected format", "diskstats: open"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var m strings.Builder
	set.WritePrometheus(&m)
	if !strings.Contains(m.String(), `watchpost_hoststat_reader_errors_total{reader="meminfo"} 1`) {
		t.Errorf("reader error not counted:\n%s", m.String())
	}
}

func TestCanceled(t *testing.T) {
	c := newFixture(t, "edge")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := c.Collect(ctx); err == nil {
		t.Fatal("want the context's error")
	}
}

func TestCleanFieldname(t *testing.T) {
	for in, want := range map[string]string{
		"/dev/vda":    "_dev_vda",
		"/dev/shm":    "_dev_shm",
		"tools":       "tools",
		"root":        "__root",
		"9p-share":    "_p_share",
		"/":           "_",
		"a.b c":       "a_b_c",
		"":            "",
		"/dev/mapper": "_dev_mapper",
	} {
		if got := cleanFieldname(in); got != want {
			t.Errorf("cleanFieldname(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSuggestInterface(t *testing.T) {
	for in, want := range map[string]bool{
		"eth0": true, "lo": false, "gre0": false, "gre10": true, "sit0": false, "sit12": false,
		"eth0.100": false, "br-a.1": true, "wlan0": true, "lo0": true, ".5": true, "eth0.x": true,
	} {
		if got := suggestInterface([]byte(in)); got != want {
			t.Errorf("suggestInterface(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestIsPartitionOf(t *testing.T) {
	for _, tc := range []struct {
		name, dev string
		want      bool
	}{
		{"sda1", "sda", true}, {"c0d0p1", "c0d0", true}, {"md1p1", "md1", true},
		{"dm-100", "dm-1", false}, {"etherd/e1.10", "etherd/e1.1", false}, {"etherd/e1.1p1", "etherd/e1.1", true},
		{"nvme0n1p1", "nvme0n1", true}, {"sda", "sda", false}, {"sdab", "sda", false},
	} {
		if got := isPartitionOf([]byte(tc.name), []byte(tc.dev)); got != tc.want {
			t.Errorf("isPartitionOf(%q, %q) = %v", tc.name, tc.dev, got)
		}
	}
}

// TestRealProc runs rounds on this machine's /proc: every reader must
// work on a real kernel, and a steady-state round must allocate only its
// result.
func TestRealProc(t *testing.T) {
	c := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	graphs, fetches, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, g := range graphs {
		seen[strings.SplitN(g.Name, ".", 2)[0]] = true
		if len(fetches[i].Values) != len(g.Fields) {
			t.Errorf("%s: %d values for %d fields", g.Name, len(fetches[i].Values), len(g.Fields))
		}
	}
	for _, want := range []string{"cpu", "load", "memory", "swap", "df", "df_inode", "df_abs", "processes", "forks",
		"open_files", "netstat", "tcp", "uptime", "interrupts", "threads", "vmstat"} {
		if !seen[want] {
			t.Errorf("graph %s missing on the real /proc", want)
		}
	}
	allocs := testing.AllocsPerRun(5, func() { c.Collect(context.Background()) })
	t.Logf("%d graphs, %.0f allocations per steady-state round", len(graphs), allocs)
	if allocs > 10 {
		t.Errorf("a steady-state round made %.0f allocations, want only the result's few", allocs)
	}
}

func TestDisable(t *testing.T) {
	c := New(Options{ProcRoot: filepath.Join(fixtures, "edge", "proc"), Disable: []string{"tcp", "processes"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	c.statfsFn = fakeStatfs
	graphs, _, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range graphs {
		if g.Name == "tcp" || g.Name == "processes" {
			t.Errorf("disabled graph %s collected", g.Name)
		}
	}
}

func TestMainCLI(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"-proc", filepath.Join(fixtures, "edge", "proc"), "-disable", "df"}, "multigraph cpu\n", 0},
		{[]string{"-proc", filepath.Join(fixtures, "edge", "proc"), "-disable", "df", "-o", "json"}, `"type":"metric"`, 0},
		{[]string{"-rounds", "3"}, "cpu/round", 0},
		{[]string{"-o", "xml"}, "", 2},
		{[]string{"-proc", t.TempDir()}, "", 1},
	} {
		var out, errb strings.Builder
		code := Main(context.Background(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("Main(%q) = %d, output %.200q, stderr %.300q", tc.args, code, out.String(), errb.String())
		}
	}
}
