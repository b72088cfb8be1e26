package collector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/watchpost/watchpost/munin"
)

// PluginSource adapts a munin plugin runner to MetricSource: one round
// runs every plugin (in parallel, each under its timeout).
func PluginSource(r *munin.Runner) MetricSource {
	return MetricSourceFunc(func(ctx context.Context) ([]munin.Graph, []munin.Fetch, error) {
		res, err := r.Collect(ctx)
		var gs []munin.Graph
		var fs []munin.Fetch
		errs := []error{err}
		for _, x := range res {
			gs = append(gs, x.Graphs...)
			fs = append(fs, x.Fetches...)
			errs = append(errs, x.Err)
		}
		return gs, fs, errors.Join(errs...)
	})
}

// NodeSource answers a munin master (munin.Node) from the built-in
// readers and the plugins together. Built-in graphs are services named
// after their graph; nested graphs ("diskstats_iops.sda") travel inside
// their parent's service as multigraph sections, as munin's own
// multigraph plugins do. A plugin of the same name wins: the admin put
// it there on purpose.
type NodeSource struct {
	Builtin MetricSource  // may be nil
	Plugins *munin.Runner // may be nil
	// MaxAge is how long one built-in round serves config and fetch
	// requests (a master asks for each service in turn).
	MaxAge time.Duration
	Now    func() time.Time

	mu      sync.Mutex
	at      time.Time
	graphs  []munin.Graph
	fetches []munin.Fetch
}

func (s *NodeSource) builtinRound(ctx context.Context) ([]munin.Graph, []munin.Fetch, error) {
	if s.Builtin == nil {
		return nil, nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	if s.graphs != nil && now.Sub(s.at) < s.MaxAge {
		return s.graphs, s.fetches, nil
	}
	gs, fs, err := s.Builtin.Collect(ctx)
	if err != nil && gs == nil {
		return nil, nil, err
	}
	s.at, s.graphs, s.fetches = now, gs, fs
	return gs, fs, nil
}

func service(graph string) string {
	name, _, _ := strings.Cut(graph, ".")
	return name
}

// List implements munin.Source.
func (s *NodeSource) List(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	if s.Plugins != nil {
		names, err := s.Plugins.List(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			seen[n] = true
			out = append(out, n)
		}
	}
	gs, _, err := s.builtinRound(ctx)
	if err != nil {
		return out, nil // the plugins still answer
	}
	for _, g := range gs {
		if n := service(g.Name); !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s *NodeSource) builtin(ctx context.Context, name string) ([]munin.Graph, []munin.Fetch, error) {
	gs, fs, err := s.builtinRound(ctx)
	if err != nil {
		return nil, nil, err
	}
	var g2 []munin.Graph
	var f2 []munin.Fetch
	for _, g := range gs {
		if service(g.Name) == name {
			g2 = append(g2, g)
		}
	}
	for _, f := range fs {
		if service(f.Graph) == name {
			f2 = append(f2, f)
		}
	}
	if len(g2) == 0 {
		return nil, nil, munin.ErrUnknownService
	}
	return g2, f2, nil
}

func (s *NodeSource) isPlugin(ctx context.Context, name string) bool {
	if s.Plugins == nil {
		return false
	}
	names, err := s.Plugins.List(ctx)
	return err == nil && slices.Contains(names, name)
}

// Config implements munin.Source.
func (s *NodeSource) Config(ctx context.Context, name string) ([]byte, error) {
	if s.isPlugin(ctx, name) {
		return s.Plugins.Config(ctx, name)
	}
	gs, _, err := s.builtin(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(gs) == 1 && gs[0].Name == name {
		return munin.RenderConfig(gs[0]), nil
	}
	return munin.RenderConfigs(gs), nil
}

// Fetch implements munin.Source.
func (s *NodeSource) Fetch(ctx context.Context, name string) ([]byte, error) {
	if s.isPlugin(ctx, name) {
		return s.Plugins.Fetch(ctx, name)
	}
	gs, fs, err := s.builtin(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(gs) == 1 && gs[0].Name == name {
		if len(fs) == 0 {
			return nil, fmt.Errorf("built-in %s: no values this round", name)
		}
		return munin.RenderFetch(fs[0]), nil
	}
	return munin.RenderFetches(fs), nil
}
