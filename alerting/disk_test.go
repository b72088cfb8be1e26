package alerting

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDiskWatcher: free space under the threshold fires once (warning,
// then an update at critical), the watcher looks once a minute, and it
// resolves only above the threshold plus its margin.
func TestDiskWatcher(t *testing.T) {
	r := newIncidentRig(t, Config{})
	const gib = 1 << 30
	free := uint64(50 * gib)
	var statErr error
	w := &DiskWatcher{DB: r.db, Path: "/var/lib/watchpost", Statfs: func(path string) (uint64, uint64, error) {
		if path != "/var/lib/watchpost" {
			t.Errorf("statfs of %q", path)
		}
		return free, 100 * gib, statErr
	}}
	r.d.cfg.Disk = w
	if th := w.Threshold(100 * gib); th != 10*gib {
		t.Errorf("threshold %d", th)
	}
	if th := w.Threshold(4 * gib); th != gib {
		t.Errorf("small disk threshold %d", th)
	}
	steps := []struct {
		at   time.Duration
		free uint64
		want string
	}{
		{0, 50 * gib, ""},
		{time.Minute, 9 * gib, "[watchpost] loghost disk /var/lib/watchpost is filling up"},
		{time.Minute + 30*time.Second, 4 * gib, ""}, // not looked at: under a minute
		{2 * time.Minute, 8 * gib, ""},              // still warning: nothing new
		{3 * time.Minute, 4 * gib, "CRITICAL"},      // update (after the group interval)
		{9 * time.Minute, 11 * gib, ""},             // inside the margin: still open
		{10 * time.Minute, 13 * gib, "room again"},
		{11 * time.Minute, 13 * gib, ""},
	}
	for _, s := range steps {
		free = s.free
		before := len(r.def.msgs)
		r.at(t, s.at)
		if s.at == 3*time.Minute {
			r.at(t, 6*time.Minute+time.Second)
		}
		var got []string
		for _, m := range r.def.msgs[before:] {
			got = append(got, m.Subject+"\n"+m.Text)
		}
		switch {
		case s.want == "" && len(got) != 0:
			t.Errorf("%v: unexpected %q", s.at, got)
		case s.want != "" && (len(got) != 1 || !strings.Contains(got[0], s.want)):
			t.Errorf("%v: got %q, want %q", s.at, got, s.want)
		}
	}
	if n := len(r.def.msgs); n != 3 || r.def.msgs[2].InReplyTo != "watchpost.incident.1@lh" {
		t.Errorf("%d messages, last %+v", n, r.def.msgs[n-1])
	}
	statErr = errors.New("gone")
	w.last = time.Time{}
	if err := w.Check(context.Background(), t0.Add(time.Hour)); err == nil {
		t.Error("statfs error not reported")
	}
	if _, _, err := StatfsFree(t.TempDir()); err != nil {
		t.Errorf("statfs: %v", err)
	}
}

// TestDiskWatcherFull: the store finding its disk full fires the
// incident at once, critical, whatever statfs says; it resolves once the
// store writes again and the space is back.
func TestDiskWatcherFull(t *testing.T) {
	r := newIncidentRig(t, Config{})
	const gib = 1 << 30
	full := false
	w := &DiskWatcher{DB: r.db, Path: "/var/lib/watchpost", Full: func() bool { return full },
		Statfs: func(string) (uint64, uint64, error) { return 50 * gib, 100 * gib, nil }}
	r.d.cfg.Disk = w
	r.at(t, 0)
	full = true
	r.at(t, time.Second) // within the minute: a change of Full is looked at at once
	if len(r.def.msgs) != 1 || !strings.Contains(r.def.msgs[0].Subject, "is full") || !strings.Contains(r.def.msgs[0].Text, "refused") {
		t.Fatalf("messages %+v", r.def.msgs)
	}
	var sev string
	r.db.QueryRow(`SELECT severity FROM incidents WHERE source = 'loghost'`).Scan(&sev)
	if sev != "critical" {
		t.Errorf("severity %q", sev)
	}
	full = false
	r.at(t, 2*time.Second)
	if len(r.def.msgs) != 2 || !strings.Contains(r.def.msgs[1].Text, "room again") {
		t.Fatalf("after the store writes again: %+v", r.def.msgs)
	}
}
