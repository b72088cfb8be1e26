package alerting

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// DiskWatcher watches the loghost's own storage: when the free space of
// the file system holding Path falls under the threshold it fires a
// "loghost" incident (warning; critical under half the threshold), and
// resolves it once the free space is back above the threshold by a
// margin, so a disk hovering at the line does not flap.
type DiskWatcher struct {
	DB   *sql.DB
	Path string
	// MinFree and MinFreePercent: the threshold is the larger of the two
	// (defaults 1 GiB and 10 %).
	MinFree        uint64
	MinFreePercent float64
	Every          time.Duration // default one minute
	// Statfs reports the free (for unprivileged users) and total bytes of
	// the file system holding path; nil: statfs(2).
	Statfs func(path string) (free, total uint64, err error)
	// Full, when set, reports that the store's writes fail for a full
	// disk (store.DiskFull): the incident fires at once, critical,
	// whatever statfs says (a quota, or SQLite's own page limit).
	Full func() bool

	mu      sync.Mutex
	last    time.Time
	wasFull bool
}

// Defaults of DiskWatcher.
const (
	DefaultDiskMinFree        = 1 << 30
	DefaultDiskMinFreePercent = 10
	// diskHysteresis: resolved when free space is back above the
	// threshold times this.
	diskHysteresis = 1.25
)

// StatfsFree is statfs(2): the bytes an unprivileged process may still
// write, and the size of the file system.
func StatfsFree(path string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// Threshold is the free space under which the disk alert fires.
func (w *DiskWatcher) Threshold(total uint64) uint64 {
	minFree, pct := w.MinFree, w.MinFreePercent
	if minFree == 0 {
		minFree = DefaultDiskMinFree
	}
	if pct == 0 {
		pct = DefaultDiskMinFreePercent
	}
	return max(minFree, uint64(float64(total)*pct/100))
}

// Check looks at the disk if Every has passed since it last did, and
// fires, updates or resolves the incident. The state is the incident
// itself, so a restart neither repeats nor forgets it.
func (w *DiskWatcher) Check(ctx context.Context, now time.Time) error {
	full := w.Full != nil && w.Full()
	w.mu.Lock()
	every := w.Every
	if every == 0 {
		every = time.Minute
	}
	// A change of Full is looked at at once, not at the next minute.
	if !w.last.IsZero() && now.Sub(w.last) < every && !now.Before(w.last) && full == w.wasFull {
		w.mu.Unlock()
		return nil
	}
	w.last = now
	w.mu.Unlock()
	statfs := w.Statfs
	if statfs == nil {
		statfs = StatfsFree
	}
	free, total, err := statfs(w.Path)
	if err != nil {
		return err
	}
	limit := w.Threshold(total)
	ev := diskEvent{Path: w.Path, Free: free, Total: total, Threshold: limit, Time: now.UTC(), Severity: "warning", Full: full}
	if free < limit/2 || full {
		ev.Severity = "critical"
	}
	w.mu.Lock()
	w.wasFull = full
	w.mu.Unlock()
	title := "loghost disk " + w.Path + " is filling up"
	if full {
		title = "loghost disk " + w.Path + " is full: new data is refused"
	}
	key := "disk:" + w.Path
	tx, err := w.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("disk alert: %w", err)
	}
	defer tx.Rollback()
	var open int64
	err = tx.QueryRowContext(ctx, `SELECT id FROM incidents WHERE source = ? AND incident_key = ? AND resolved IS NULL AND source != 'check'`, SourceLoghost, key).Scan(&open)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("disk alert: %w", err)
	}
	firing := err == nil
	switch {
	case free < limit || full:
		labels := map[string]string{"source": SourceLoghost, "service": "loghost", "severity": ev.Severity, "path": w.Path}
		if _, _, err := Fire(ctx, tx, Alert{Source: SourceLoghost, Key: key, Labels: labels, Severity: ev.Severity,
			Title: title, Time: now, Kind: KindLoghostDisk, Payload: ev}); err != nil {
			return err
		}
	case firing && float64(free) >= float64(limit)*diskHysteresis:
		if _, _, err := Resolve(ctx, tx, Resolution{Source: SourceLoghost, Key: key, Time: now, Kind: KindLoghostDisk, Payload: ev,
			Text: "free space is back"}); err != nil {
			return err
		}
	default:
		return nil
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("disk alert: %w", err)
	}
	return nil
}
