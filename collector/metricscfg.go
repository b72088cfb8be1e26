package collector

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/collector/hoststat"
	"github.com/watchpost/watchpost/munin"
)

// metricsConfig is the host-metrics part of `watchpost collect`.
type metricsConfig struct {
	host       string
	interval   time.Duration
	builtin    bool
	pluginDir  string // "" = munin's folder when it exists, "none" = off
	pluginConf string
	listen     string
	allow      []string
}

// build makes the collection loop and, when asked, the munin-node
// answering masters; both nil when there is nothing to collect.
func (mc metricsConfig) build(set *metrics.Set, logger *slog.Logger) (*MetricsLoop, *munin.Node, error) {
	var sources []NamedSource
	var builtin MetricSource
	if mc.builtin {
		builtin = hoststat.New(hoststat.Options{Metrics: set, Logger: logger.With("component", "hoststat")})
		sources = append(sources, NamedSource{Origin: "builtin", Source: builtin})
	}
	var runner *munin.Runner
	dir := mc.pluginDir
	if dir == "" {
		if fi, err := os.Stat(munin.DefaultPluginDir); err == nil && fi.IsDir() {
			dir = munin.DefaultPluginDir
		}
	}
	if dir != "" && dir != "none" {
		r, err := munin.NewRunner(munin.RunnerOptions{PluginDir: dir, ConfDir: mc.pluginConf, Hostname: mc.host,
			Metrics: set, Logger: logger.With("component", "munin"), Now: time.Now})
		if err != nil {
			return nil, nil, fmt.Errorf("munin plugins: %w", err)
		}
		runner = r
		sources = append(sources, NamedSource{Origin: "plugin", Source: PluginSource(r)})
	}
	var node *munin.Node
	if mc.listen != "" {
		allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
		if len(mc.allow) > 0 {
			allow = allow[:0]
			for _, a := range mc.allow {
				p, err := netip.ParsePrefix(a)
				if err != nil {
					addr, err2 := netip.ParseAddr(a)
					if err2 != nil {
						return nil, nil, fmt.Errorf("munin_allow %q: %w", a, err)
					}
					p = netip.PrefixFrom(addr, addr.BitLen())
				}
				allow = append(allow, p)
			}
		}
		src := &NodeSource{Builtin: builtin, Plugins: runner, MaxAge: 10 * time.Second, Now: time.Now}
		n, err := munin.NewNode(munin.NodeOptions{Source: src, Hostname: mc.host, Allow: allow, Logger: logger.With("component", "munin-node")})
		if err != nil {
			return nil, nil, err
		}
		node = n
	}
	if len(sources) == 0 {
		return nil, node, nil
	}
	return &MetricsLoop{Sources: sources, Interval: mc.interval, Now: time.Now, Logger: logger, Metrics: set}, node, nil
}
