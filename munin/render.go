package munin

import (
	"bytes"
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// RenderConfig writes g as a plugin's `config` output would (no
// `multigraph` line; RenderConfigs adds those). ParseConfig of the result
// gives g back.
func RenderConfig(g Graph) []byte {
	var b bytes.Buffer
	renderConfig(&b, g)
	return b.Bytes()
}

// RenderConfigs writes several graphs as one multigraph plugin would.
func RenderConfigs(gs []Graph) []byte {
	var b bytes.Buffer
	for _, g := range gs {
		b.WriteString("multigraph " + g.Name + "\n")
		renderConfig(&b, g)
	}
	return b.Bytes()
}

// oneLine keeps a value from breaking the line protocol: a newline in a
// graph_info would otherwise start a forged line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

func renderConfig(b *bytes.Buffer, g Graph) {
	kv := func(k, v string) {
		if v != "" {
			b.WriteString(k + " " + oneLine(v) + "\n")
		}
	}
	kv("graph_title", g.Title)
	kv("graph_args", g.Args)
	kv("graph_vlabel", g.VLabel)
	kv("graph_scale", g.Scale)
	kv("graph_category", g.Category)
	kv("graph_info", g.Info)
	kv("graph_period", g.Period)
	kv("graph_order", strings.Join(g.Order, " "))
	kv("graph_total", g.Total)
	kv("graph_printf", g.Printf)
	kv("graph", g.Graph)
	for _, k := range sortedKeys(g.Attrs) {
		kv(k, g.Attrs[k])
	}
	for _, f := range g.Fields {
		p := f.Name + "."
		kv(p+"label", f.Label)
		kv(p+"type", string(f.Type))
		kv(p+"draw", f.Draw)
		kv(p+"colour", f.Colour)
		kv(p+"info", f.Info)
		kv(p+"min", f.Min)
		kv(p+"max", f.Max)
		kv(p+"warning", f.Warning)
		kv(p+"critical", f.Critical)
		kv(p+"cdef", f.Cdef)
		kv(p+"negative", f.Negative)
		kv(p+"graph", f.Graph)
		for _, k := range sortedKeys(f.Attrs) {
			kv(p+k, f.Attrs[k])
		}
	}
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// RenderFetch writes f's values as a plugin's fetch output would.
func RenderFetch(f Fetch) []byte {
	var b bytes.Buffer
	renderFetch(&b, f)
	return b.Bytes()
}

// RenderFetches writes several graphs' values as a multigraph plugin would.
func RenderFetches(fs []Fetch) []byte {
	var b bytes.Buffer
	for _, f := range fs {
		b.WriteString("multigraph " + f.Graph + "\n")
		renderFetch(&b, f)
	}
	return b.Bytes()
}

func renderFetch(b *bytes.Buffer, f Fetch) {
	for _, v := range f.Values {
		b.WriteString(v.Field + ".value ")
		if v.Time != 0 {
			b.WriteString(strconv.FormatInt(v.Time, 10) + ":")
		}
		if v.Unknown {
			b.WriteString("U\n")
			continue
		}
		b.WriteString(strconv.FormatFloat(v.Value, 'f', -1, 64) + "\n")
	}
}

// StaticSource is a Source over Graph and Fetch values (built-in
// collectors, or a poll of another node): Set them per plugin, a Node
// serves them rendered.
type StaticSource struct {
	mu      sync.Mutex
	graphs  map[string][]Graph
	fetches map[string][]Fetch
}

// Set replaces what plugin name serves. A plugin whose one graph is named
// after it is a plain plugin; any other is served as a multigraph one.
func (s *StaticSource) Set(name string, graphs []Graph, fetches []Fetch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.graphs == nil {
		s.graphs, s.fetches = map[string][]Graph{}, map[string][]Fetch{}
	}
	s.graphs[name], s.fetches[name] = graphs, fetches
}

// List returns the plugin names, sorted.
func (s *StaticSource) List(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.graphs))
	for k := range s.graphs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func plain(name string, gs []Graph) bool { return len(gs) == 1 && gs[0].Name == name }

// Config renders the plugin's graphs.
func (s *StaticSource) Config(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gs, ok := s.graphs[name]
	if !ok {
		return nil, ErrUnknownService
	}
	if plain(name, gs) {
		return RenderConfig(gs[0]), nil
	}
	return RenderConfigs(gs), nil
}

// Fetch renders the plugin's latest values.
func (s *StaticSource) Fetch(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gs, ok := s.graphs[name]
	if !ok {
		return nil, ErrUnknownService
	}
	fs := s.fetches[name]
	if plain(name, gs) {
		if len(fs) == 0 {
			return nil, nil
		}
		return RenderFetch(fs[0]), nil
	}
	return RenderFetches(fs), nil
}
