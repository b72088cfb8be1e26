package store

import (
	"slices"
	"sync"
)

// recent keeps the records of the last commits in memory, so that the
// stream consumers (host statistics, rules, metrics), which follow close
// behind the writer, need not read back and decompress every block the
// writer has just compressed: that was a third of the loghost's ingest CPU.
// A consumer that falls further behind than the window reads the blocks.
type recent struct {
	max int // records kept

	mu      sync.Mutex
	commits []recentCommit // oldest first
	n       int
}

// recentCommit is one commit: the records with seq in [first, last], in
// its blocks (one per host and kind, so seqs interleave between them).
type recentCommit struct {
	first, last int64
	blocks      [][]Record
}

func newRecent(max int) *recent { return &recent{max: max} }

// add keeps a commit's blocks; they must not change afterwards.
func (c *recent) add(first, last int64, blocks [][]Record) {
	if c == nil || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits = append(c.commits, recentCommit{first: first, last: last, blocks: blocks})
	c.n += int(last - first + 1)
	for len(c.commits) > 1 && c.n > c.max {
		old := c.commits[0]
		c.n -= int(old.last - old.first + 1)
		c.commits[0] = recentCommit{}
		c.commits = c.commits[1:]
	}
}

// read returns the records of kind (all when kind < 0) with seq in
// (after, hi], in seq order, when the window holds all of them from
// after+1 on; ok is false when it does not and the blocks must be read.
// The result may stop short of hi at the newest commit the window holds.
// Records are shallow copies: strings and Fields are shared with the
// live followers and must not be modified.
func (c *recent) read(after, hi int64, kind int) (out []Record, ok bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.commits) == 0 || after+1 < c.commits[0].first || after >= c.commits[len(c.commits)-1].last {
		return nil, false
	}
	sorted := true
	for _, cm := range c.commits {
		if cm.last <= after || cm.first > hi {
			continue
		}
		for bi, b := range cm.blocks {
			if len(b) == 0 || kind >= 0 && int(b[0].Kind) != kind {
				continue
			}
			if bi > 0 {
				sorted = false
			}
			for i := range b {
				if b[i].Seq > after && b[i].Seq <= hi {
					out = append(out, b[i])
				}
			}
		}
	}
	if !sorted {
		slices.SortFunc(out, func(a, b Record) int {
			switch {
			case a.Seq < b.Seq:
				return -1
			case a.Seq > b.Seq:
				return 1
			}
			return 0
		})
	}
	return out, true
}
