package store

import (
	"os"

	"github.com/VictoriaMetrics/metrics"
)

type storeMetrics struct {
	records        *metrics.Counter
	replays        *metrics.Counter
	commits        *metrics.Counter
	busy           *metrics.Counter
	quotaRejected  *metrics.Counter
	writeErrors    *metrics.Counter
	commitDuration *metrics.Histogram
	deletedBlocks  *metrics.Counter
	compacted      *metrics.Counter
	liveDropped    *metrics.Counter
}

func newStoreMetrics(set *metrics.Set, s *Store) *storeMetrics {
	m := &storeMetrics{
		records:        set.NewCounter("watchpost_store_records_total"),
		replays:        set.NewCounter("watchpost_store_replays_dropped_total"),
		commits:        set.NewCounter("watchpost_store_commits_total"),
		busy:           set.NewCounter("watchpost_store_busy_rejections_total"),
		quotaRejected:  set.NewCounter("watchpost_store_quota_rejections_total"),
		writeErrors:    set.NewCounter("watchpost_store_write_errors_total"),
		commitDuration: set.NewHistogram("watchpost_store_commit_duration_seconds"),
		deletedBlocks:  set.NewCounter("watchpost_store_retention_deleted_blocks_total"),
		compacted:      set.NewCounter("watchpost_store_compacted_blocks_total"),
		liveDropped:    set.NewCounter("watchpost_live_dropped_total"),
	}
	set.NewGauge("watchpost_store_writer_queue_depth", func() float64 { return float64(s.QueueDepth()) })
	set.NewGauge("watchpost_store_last_seq", func() float64 { return float64(s.LastSeq()) })
	set.NewGauge("watchpost_store_file_bytes", func() float64 {
		var n int64
		for _, suffix := range []string{"", "-wal"} {
			if fi, err := os.Stat(s.opts.Path + suffix); err == nil {
				n += fi.Size()
			}
		}
		return float64(n)
	})
	return m
}
