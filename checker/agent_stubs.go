//go:build agent

package checker

import (
	"context"
	"errors"
	"time"

	"github.com/watchpost/watchpost/config"
)

// The agent build (`-tags agent`) probes what a collector may be asked
// to probe; S3 buckets and IMAP mailboxes are the loghost's, and their
// clients would double the agent's size. So is domain expiry
// (domain_rdap.go).

var errNotInAgent = errors.New("not in the agent build: the loghost checks this")

type s3Bucket struct{}

func compileS3(p *Probe, c config.Check) error { return errNotInAgent }

func (b *s3Bucket) list(ctx context.Context) ([]arrival, error) { return nil, errNotInAgent }

func (p *Probe) openIMAP(ctx context.Context, m *remoteMailbox, cutoff time.Time) (mailSession, error) {
	return nil, errNotInAgent
}

// Registry is the loghost's domain registry client; a domain's expiry is
// the same from everywhere, so vantages never ask, and the agent build
// leaves out the RDAP client and its international-name tables.
type Registry struct{}

func compileDomain(p *Probe, c config.Check) error { return errNotInAgent }

func runDomain(ctx context.Context, p *Probe, v map[string]any) error { return errNotInAgent }
