package checker

import (
	"context"
	"errors"

	"github.com/watchpost/watchpost/config"
)

type domainProbe struct{}

func compileDomain(p *Probe, c config.Check) error { return nil }

func runDomain(ctx context.Context, p *Probe, v map[string]any) error { return errors.New("todo") }
