package collector

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// SourceStat is one file generation's (or the journal's) state for the
// self-report.
type SourceStat struct {
	Source string `json:"source"`
	File   string `json:"file,omitempty"` // where the generation is now
	Offset int64  `json:"offset"`         // acknowledged
	Size   int64  `json:"size,omitempty"` // the file's size now
	Lag    int64  `json:"lag_bytes"`      // written but not yet acknowledged
}

// LossStat is what one source lost since the collector started: bytes
// that were written but could not be read (a file truncated or removed
// before its end was read), and an estimate of the lines they held.
type LossStat struct {
	Source      string    `json:"source"`
	File        string    `json:"file"`
	Bytes       int64     `json:"bytes"`
	Lines       int64     `json:"lines"`
	Generations int64     `json:"generations,omitempty"` // whole generations gone unread while stopped
	Last        time.Time `json:"last"`
}

// Report is the collector's self-report, sent with the batches.
type Report struct {
	Type            string       `json:"type"` // "report"
	Version         string       `json:"version"`
	Started         time.Time    `json:"started"`
	UptimeSeconds   int64        `json:"uptime_seconds"`
	Sources         []SourceStat `json:"sources"`
	SpoolBatches    int          `json:"spool_batches"`
	SpoolBytes      int64        `json:"spool_bytes"`
	LostGenerations uint64       `json:"lost_generations"`
	LostBytes       int64        `json:"lost_bytes"`
	LostLines       int64        `json:"lost_lines"`
	Losses          []LossStat   `json:"losses,omitempty"`
	TruncatedLines  uint64       `json:"truncated_lines"`
	ShipErrors      uint64       `json:"ship_errors"`
}

// lossBook counts losses per source, for /metrics and the self-report.
type lossBook struct {
	mu     sync.Mutex
	by     map[string]*LossStat
	bytes  int64
	lines  int64
	series int
}

// maxLossSeries bounds the per-source loss metrics; further sources are
// counted under source="(other)".
const maxLossSeries = 500

func (r *Runner) lost(source, path string, bytes, lines int64, generation bool) {
	b := &r.losses
	b.mu.Lock()
	if b.by == nil {
		b.by = map[string]*LossStat{}
	}
	key := source
	if _, ok := b.by[key]; !ok && len(b.by) >= maxLossSeries {
		key = "(other)"
	}
	ls := b.by[key]
	if ls == nil {
		ls = &LossStat{Source: key}
		b.by[key] = ls
	}
	ls.File, ls.Bytes, ls.Lines, ls.Last = path, ls.Bytes+bytes, ls.Lines+lines, r.now()
	if generation {
		ls.Generations++
	}
	b.bytes += bytes
	b.lines += lines
	b.mu.Unlock()
	if generation {
		r.lostFiles.Inc()
	}
	r.set.GetOrCreateCounter(fmt.Sprintf(`watchpost_collector_lost_bytes_total{source="%s"}`, labelValue(key))).Add(int(bytes))
	r.set.GetOrCreateCounter(fmt.Sprintf(`watchpost_collector_lost_lines_total{source="%s"}`, labelValue(key))).Add(int(lines))
}

// labelValue escapes a Prometheus label value.
func labelValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// Losses returns the losses counted so far, largest first.
func (r *Runner) Losses() []LossStat {
	b := &r.losses
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]LossStat, 0, len(b.by))
	for _, ls := range b.by {
		out = append(out, *ls)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Source < out[j].Source
	})
	return out
}

// Stats returns the sources' acknowledged positions and lag.
func (r *Runner) Stats() []SourceStat {
	r.mu.Lock()
	out := make([]SourceStat, 0, len(r.cps))
	ids := make([]fileID, 0, len(r.cps))
	for key, cp := range r.cps {
		s := SourceStat{Source: key, Offset: cp.Offset}
		if cp.Source != "" {
			s.Source, s.File = cp.Source, cp.Path
		}
		out = append(out, s)
		ids = append(ids, fileID{cp.Dev, cp.Ino})
	}
	r.mu.Unlock()
	for i := range out {
		if out[i].File == "" {
			continue
		}
		if st, err := statPath(out[i].File); err == nil && st.id == ids[i] {
			out[i].Size = st.size
			out[i].Lag = max(0, st.size-out[i].Offset)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Source != out[j].Source {
			return out[i].Source < out[j].Source
		}
		return out[i].File < out[j].File
	})
	return out
}

// Report builds the self-report.
func (r *Runner) Report(version string, spoolBatches int, spoolBytes int64) Report {
	losses := r.Losses()
	r.losses.mu.Lock()
	lostBytes, lostLines := r.losses.bytes, r.losses.lines
	r.losses.mu.Unlock()
	if len(losses) > 50 {
		losses = losses[:50]
	}
	return Report{Type: "report", Version: version, Started: r.started.UTC(), UptimeSeconds: int64(r.now().Sub(r.started).Seconds()),
		Sources: r.Stats(), SpoolBatches: spoolBatches, SpoolBytes: spoolBytes,
		LostGenerations: r.lostFiles.Get(), LostBytes: lostBytes, LostLines: lostLines, Losses: losses,
		TruncatedLines: r.truncated.Get(), ShipErrors: r.shipErrors.Get()}
}
