package server

import (
	"context"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/query"
)

// reloadLoop re-reads the configuration on each SIGHUP; a file that does
// not load keeps the running configuration.
func (l *loghost) reloadLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.o.Reload:
			cfg, err := config.Load(l.o.ConfigPath)
			if err != nil {
				l.o.Logger.Error("reload: the new configuration has errors; keeping the old one", "err", err)
				continue
			}
			l.reload(cfg)
		}
	}
}

func parseQuery(q string) (*query.Query, error) { return query.Parse(q) }
