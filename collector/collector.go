// Package collector reads a host's logs — files and the systemd journal —
// and hands them to a sink with (source, generation, offset) on every line,
// advancing its checkpoints only after the sink made them durable. The
// loghost runs it for its own host (sink: its store); the host agent
// `watchpost collect` runs it with an HTTPS shipper as the sink.
package collector

import (
	"context"
	"time"
)

// Line is one log line read from a source.
type Line struct {
	// Source is a stable id: "file:/var/log/syslog", "journal".
	Source string
	// Gen changes whenever the file behind the source is replaced or
	// truncated, so that a reused offset is never taken for a replay.
	Gen string
	// Offset is where the line starts in its generation (journal: the
	// entry's number since the cursor the run started after).
	Offset int64
	Text   []byte // without the newline
	File   string
	Format string
	Site   string
	// Journal entries carry their own time and fields; file lines leave
	// these zero and the loghost parses Text.
	Time     time.Time
	Host     string
	Program  string
	PID      string
	Priority int // 0..7, -1 unknown
	Facility int // 0..23, -1 unknown

	end  int64       // offset after the line, for the checkpoint
	seen int64       // how large the file was seen to be
	mark *checkpoint // the source's identity to save with it (shared, never changed)
	key  string      // the checkpoint's name; "" : Source
}

// checkpoint is the checkpoint to save once the line is durable.
func (l *Line) checkpoint() checkpoint {
	cp := *l.mark
	cp.Offset, cp.Seen = l.end, l.seen
	return cp
}

// cpKey names the line's checkpoint: a file's generations each have
// their own, the journal one.
func (l *Line) cpKey() string {
	if l.key != "" {
		return l.key
	}
	return l.Source
}

// Sink takes lines and returns nil only once they are durable.
type Sink interface {
	Ship(ctx context.Context, lines []Line) error
}
