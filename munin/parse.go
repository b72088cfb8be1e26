package munin

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// maxLineErrors bounds the errors kept per parse: hostile output of a
// million bad lines must not become a million error values.
const maxLineErrors = 50

// LineError is one line a parser could not use.
type LineError struct {
	Line int    // 1-based
	Text string // the line, cut to 80 bytes
	Msg  string
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %s: %q", e.Line, e.Msg, e.Text) }

// ParseErrors is every bad line of one output (up to maxLineErrors, then
// Dropped counts the rest). The good lines are still returned alongside.
type ParseErrors struct {
	Errs    []LineError
	Dropped int
}

func (p *ParseErrors) Error() string {
	var b strings.Builder
	for i, e := range p.Errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	if p.Dropped > 0 {
		fmt.Fprintf(&b, "; and %d more bad lines", p.Dropped)
	}
	return b.String()
}

func (p *ParseErrors) add(n int, line []byte, msg string) {
	if len(p.Errs) >= maxLineErrors {
		p.Dropped++
		return
	}
	if len(line) > 80 {
		line = line[:80]
	}
	p.Errs = append(p.Errs, LineError{Line: n, Text: string(line), Msg: msg})
}

func (p *ParseErrors) err() error {
	if len(p.Errs) == 0 {
		return nil
	}
	return p
}

// eachLine calls fn with every non-blank, non-comment line split into its
// key and (trimmed) value, accepting LF, CRLF and lone CR endings as
// munin-node's own reader does (it splits on runs of [\r\n]).
func eachLine(data []byte, fn func(n int, line, key []byte, value string)) {
	n := 0
	for len(data) > 0 {
		i := bytes.IndexAny(data, "\r\n")
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line = data[:i]
			if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			data = data[i+1:]
		}
		n++
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		k := t
		v := []byte(nil)
		if j := bytes.IndexAny(t, " \t"); j >= 0 {
			k, v = t[:j], bytes.TrimSpace(t[j+1:])
		}
		fn(n, t, k, string(v))
	}
}

// validName reports whether s may name a field or graph as munin allows
// (munin's master rewrites other characters; we refuse them instead so a
// stored name never differs from what the plugin meant).
func validName(s []byte, dots bool) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.' && dots:
		default:
			return false
		}
	}
	return true
}

// ParseConfig parses the output of `plugin config`. name is the plugin's
// name, the graph name for lines before any `multigraph` line. Lines that
// cannot be used are reported in a *ParseErrors; the graphs built from the
// other lines are returned with it. `field.value` lines (dirtyconfig) are
// skipped here; ParseFetch reads them from the same output.
func ParseConfig(name string, data []byte) ([]Graph, error) {
	var (
		errs   ParseErrors
		graphs []Graph
		cur    = -1
		fields map[string]int // field name → index in graphs[cur].Fields
	)
	start := func(gname string) {
		for i := range graphs {
			if graphs[i].Name == gname { // a repeated section continues the graph
				cur = i
				fields = make(map[string]int, len(graphs[i].Fields))
				for j, f := range graphs[i].Fields {
					fields[f.Name] = j
				}
				return
			}
		}
		graphs = append(graphs, Graph{Name: gname})
		cur = len(graphs) - 1
		fields = map[string]int{}
	}
	eachLine(data, func(n int, line, key []byte, value string) {
		if string(key) == "multigraph" {
			if !validName([]byte(value), true) {
				errs.add(n, line, "bad multigraph name")
				cur = -2 // drop lines until the next good section
				return
			}
			start(value)
			return
		}
		if cur == -2 {
			return
		}
		if cur == -1 {
			start(name)
		}
		g := &graphs[cur]
		dot := bytes.IndexByte(key, '.')
		if dot < 0 {
			setGraphAttr(g, string(key), value)
			return
		}
		fname, attr := key[:dot], string(key[dot+1:])
		if !validName(fname, false) || attr == "" {
			errs.add(n, line, "bad field name")
			return
		}
		if attr == "value" || attr == "extinfo" {
			return
		}
		i, ok := fields[string(fname)]
		if !ok {
			i = len(g.Fields)
			g.Fields = append(g.Fields, Field{Name: string(fname)})
			fields[string(fname)] = i
		}
		if err := setFieldAttr(&g.Fields[i], attr, value); err != "" {
			errs.add(n, line, err)
		}
	})
	return graphs, errs.err()
}

func setGraphAttr(g *Graph, key, v string) {
	switch key {
	case "graph_title":
		g.Title = v
	case "graph_args":
		g.Args = v
	case "graph_vlabel":
		g.VLabel = v
	case "graph_category":
		g.Category = v
	case "graph_info":
		g.Info = v
	case "graph_period":
		g.Period = v
	case "graph_order":
		g.Order = strings.Fields(v)
	case "graph_total":
		g.Total = v
	case "graph_scale":
		g.Scale = v
	case "graph_printf":
		g.Printf = v
	case "graph":
		g.Graph = v
	default:
		if g.Attrs == nil {
			g.Attrs = map[string]string{}
		}
		g.Attrs[key] = v
	}
}

func setFieldAttr(f *Field, attr, v string) string {
	switch attr {
	case "label":
		f.Label = v
	case "type":
		t := FieldType(strings.ToUpper(v))
		switch t {
		case Gauge, Counter, Derive, Absolute:
			f.Type = t
		default:
			return "unknown field type"
		}
	case "draw":
		f.Draw = v
	case "colour", "color":
		f.Colour = v
	case "info":
		f.Info = v
	case "min":
		f.Min = v
	case "max":
		f.Max = v
	case "warning":
		f.Warning = v
	case "critical":
		f.Critical = v
	case "cdef":
		f.Cdef = v
	case "negative":
		f.Negative = v
	case "graph":
		f.Graph = v
	default:
		if f.Attrs == nil {
			f.Attrs = map[string]string{}
		}
		f.Attrs[attr] = v
	}
	return ""
}

// ParseFetch parses the output of a plugin run without argument (or the
// `.value` lines of a dirtyconfig run). name is the graph of the values
// before any `multigraph` line. Attributes other than `.value` (extinfo,
// or a dirty plugin's config) are skipped; lines that are neither are
// reported in a *ParseErrors next to the good values.
func ParseFetch(name string, data []byte) ([]Fetch, error) {
	var (
		errs    ParseErrors
		fetches []Fetch
		cur     = -1
	)
	eachLine(data, func(n int, line, key []byte, value string) {
		if string(key) == "multigraph" {
			if !validName([]byte(value), true) {
				errs.add(n, line, "bad multigraph name")
				cur = -2
				return
			}
			cur = -1
			for i := range fetches {
				if fetches[i].Graph == value {
					cur = i
				}
			}
			if cur == -1 {
				fetches = append(fetches, Fetch{Graph: value})
				cur = len(fetches) - 1
			}
			return
		}
		if cur == -2 {
			return
		}
		dot := bytes.IndexByte(key, '.')
		if dot < 0 {
			if bytes.HasPrefix(key, []byte("graph")) || string(key) == "host_name" {
				return // a dirty plugin's config line
			}
			errs.add(n, line, "not a field line")
			return
		}
		fname, attr := key[:dot], key[dot+1:]
		if !validName(fname, false) {
			errs.add(n, line, "bad field name")
			return
		}
		if string(attr) != "value" {
			return
		}
		v, ok := ParseValue(value)
		if !ok {
			errs.add(n, line, "bad value")
			return
		}
		v.Field = string(fname)
		if cur == -1 {
			fetches = append(fetches, Fetch{Graph: name})
			cur = len(fetches) - 1
		}
		fetches[cur].Values = append(fetches[cur].Values, v)
	})
	return fetches, errs.err()
}

// ParseValue reads the right side of `field.value`: a number, `U`, or
// either of them after `epoch:`. NaN and infinities are refused: munin's
// rrdtool would store them as unknown, and so must the caller, explicitly.
func ParseValue(s string) (Value, bool) {
	var v Value
	if i := strings.IndexByte(s, ':'); i >= 0 {
		t, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || t < 0 {
			return v, false
		}
		v.Time, s = t, s[i+1:]
	}
	if s == "U" || s == "u" {
		v.Unknown = true
		return v, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(s, "xXpP_") {
		return v, false
	}
	v.Value = f
	return v, true
}

// Range is munin's warning/critical syntax: "max", "min:", ":max" or
// "min:max"; a missing side is unbounded.
type Range struct {
	Min, Max       float64
	HasMin, HasMax bool
}

// ParseRange reads a warning or critical value as munin's master does.
func ParseRange(s string) (Range, error) {
	var r Range
	s = strings.TrimSpace(s)
	if s == "" {
		return r, fmt.Errorf("parse range: empty")
	}
	lo, hi, colon := strings.Cut(s, ":")
	if !colon {
		lo, hi = "", s
	}
	num := func(p string) (float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) {
			return 0, fmt.Errorf("parse range %q: bad number %q", s, p)
		}
		return f, nil
	}
	var err error
	if strings.TrimSpace(lo) != "" {
		if r.Min, err = num(lo); err != nil {
			return r, err
		}
		r.HasMin = true
	}
	if strings.TrimSpace(hi) != "" {
		if r.Max, err = num(hi); err != nil {
			return r, err
		}
		r.HasMax = true
	}
	if !r.HasMin && !r.HasMax {
		return r, fmt.Errorf("parse range %q: no bound", s)
	}
	return r, nil
}

// Check reports whether v lies inside the range (bounds included), that
// is whether no alert is due.
func (r Range) Check(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	return !(r.HasMin && v < r.Min) && !(r.HasMax && v > r.Max)
}

// String renders the range back in munin's syntax.
func (r Range) String() string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	switch {
	case r.HasMin && r.HasMax:
		return f(r.Min) + ":" + f(r.Max)
	case r.HasMin:
		return f(r.Min) + ":"
	case r.HasMax:
		return f(r.Max)
	}
	return ""
}
