package store

import (
	"context"
	"errors"
)

// Append stores records of one ingest batch and returns once they are
// durable. host names the sender (the token's host); a record with its own
// Host (a syslog relay) keeps it. Records that replay an already stored
// (source, generation, offset) are dropped and counted. Append answers
// ErrBusy at once when the writer queue is full, ErrQuota when the host is
// over its daily quota.
func (s *Store) Append(ctx context.Context, host string, recs []Record) (AppendResult, error) {
	if s.w == nil {
		return AppendResult{}, errors.New("store is read-only")
	}
	if len(recs) == 0 {
		return AppendResult{}, nil
	}
	p, err := s.AppendAsync(host, recs, nil)
	if err != nil {
		return AppendResult{}, err
	}
	return p.Wait(ctx)
}

// Pending is a batch queued by AppendAsync.
type Pending struct {
	req *appendReq
	res *appendResp // when answered without the writer
}

// AppendAsync queues recs as Append does, without waiting for the commit,
// so that the caller can prepare its next records meanwhile. When after
// is not nil (the caller's previous AppendAsync), recs are stored only if
// every record of after was stored or dropped as a replay; otherwise
// Wait answers ErrPredecessor. The writer takes the queue in order, so
// the records of a chain are committed in order, and a sender that
// resends from its first failed batch finds the store holding a prefix.
func (s *Store) AppendAsync(host string, recs []Record, after *Pending) (*Pending, error) {
	if s.w == nil {
		return nil, errors.New("store is read-only")
	}
	if after != nil && after.res != nil && after.res.err != nil {
		return nil, ErrPredecessor
	}
	if len(recs) == 0 {
		return &Pending{res: &appendResp{}}, nil
	}
	req := &appendReq{host: host, recs: recs, done: make(chan appendResp, 1)}
	if after != nil {
		req.after = after.req
	}
	select {
	case <-s.w.quit:
		return nil, ErrClosed
	default:
	}
	select {
	case s.w.queue <- req:
	default:
		s.m.busy.Inc()
		return nil, ErrBusy
	}
	return &Pending{req: req}, nil
}

// Wait returns when the batch is durable, or failed, or ctx ends.
func (p *Pending) Wait(ctx context.Context) (AppendResult, error) {
	if p.res != nil {
		return p.res.res, p.res.err
	}
	select {
	case r := <-p.req.done:
		p.res = &r
		return r.res, r.err
	case <-ctx.Done():
		// The batch may still commit; the sender retries and the replay
		// check drops what did.
		return AppendResult{}, ctx.Err()
	}
}
