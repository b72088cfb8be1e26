package dashboard

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/munin"
)

func TestCdef(t *testing.T) {
	fields := map[string]bool{"in": true, "out": true}
	vals := map[string]float64{"in": 10, "out": math.NaN()}
	get := func(n string) float64 { return vals[n] }
	for _, tc := range []struct {
		expr string
		want float64
		err  bool
	}{
		{"in,8,*", 80, false},
		{"in,2,/,1,+", 6, false},
		{"out,UN,0,out,IF", 0, false},
		{"in,UN,0,in,IF", 10, false},
		{"in,out,ADDNAN", 10, false},
		{"in,5,MAX", 10, false},
		{"in,3,%", 1, false},
		{"in,0,20,LIMIT", 10, false},
		{"in,11,GT", 0, false},
		{"in,DUP,+", 20, false},
		{"1,2,EXC,-", 1, false},
		{"in,*", 0, true},
		{"in,8", 0, true},
		{"nosuch,8,*", 0, true},
		{"in,,8", 0, true},
	} {
		c, err := compileCdef(tc.expr, fields)
		if (err != nil) != tc.err {
			t.Errorf("%q: err = %v, want error %v", tc.expr, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		got, _ := c.eval(get, nil)
		if got != tc.want {
			t.Errorf("%q = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func FuzzCdef(f *testing.F) {
	for _, s := range []string{"in,8,*", "a,UN,0,a,IF", "1,2,3,LIMIT", ",,", "DUP", "in,POP"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		c, err := compileCdef(expr, map[string]bool{"in": true, "a": true})
		if err != nil {
			return
		}
		c.eval(func(string) float64 { return 1 }, nil)
	})
}

func floats(js []jsonFloat) []float64 {
	out := make([]float64, len(js))
	for i, v := range js {
		out[i] = float64(v)
	}
	return out
}

func TestBuildGraph(t *testing.T) {
	times := []int64{300, 600, 900}
	series := func(name string, v ...float64) FieldSeries {
		return FieldSeries{Field: name, Times: times, Avg: v, Min: v, Max: v}
	}
	nan := math.NaN()
	g := munin.Graph{Name: "if_eth0", Title: "eth0 traffic", Args: "--base 1000", VLabel: "bits in (-) / out (+) per ${graph_period}",
		Period: "minute", Order: []string{"down", "up"},
		Fields: []munin.Field{
			{Name: "down", Type: munin.Derive, Graph: "no", Cdef: "down,8,*"},
			{Name: "up", Type: munin.Derive, Negative: "down", Cdef: "up,8,*", Warning: "1000", Critical: "5000"},
		}}
	d := buildGraph(g, "web1", "day", time.Unix(0, 0), time.Unix(1000, 0), []FieldSeries{series("down", 1, 2, nan), series("up", 3, 4, 5)})
	if d.VLabel != "bits in (-) / out (+) per minute" {
		t.Errorf("vlabel = %q", d.VLabel)
	}
	if len(d.Series) != 2 {
		t.Fatalf("series = %+v", d.Series)
	}
	up, down := d.Series[0], d.Series[1]
	// per minute (×60), then the cdef (×8)
	if got := floats(up.Y); got[0] != 3*60*8 || got[2] != 5*60*8 {
		t.Errorf("up = %v", got)
	}
	if got := floats(down.Y); !down.Negative || got[0] != -1*60*8 || !math.IsNaN(got[2]) {
		t.Errorf("down = %v negative %v", got, down.Negative)
	}
	if up.Warning != "1000" || float64(up.MaxV) != 5*480 || float64(up.Cur) != 5*480 {
		t.Errorf("legend: %+v", up)
	}

	// AREA then STACK: the second sits on the first; colours from munin's palette.
	g = munin.Graph{Name: "cpu", Fields: []munin.Field{{Name: "system", Draw: "AREA"}, {Name: "user", Draw: "STACK"}, {Name: "idle", Draw: "STACK", Colour: "FFFFFF"}}}
	d = buildGraph(g, "web1", "day", time.Unix(0, 0), time.Unix(1000, 0), []FieldSeries{series("system", 1, 1, 1), series("user", 2, nan, 2), series("idle", 7, 7, 7)})
	if got := floats(d.Series[1].Y); got[0] != 3 || !math.IsNaN(got[1]) {
		t.Errorf("stacked user = %v", got)
	}
	if got := floats(d.Series[2].Y); got[0] != 10 {
		t.Errorf("stacked idle = %v", got)
	}
	if d.Series[0].Colour != "#00CC00" || d.Series[1].Colour != "#0066B3" || d.Series[2].Colour != "#FFFFFF" {
		t.Errorf("colours %s %s %s", d.Series[0].Colour, d.Series[1].Colour, d.Series[2].Colour)
	}
	if !d.Series[0].Area || !d.Series[1].Area {
		t.Errorf("areas: %+v", d.Series)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Fatalf("NaN must encode as null: %v", err)
	}
}

type fakeMetrics struct{}

func (fakeMetrics) Hosts(context.Context) ([]MetricHost, error) {
	return []MetricHost{{Name: "web1", Graphs: 1, Categories: []string{"system"}}}, nil
}
func (fakeMetrics) Graphs(context.Context, string) ([]munin.Graph, error) {
	return []munin.Graph{{Name: "load", Category: "system", Fields: []munin.Field{{Name: "load"}}}}, nil
}
func (fakeMetrics) Query(_ context.Context, _, _ string, from, to time.Time, _ int) ([]FieldSeries, error) {
	return []FieldSeries{{Field: "load", Times: []int64{to.Unix()}, Avg: []float64{0.5}, Min: []float64{0.5}, Max: []float64{0.5}}}, nil
}

func TestMetricsAPIErrors(t *testing.T) {
	mux := http.NewServeMux()
	(&MetricsAPI{Source: fakeMetrics{}, Now: func() time.Time { return time.Unix(1_700_000_000, 0) }}).
		Register(mux, func(h http.Handler) http.Handler { return h })
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/api/v1/metrics/hosts", 200, `"web1"`},
		{"/api/v1/metrics/hosts/web1/graphs", 200, `"load"`},
		{"/api/v1/metrics/hosts/web1/graphs/load?range=week", 200, `"range":"week"`},
		{"/api/v1/metrics/hosts/web1/graphs/load?range=decade", 400, `"error"`},
		{"/api/v1/metrics/hosts/web1/graphs/load?from=x", 400, `"error"`},
		{"/api/v1/metrics/hosts/web1/graphs/load?from=10&to=5", 400, `"error"`},
		{"/api/v1/metrics/hosts/web1/graphs/load?points=1", 400, `"error"`},
		{"/api/v1/metrics/hosts/web1/graphs/nosuch", 404, `"error"`},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s: %d %s", tc.path, rec.Code, rec.Body)
		}
	}
}
