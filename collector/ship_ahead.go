package collector

import (
	"bytes"
	"context"
	"sync"
)

// preparer is a sink that encodes a batch apart from sending it, so the
// runner can encode the next batch while the loghost stores this one.
// With one request in flight the agent's encoding (a fifth of the time a
// line takes end to end) otherwise waits for the loghost and the loghost
// for it.
type preparer interface {
	prepare(p *prepared, lines []Line) error
	// sendPrepared is Ship for a prepared batch: nil once the loghost
	// acknowledged it or it is durable in the spool.
	sendPrepared(ctx context.Context, p *prepared) error
}

// prepared is an encoded batch and what its acknowledgement advances.
type prepared struct {
	body  bytes.Buffer
	n     int // lines
	size  int // bytes of text
	marks []sourceMark
}

// sourceMark is the checkpoint of a source's last line in a batch.
type sourceMark struct {
	source string
	mark   checkpoint
}

func (s *Shipper) prepare(p *prepared, lines []Line) error {
	p.body.Reset()
	p.n, p.size, p.marks = len(lines), 0, p.marks[:0]
	for i := range lines {
		p.size += len(lines[i].Text)
		p.marks = setMark(p.marks, lines[i].cpKey(), lines[i].checkpoint())
	}
	s.encMu.Lock()
	defer s.encMu.Unlock()
	return s.enc.encodeTo(&p.body, lines)
}

// setMark sets source's mark: a batch holds few sources, so a slice.
func setMark(marks []sourceMark, source string, cp checkpoint) []sourceMark {
	for i := range marks {
		if marks[i].source == source {
			marks[i].mark = cp
			return marks
		}
	}
	return append(marks, sourceMark{source, cp})
}

func (s *Shipper) sendPrepared(ctx context.Context, p *prepared) error {
	s.send.Lock()
	defer s.send.Unlock()
	return s.deliver(ctx, p.body.Bytes(), p.n)
}

// shipAhead is ship with two stages: this goroutine sends batches one at
// a time, in order, and advances the checkpoints after each is taken,
// exactly as ship does; a second one fills and encodes the next batch
// meanwhile. Two buffers go round between them, so at most one batch
// waits encoded behind the one in flight, and the lines themselves are
// dropped once encoded.
func (r *Runner) shipAhead(ctx context.Context, lines <-chan Line, pr preparer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan *prepared, 2)
	free <- &prepared{}
	free <- &prepared{}
	ready := make(chan *prepared)
	var wg sync.WaitGroup
	defer wg.Wait()
	var buildErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ready)
		// Grown as lines come: a quiet host keeps a small batch.
		batch := make([]Line, 0, 64)
		for {
			var p *prepared
			select {
			case p = <-free:
			case <-ctx.Done():
				return
			}
			var more bool
			batch, _, more = r.fill(ctx, lines, batch[:0])
			if len(batch) > 0 {
				if err := pr.prepare(p, batch); err != nil {
					buildErr = err
					return
				}
				clear(batch) // the texts are in the body now
				if len(batch) < cap(batch)/4 && cap(batch) > 256 {
					batch = nil // a burst is over: give its room back
				}
				select {
				case ready <- p:
				case <-ctx.Done():
					return
				}
			}
			if !more {
				return
			}
		}
	}()
	for p := range ready {
		if !r.retry(ctx, p.n, func() error { return pr.sendPrepared(ctx, p) }) {
			cancel()
			for range ready {
			}
			return ctx.Err()
		}
		r.advance(p.n, p.size, func(yield func(string, checkpoint) bool) {
			for _, m := range p.marks {
				if !yield(m.source, m.mark) {
					return
				}
			}
		})
		free <- p
	}
	wg.Wait()
	return buildErr
}
