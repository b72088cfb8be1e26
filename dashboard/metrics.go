package dashboard

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/watchpost/watchpost/munin"
)

// MetricHost is one host with stored graphs, for the host list.
type MetricHost struct {
	Name       string    `json:"name"`
	LastSeen   time.Time `json:"last_seen"`
	Graphs     int       `json:"graphs"`
	Categories []string  `json:"categories"`
}

// FieldSeries is one field's consolidated values over a range, as the
// metric store returns them: one point per step, avg/min/max, NaN where
// nothing is known.
type FieldSeries struct {
	Field string
	Times []int64 // Unix seconds, ascending
	Avg   []float64
	Min   []float64
	Max   []float64
}

// MetricsSource is what the graph pages read: the loghost's metric store.
type MetricsSource interface {
	Hosts(ctx context.Context) ([]MetricHost, error)
	Graphs(ctx context.Context, host string) ([]munin.Graph, error)
	// Query returns the fields of one graph between from and to with at
	// most about points points each, from the finest tier that covers it.
	Query(ctx context.Context, host, graph string, from, to time.Time, points int) ([]FieldSeries, error)
}

// graphRanges are munin's four graphs and how far each looks back.
var graphRanges = map[string]time.Duration{
	"day":   30 * time.Hour,
	"week":  8 * 24 * time.Hour,
	"month": 33 * 24 * time.Hour,
	"year":  400 * 24 * time.Hour,
}

// muninColours is munin's default palette, used in field order for fields
// that name no colour, so graphs look as users know them.
var muninColours = []string{
	"#00CC00", "#0066B3", "#FF8000", "#FFCC00", "#330099", "#990099", "#CCFF00", "#FF0000", "#808080",
	"#008F00", "#00487D", "#B35A00", "#B38F00", "#6B006B", "#8FB300", "#B30000", "#BEBEBE",
	"#80FF80", "#80C9FF", "#FFC080", "#FFE680", "#AA80FF", "#EE00CC", "#FF8080",
	"#666600", "#FFBFFF", "#00FFCC", "#CC6699", "#999900",
}

// jsonFloat writes NaN and infinities as null: JSON has no numbers for them.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v, 'g', 6, 64), nil
}

func jsonFloats(v []float64) []jsonFloat {
	out := make([]jsonFloat, len(v))
	for i, x := range v {
		out[i] = jsonFloat(x)
	}
	return out
}

// GraphSeries is one line or area of a drawn graph.
type GraphSeries struct {
	Field    string      `json:"field"`
	Label    string      `json:"label"`
	Colour   string      `json:"colour"`
	Draw     string      `json:"draw"`
	Area     bool        `json:"area"`     // filled down to Base (AREA, STACK over an area)
	Negative bool        `json:"negative"` // drawn below the axis (munin's negative field)
	Y        []jsonFloat `json:"y"`        // what to draw: stacked and negated as needed
	Base     []jsonFloat `json:"base,omitempty"`
	// Legend values of the field itself, over the range: munin's
	// cur/min/avg/max.
	Cur      jsonFloat `json:"cur"`
	MinV     jsonFloat `json:"min"`
	AvgV     jsonFloat `json:"avg"`
	MaxV     jsonFloat `json:"max"`
	Warning  string    `json:"warning,omitempty"`
	Critical string    `json:"critical,omitempty"`
	Info     string    `json:"info,omitempty"`
}

// GraphData is the JSON the graph pages draw.
type GraphData struct {
	Host     string        `json:"host"`
	Name     string        `json:"name"`
	Title    string        `json:"title"`
	VLabel   string        `json:"vlabel"`
	Category string        `json:"category"`
	Info     string        `json:"info,omitempty"`
	Range    string        `json:"range"`
	From     int64         `json:"from"`
	To       int64         `json:"to"`
	Base     int           `json:"base"`  // 1000 or 1024 (graph_args --base)
	Lower    *float64      `json:"lower"` // graph_args -l / --lower-limit
	Upper    *float64      `json:"upper"` // graph_args -u / --upper-limit
	Log      bool          `json:"log"`   // graph_args --logarithmic
	Times    []int64       `json:"t"`
	Series   []GraphSeries `json:"series"`
	Errors   []string      `json:"errors,omitempty"`
}

// parseGraphArgs reads what the browser needs from graph_args.
func parseGraphArgs(args string, d *GraphData) {
	d.Base = 1000
	w := strings.Fields(args)
	for i := 0; i < len(w); i++ {
		next := func() (float64, bool) {
			if i+1 >= len(w) {
				return 0, false
			}
			v, err := strconv.ParseFloat(w[i+1], 64)
			if err != nil {
				return 0, false
			}
			i++
			return v, true
		}
		switch w[i] {
		case "--base":
			if v, ok := next(); ok && v == 1024 {
				d.Base = 1024
			}
		case "-l", "--lower-limit":
			if v, ok := next(); ok {
				d.Lower = &v
			}
		case "-u", "--upper-limit":
			if v, ok := next(); ok {
				d.Upper = &v
			}
		case "-o", "--logarithmic":
			d.Log = true
		}
	}
}

// buildGraph turns stored series into what the browser draws: fields in
// graph_order, cdefs applied, graph_period scaling, STACK on the field
// before, negative fields below the axis, hidden fields left out.
func buildGraph(g munin.Graph, host, rng string, from, to time.Time, fs []FieldSeries) *GraphData {
	d := &GraphData{Host: host, Name: g.Name, Title: cmp.Or(g.Title, g.Name), VLabel: strings.ReplaceAll(g.VLabel, "${graph_period}", cmp.Or(g.Period, "second")),
		Category: cmp.Or(g.Category, "other"), Info: g.Info, Range: rng, From: from.Unix(), To: to.Unix()}
	parseGraphArgs(g.Args, d)

	// One time axis for the graph: the union of the fields' times.
	var times []int64
	for _, s := range fs {
		times = append(times, s.Times...)
	}
	slices.Sort(times)
	times = slices.Compact(times)
	d.Times = times
	index := make(map[int64]int, len(times))
	for i, t := range times {
		index[t] = i
	}
	aligned := func(s FieldSeries, vals []float64) []float64 {
		out := make([]float64, len(times))
		for i := range out {
			out[i] = math.NaN()
		}
		for i, t := range s.Times {
			if i < len(vals) {
				out[index[t]] = vals[i]
			}
		}
		return out
	}
	type values struct{ avg, min, max []float64 }
	vals := map[string]values{}
	for _, s := range fs {
		vals[s.Field] = values{aligned(s, s.Avg), aligned(s, s.Min), aligned(s, s.Max)}
	}
	fields := orderedFields(g)
	known := map[string]bool{}
	for _, f := range fields {
		known[f.Name] = true
	}
	// Scale rates first, so a cdef sees what munin's would.
	for _, f := range fields {
		if v, ok := vals[f.Name]; ok {
			if k := munin.PeriodFactor(&g, &f); k != 1 {
				for _, arr := range [][]float64{v.avg, v.min, v.max} {
					for i := range arr {
						arr[i] *= k
					}
				}
			}
		}
	}
	// cdefs replace a field's values; they may name other fields (as
	// they were before any cdef ran).
	raw := map[string]values{}
	for k, v := range vals {
		raw[k] = v
	}
	var stack []float64
	for _, f := range fields {
		if f.Cdef == "" {
			continue
		}
		c, err := compileCdef(f.Cdef, known)
		if err != nil {
			d.Errors = append(d.Errors, f.Name+": "+err.Error())
			continue
		}
		// The same expression over the averages, the minima and the maxima.
		var out [3][]float64
		for j := range out {
			out[j] = make([]float64, len(times))
			for i := range times {
				out[j][i], stack = c.eval(func(name string) float64 {
					if v, ok := raw[name]; ok {
						return [3][]float64{v.avg, v.min, v.max}[j][i]
					}
					return math.NaN()
				}, stack)
			}
		}
		vals[f.Name] = values{out[0], out[1], out[2]}
	}

	negatives := map[string]string{} // the hidden field → the field it belongs to
	for _, f := range fields {
		if f.Negative != "" {
			negatives[f.Negative] = f.Name
		}
	}
	colour := 0
	var below []float64 // the previous drawn series, for STACK
	var belowNeg []float64
	for _, f := range fields {
		v, ok := vals[f.Name]
		if !ok {
			v = values{aligned(FieldSeries{}, nil), aligned(FieldSeries{}, nil), aligned(FieldSeries{}, nil)}
		}
		if _, isNeg := negatives[f.Name]; isNeg || f.Graph == "no" {
			continue
		}
		col := f.Colour
		if col == "" {
			col = muninColours[colour%len(muninColours)]
			colour++
		} else if !strings.HasPrefix(col, "#") {
			col = "#" + col
		}
		draw := strings.ToUpper(cmp.Or(f.Draw, "LINE1"))
		s := GraphSeries{Field: f.Name, Label: cmp.Or(f.Label, f.Name), Colour: col, Draw: draw,
			Warning: f.Warning, Critical: f.Critical, Info: f.Info}
		s.Cur, s.MinV, s.AvgV, s.MaxV = legend(v.avg, v.min, v.max)
		y, base, area := stacked(draw, v.avg, below)
		s.Y, s.Area = jsonFloats(y), area
		if base != nil {
			s.Base = jsonFloats(base)
		}
		below = y
		d.Series = append(d.Series, s)
		if f.Negative != "" {
			nv, ok := vals[f.Negative]
			if !ok {
				continue
			}
			ns := GraphSeries{Field: f.Negative, Label: s.Label, Colour: col, Draw: draw, Negative: true}
			ns.Cur, ns.MinV, ns.AvgV, ns.MaxV = legend(nv.avg, nv.min, nv.max)
			neg := make([]float64, len(nv.avg))
			for i, x := range nv.avg {
				neg[i] = -x
			}
			ny, nbase, narea := stacked(draw, neg, belowNeg)
			ns.Y, ns.Area = jsonFloats(ny), narea
			if nbase != nil {
				ns.Base = jsonFloats(nbase)
			}
			belowNeg = ny
			d.Series = append(d.Series, ns)
		}
	}
	return d
}

// stacked gives the drawn values of a field: STACK, AREASTACK and
// LINESTACKn sit on the series before them.
func stacked(draw string, v, below []float64) (y, base []float64, area bool) {
	isStack := draw == "STACK" || draw == "AREASTACK" || strings.HasPrefix(draw, "LINESTACK")
	area = draw == "AREA" || draw == "AREASTACK" || (draw == "STACK" && below != nil)
	if !isStack || below == nil {
		if area {
			return v, nil, true
		}
		return v, nil, false
	}
	y = make([]float64, len(v))
	for i := range v {
		b := below[i]
		if math.IsNaN(b) {
			b = 0
		}
		y[i] = v[i] + b
	}
	return y, below, area
}

// legend is munin's cur/min/avg/max over the range: the last known
// average, the least minimum, the mean of the averages, the most maximum.
func legend(avg, mins, maxs []float64) (cur, lo, mean, hi jsonFloat) {
	nan := math.NaN()
	c, l, h, sum, n := nan, math.Inf(1), math.Inf(-1), 0.0, 0
	for i, a := range avg {
		if math.IsNaN(a) {
			continue
		}
		c = a
		sum += a
		n++
		m := a
		if i < len(mins) && !math.IsNaN(mins[i]) {
			m = mins[i]
		}
		l = math.Min(l, m)
		x := a
		if i < len(maxs) && !math.IsNaN(maxs[i]) {
			x = maxs[i]
		}
		h = math.Max(h, x)
	}
	if n == 0 {
		return jsonFloat(nan), jsonFloat(nan), jsonFloat(nan), jsonFloat(nan)
	}
	return jsonFloat(c), jsonFloat(l), jsonFloat(sum / float64(n)), jsonFloat(h)
}

// orderedFields is the graph's fields in graph_order (named first, the
// rest as the plugin listed them), as munin draws them.
func orderedFields(g munin.Graph) []munin.Field {
	if len(g.Order) == 0 {
		return g.Fields
	}
	by := make(map[string]munin.Field, len(g.Fields))
	for _, f := range g.Fields {
		by[f.Name] = f
	}
	seen := map[string]bool{}
	var out []munin.Field
	for _, name := range g.Order {
		// graph_order may say "name=othergraph.field"; the part before = is ours.
		name, _, _ = strings.Cut(name, "=")
		if f, ok := by[name]; ok && !seen[name] {
			out = append(out, f)
			seen[name] = true
		}
	}
	for _, f := range g.Fields {
		if !seen[f.Name] {
			out = append(out, f)
		}
	}
	return out
}
