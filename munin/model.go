// Package munin holds munin's data model (graphs, fields, values), the
// parsers for plugin output, the plugin runner that executes unmodified
// munin plugins, and the munin protocol in both directions (answering a
// munin master as munin-node does, and polling existing munin-nodes).
// It imports no storage and no HTTP.
package munin

// FieldType is a munin data source type; it decides how stored values
// become rates (rrdtool's DS types).
type FieldType string

const (
	Gauge    FieldType = "GAUGE"
	Counter  FieldType = "COUNTER"
	Derive   FieldType = "DERIVE"
	Absolute FieldType = "ABSOLUTE"
)

// Graph is what a plugin's `config` run describes for one graph (a plain
// plugin has one; a multigraph plugin one per `multigraph` section). It is
// also the metadata a collector ships with each metric item.
type Graph struct {
	Name     string   `json:"name"` // plugin name, or the multigraph name ("diskstats_iops.sda")
	Title    string   `json:"title,omitempty"`
	Args     string   `json:"args,omitempty"`   // graph_args, e.g. "--base 1000 -l 0"
	VLabel   string   `json:"vlabel,omitempty"` // graph_vlabel (may contain ${graph_period})
	Category string   `json:"category,omitempty"`
	Info     string   `json:"info,omitempty"`
	Period   string   `json:"period,omitempty"` // graph_period: second (default), minute, hour
	Order    []string `json:"order,omitempty"`  // graph_order
	Total    string   `json:"total,omitempty"`  // graph_total label
	Scale    string   `json:"scale,omitempty"`  // graph_scale yes|no
	Printf   string   `json:"printf,omitempty"`
	Graph    string   `json:"graph,omitempty"` // graph yes|no
	Fields   []Field  `json:"fields"`
	// Attrs keeps graph_* attributes not modelled above, so nothing a
	// plugin said is lost on the way to the loghost.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Field is one data source of a graph.
type Field struct {
	Name     string            `json:"name"`
	Label    string            `json:"label,omitempty"`
	Type     FieldType         `json:"type,omitempty"` // "" means GAUGE
	Draw     string            `json:"draw,omitempty"` // LINE1, LINE2, AREA, STACK, AREASTACK, LINESTACK1...
	Colour   string            `json:"colour,omitempty"`
	Info     string            `json:"info,omitempty"`
	Min      string            `json:"min,omitempty"` // as the plugin wrote it; "" unset
	Max      string            `json:"max,omitempty"`
	Warning  string            `json:"warning,omitempty"`  // munin range syntax: "max", "min:", ":max", "min:max"
	Critical string            `json:"critical,omitempty"` // same
	Cdef     string            `json:"cdef,omitempty"`     // RPN, e.g. "in,8,*"
	Negative string            `json:"negative,omitempty"` // the field drawn below the axis with this one
	Graph    string            `json:"graph,omitempty"`    // "no" hides the field (it may still feed a cdef/negative)
	Attrs    map[string]string `json:"attrs,omitempty"`
}

// Value is one fetched value. Time is Unix seconds from `field.value
// epoch:value`, or 0 when the plugin gave none (the fetch time applies).
// Unknown marks munin's `U`.
type Value struct {
	Field   string  `json:"field"`
	Time    int64   `json:"time,omitempty"`
	Value   float64 `json:"value"`
	Unknown bool    `json:"unknown,omitempty"`
}

// Fetch is the values of one graph from one fetch run.
type Fetch struct {
	Graph  string  `json:"graph"`
	Values []Value `json:"values"`
}

// Item is the ingest wire form of one graph's values: an NDJSON line of
// type "metric" in a collector batch (DESIGN.md §4). The graph metadata
// travels with every item so the loghost never needs a separate config
// exchange; the store keeps the line as the record's Data.
type Item struct {
	Type   string  `json:"type"`             // "metric"
	Time   int64   `json:"ts"`               // Unix seconds of the fetch
	Origin string  `json:"origin,omitempty"` // "builtin", "plugin", or "munin-node" (polled)
	Graph  Graph   `json:"graph"`
	Values []Value `json:"values"`
}

// PeriodFactor is what a field's stored value (a rate per second for
// COUNTER, DERIVE and ABSOLUTE) is multiplied by to read it per the
// graph's graph_period, as munin draws it; 1 for gauges.
func PeriodFactor(g *Graph, f *Field) float64 {
	if f.Type == "" || f.Type == Gauge {
		return 1
	}
	switch g.Period {
	case "minute":
		return 60
	case "hour":
		return 3600
	}
	return 1
}
