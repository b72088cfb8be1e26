package munin

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixtures are real outputs of Debian's stock plugins (munin-run PLUGIN
// config / munin-run PLUGIN), captured into fixtures/munin/.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("../fixtures/munin/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Graph
		wantErr []int // bad line numbers
	}{
		{
			name: "plain",
			in:   "graph_title Load average\r\ngraph_args --base 1000 -l 0\n# a comment\n\nload.label load\nload.warning 10\nload.critical :20\nload.type gauge\ngraph_order load\nload.extinfo x\ngraph_width 400\nload.foo bar\n",
			want: []Graph{{Name: "p", Title: "Load average", Args: "--base 1000 -l 0", Order: []string{"load"},
				Attrs:  map[string]string{"graph_width": "400"},
				Fields: []Field{{Name: "load", Label: "load", Warning: "10", Critical: ":20", Type: Gauge, Attrs: map[string]string{"foo": "bar"}}}}},
		},
		{
			name: "multigraph with a head graph and a repeated section",
			in:   "graph_title head\nx.label x\nmultigraph a\ngraph_title A\ny.label y\nmultigraph a.b\nz.label z\nmultigraph a\ny.type DERIVE\ny.min 0\n",
			want: []Graph{
				{Name: "p", Title: "head", Fields: []Field{{Name: "x", Label: "x"}}},
				{Name: "a", Title: "A", Fields: []Field{{Name: "y", Label: "y", Type: Derive, Min: "0"}}},
				{Name: "a.b", Fields: []Field{{Name: "z", Label: "z"}}},
			},
		},
		{
			name: "bad lines keep the good ones",
			in:   "graph_title T\nb@d.label x\nok.label fine\nok.type BOGUS\n.label y\nmultigraph bad name!\nlost.label l\nmultigraph good\nk.label k\ndirty.value 3\n",
			want: []Graph{
				{Name: "p", Title: "T", Fields: []Field{{Name: "ok", Label: "fine"}}},
				{Name: "good", Fields: []Field{{Name: "k", Label: "k"}}},
			},
			wantErr: []int{2, 4, 5, 6},
		},
		{
			name: "all graph and field attributes",
			in: "graph_title t\ngraph_args a\ngraph_vlabel v\ngraph_category c\ngraph_info i\ngraph_period minute\ngraph_total tot\ngraph_scale no\ngraph_printf %6.2lf\ngraph no\n" +
				"f.label l\nf.type COUNTER\nf.draw AREASTACK\nf.colour ff0000\nf.info fi\nf.min 0\nf.max 100\nf.warning 1:2\nf.critical 3:\nf.cdef f,8,*\nf.negative g\nf.graph no\n",
			want: []Graph{{Name: "p", Title: "t", Args: "a", VLabel: "v", Category: "c", Info: "i", Period: "minute", Total: "tot", Scale: "no", Printf: "%6.2lf", Graph: "no",
				Fields: []Field{{Name: "f", Label: "l", Type: Counter, Draw: "AREASTACK", Colour: "ff0000", Info: "fi", Min: "0", Max: "100", Warning: "1:2", Critical: "3:", Cdef: "f,8,*", Negative: "g", Graph: "no"}}}},
		},
		{name: "empty", in: "\n# nothing\n\r\n", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig("p", []byte(tt.in))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("graphs\n got %+v\nwant %+v", got, tt.want)
			}
			checkLineErrs(t, err, tt.wantErr)
		})
	}
}

func checkLineErrs(t *testing.T, err error, want []int) {
	t.Helper()
	var pe *ParseErrors
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	if !errors.As(err, &pe) {
		t.Fatalf("want ParseErrors on lines %v, got %v", want, err)
	}
	var lines []int
	for _, e := range pe.Errs {
		lines = append(lines, e.Line)
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("bad lines %v, want %v (%v)", lines, want, err)
	}
}

func TestParseFetch(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Fetch
		wantErr []int
	}{
		{
			name: "plain",
			in:   "load.value 0.43\r\n",
			want: []Fetch{{Graph: "p", Values: []Value{{Field: "load", Value: 0.43}}}},
		},
		{
			name: "U, epoch and extinfo",
			in:   "a.value U\nb.value 1700000000:42\nc.value 1700000000:U\nd.value -1.5e3\nd.extinfo hot\n",
			want: []Fetch{{Graph: "p", Values: []Value{{Field: "a", Unknown: true}, {Field: "b", Time: 1700000000, Value: 42}, {Field: "c", Time: 1700000000, Unknown: true}, {Field: "d", Value: -1500}}}},
		},
		{
			name: "multigraph",
			in:   "multigraph netstat\nactive.value 1\n\nmultigraph netstat_established\nestablished.value 2\n",
			want: []Fetch{{Graph: "netstat", Values: []Value{{Field: "active", Value: 1}}}, {Graph: "netstat_established", Values: []Value{{Field: "established", Value: 2}}}},
		},
		{
			name:    "bad values",
			in:      "a.value\nb.value NaN\nc.value 1e999\nd.value 0x10\njunk\ne.value 7\nf.value -5:1\ngraph_title dirty\n",
			want:    []Fetch{{Graph: "p", Values: []Value{{Field: "e", Value: 7}}}},
			wantErr: []int{1, 2, 3, 4, 5, 7},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFetch("p", []byte(tt.in))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fetches\n got %+v\nwant %+v", got, tt.want)
			}
			checkLineErrs(t, err, tt.wantErr)
		})
	}
}

func TestParseErrorsBounded(t *testing.T) {
	in := strings.Repeat("junk\n", 10000) + "ok.value 1\n"
	f, err := ParseFetch("p", []byte(in))
	var pe *ParseErrors
	if !errors.As(err, &pe) || len(pe.Errs) != maxLineErrors || pe.Dropped != 10000-maxLineErrors {
		t.Fatalf("errors not bounded: %d kept, %d dropped", len(pe.Errs), pe.Dropped)
	}
	if len(f) != 1 || f[0].Values[0].Value != 1 {
		t.Fatalf("good line lost: %+v", f)
	}
}

func TestRange(t *testing.T) {
	tests := []struct {
		in      string
		ok, bad []float64
		wantErr bool
	}{
		{in: "92", ok: []float64{-5, 0, 92}, bad: []float64{92.1, 1e9}},
		{in: "10:", ok: []float64{10, 1e9}, bad: []float64{9.99, -1}},
		{in: ":10", ok: []float64{-1e9, 10}, bad: []float64{10.5}},
		{in: "-5:5", ok: []float64{-5, 0, 5}, bad: []float64{-5.1, 5.1}},
		{in: " 0.5 : 1.5 ", ok: []float64{1}, bad: []float64{0, 2}},
		{in: "", wantErr: true},
		{in: ":", wantErr: true},
		{in: "a:b", wantErr: true},
		{in: "1:2:3", wantErr: true},
		{in: "NaN", wantErr: true},
	}
	for _, tt := range tests {
		r, err := ParseRange(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseRange(%q) err=%v", tt.in, err)
			continue
		}
		for _, v := range tt.ok {
			if !r.Check(v) {
				t.Errorf("%q: %v should be ok", tt.in, v)
			}
		}
		for _, v := range tt.bad {
			if r.Check(v) {
				t.Errorf("%q: %v should alert", tt.in, v)
			}
		}
		if err == nil {
			r2, err := ParseRange(r.String())
			if err != nil || r2 != r {
				t.Errorf("%q: String round trip %q -> %+v %v", tt.in, r.String(), r2, err)
			}
		}
	}
}

// TestFixturesGolden parses every captured stock-plugin output and compares
// with testdata/golden; it also checks that rendering gives the same
// graphs back.
func TestFixturesGolden(t *testing.T) {
	for name, b := range fixtures(t) {
		plugin, kind, _ := strings.Cut(name, ".")
		var got any
		var err error
		if kind == "config" {
			var gs []Graph
			gs, err = ParseConfig(plugin, b)
			got = gs
			if len(gs) == 0 {
				t.Errorf("%s: no graph", name)
			}
			var again []Graph
			if len(gs) == 1 {
				again, _ = ParseConfig(plugin, RenderConfig(gs[0]))
			} else {
				again, _ = ParseConfig(plugin, RenderConfigs(gs))
			}
			if !reflect.DeepEqual(again, gs) {
				t.Errorf("%s: render/parse round trip differs", name)
			}
		} else {
			var fs []Fetch
			fs, err = ParseFetch(plugin, b)
			got = fs
			if again, _ := ParseFetch(plugin, RenderFetches(fs)); !reflect.DeepEqual(again, fs) {
				t.Errorf("%s: render/parse round trip differs", name)
			}
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		js, _ := json.MarshalIndent(got, "", " ")
		golden := filepath.Join("testdata", "golden", name+".json")
		if *update {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			os.WriteFile(golden, append(js, '\n'), 0o644)
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%s: %v (run with -update)", name, err)
		}
		if !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(js)) {
			t.Errorf("%s: differs from %s", name, golden)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for name, b := range fixtures(f) {
		if strings.HasSuffix(name, ".config") {
			f.Add(b)
		}
	}
	f.Add([]byte("multigraph a\nmultigraph \nx.\n.y z\ngraph_order\n\r\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		gs, _ := ParseConfig("p", b)
		for _, g := range gs {
			// Whatever parsed must render and parse back the same.
			again, err := ParseConfig(g.Name, RenderConfig(g))
			if err != nil || len(again) > 1 {
				t.Fatalf("render of %+v: %v %+v", g, err, again)
			}
		}
	})
}

func FuzzParseFetch(f *testing.F) {
	for name, b := range fixtures(f) {
		if strings.HasSuffix(name, ".fetch") {
			f.Add(b)
		}
	}
	f.Add([]byte("a.value 1:2:3\nb.value -0\nc.value 1e308\nmultigraph x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, _ := ParseFetch("p", b)
		for _, x := range fs {
			again, err := ParseFetch(x.Graph, RenderFetch(x))
			if err != nil {
				t.Fatalf("render of %+v: %v", x, err)
			}
			if len(x.Values) > 0 && !reflect.DeepEqual(again[0].Values, x.Values) {
				t.Fatalf("round trip %+v != %+v", again, x)
			}
		}
	})
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"92", "10:", ":10", "-5:5", "1e3:2e3", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRange(s)
		if err == nil {
			r.Check(0)
			if _, err := ParseRange(r.String()); err != nil {
				t.Fatalf("%q -> %q: %v", s, r.String(), err)
			}
		}
	})
}

func BenchmarkParseConfig(b *testing.B) {
	fx := fixtures(b)
	in := fx["diskstats.config"]
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseConfig("diskstats", in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseFetch(b *testing.B) {
	fx := fixtures(b)
	in := fx["irqstats.fetch"]
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFetch("irqstats", in); err != nil {
			b.Fatal(err)
		}
	}
}
