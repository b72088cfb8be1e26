package uptime

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
)

func openTracker(t *testing.T, cfg Config) (*Tracker, *Reader, *store.Store) {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	return New(s.DB(), cfg), NewReader(s.ReadDB(), cfg.Location), s
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// probe is one observation at minute m: u up, d degraded, x down.
type probe struct {
	m    float64
	kind byte
}

func run(t *testing.T, tr *Tracker, check string, probes []probe) []*Change {
	t.Helper()
	var changes []*Change
	for _, p := range probes {
		o := Observation{Check: check, Time: t0.Add(time.Duration(p.m * float64(time.Minute))), OK: p.kind != 'x', Degraded: p.kind == 'd', Duration: 100 * time.Millisecond, Detail: "status 503"}
		c, err := tr.Observe(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if c != nil {
			changes = append(changes, c)
		}
	}
	return changes
}

func TestStateMachineAndAccounting(t *testing.T) {
	tests := []struct {
		name    string
		probes  []probe
		maint   []Window
		changes []string      // from→to
		want    [5]int64      // minutes up, degraded, down, unknown, maintenance
		since   time.Duration // of the last change, from t0
	}{
		{"steady up", []probe{{0, 'u'}, {1, 'u'}, {2, 'u'}}, nil, []string{"unknown→up"}, [5]int64{2, 0, 0, 0, 0}, 0},
		{"one failure is not an outage", []probe{{0, 'u'}, {1, 'x'}, {2, 'u'}}, nil, []string{"unknown→up"}, [5]int64{2, 0, 0, 0, 0}, 0},
		{"outage counts from its first failed probe", []probe{{0, 'u'}, {1, 'x'}, {2, 'x'}, {3, 'x'}, {4, 'u'}, {5, 'u'}},
			nil, []string{"unknown→up", "up→down", "down→up"}, [5]int64{2, 0, 3, 0, 0}, 4 * time.Minute},
		{"degraded is not downtime", []probe{{0, 'u'}, {1, 'd'}, {2, 'd'}, {3, 'u'}}, nil,
			[]string{"unknown→up", "up→degraded", "degraded→up"}, [5]int64{1, 2, 0, 0, 0}, 3 * time.Minute},
		{"a gap is unknown, not down", []probe{{0, 'u'}, {1, 'u'}, {30, 'u'}, {31, 'u'}}, nil,
			[]string{"unknown→up"}, [5]int64{5, 0, 0, 26, 0}, 0},
		{"maintenance is left out", []probe{{0, 'u'}, {1, 'x'}, {2, 'x'}, {3, 'x'}, {4, 'u'}},
			[]Window{{Start: t0.Add(90 * time.Second), End: t0.Add(3 * time.Minute)}}, []string{"unknown→up", "up→down", "down→up"},
			[5]int64{1, 0, 1, 0, 1}, 4 * time.Minute}, // rounded minutes: 1 up, 0.5+1 down, 1.5 maintenance
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, rd, _ := openTracker(t, Config{FailThreshold: 2, MaxGap: func(string) time.Duration { return 3 * time.Minute }, Maintenance: tt.maint})
			changes := run(t, tr, "wiki", tt.probes)
			var got []string
			for _, c := range changes {
				got = append(got, c.From.String()+"→"+c.To.String())
			}
			if len(got) != len(tt.changes) {
				t.Fatalf("changes %v, want %v", got, tt.changes)
			}
			for i := range got {
				if got[i] != tt.changes[i] {
					t.Fatalf("changes %v, want %v", got, tt.changes)
				}
			}
			if last := changes[len(changes)-1]; !last.Since.Equal(t0.Add(tt.since)) {
				t.Errorf("last change since %v, want %v", last.Since.Sub(t0), tt.since)
			}
			days, err := rd.Days(context.Background(), "wiki", 1, t0)
			if err != nil {
				t.Fatal(err)
			}
			d := days[0]
			gotMin := [5]int64{d.Up / 60000, d.Degraded / 60000, d.Down / 60000, d.Unknown / 60000, d.Maintenance / 60000}
			if gotMin != tt.want {
				t.Errorf("minutes %v, want %v (ms %+v)", gotMin, tt.want, d)
			}
		})
	}
}

func TestIncidentAndOutboxCommitTogether(t *testing.T) {
	tr, rd, s := openTracker(t, Config{Public: func(c string) bool { return c == "wiki" }})
	run(t, tr, "wiki", []probe{{0, 'u'}, {1, 'x'}, {2, 'x'}})
	cur, _ := rd.Current(context.Background(), "wiki")
	if cur.Status != Down || !cur.Since.Equal(t0.Add(time.Minute)) || cur.Detail != "status 503" {
		t.Fatalf("current %+v", cur)
	}
	ins, err := rd.Incidents(context.Background(), true, 10)
	if err != nil || len(ins) != 1 || !ins[0].Resolved.IsZero() || ins[0].Title != "wiki is down" || len(ins[0].Updates) != 1 {
		t.Fatalf("incidents %+v %v", ins, err)
	}
	run(t, tr, "wiki", []probe{{3, 'u'}})
	ins, _ = rd.Incidents(context.Background(), true, 10)
	if !ins[0].Resolved.Equal(t0.Add(3*time.Minute)) || len(ins[0].Updates) != 2 {
		t.Fatalf("not resolved: %+v", ins[0])
	}
	var kinds []string
	rows, _ := s.ReadDB().Query(`SELECT kind FROM outbox ORDER BY id`)
	for rows.Next() {
		var k string
		rows.Scan(&k)
		kinds = append(kinds, k)
	}
	rows.Close()
	// A public incident's opening and end are also status notices for
	// the status page's subscribers, in the same transaction.
	if strings.Join(kinds, " ") != "check_up check_down status_notice check_up status_notice" {
		t.Errorf("outbox %v", kinds)
	}
	// Private checks' incidents stay off the public list.
	run(t, tr, "db", []probe{{0, 'x'}, {1, 'x'}})
	if ins, _ := rd.Incidents(context.Background(), true, 10); len(ins) != 1 {
		t.Errorf("public incidents %d, want 1", len(ins))
	}
}

func TestDaysSplitAtMidnightInZone(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	tr, rd, _ := openTracker(t, Config{Location: berlin, MaxGap: func(string) time.Duration { return time.Hour }})
	// 22:30 and 23:30 UTC on Nov 24 are 23:30 and 00:30 in Berlin.
	start := time.Date(2026, 11, 24, 22, 30, 0, 0, time.UTC)
	for i := 0; i <= 2; i++ {
		tr.Observe(context.Background(), Observation{Check: "w", Time: start.Add(time.Duration(i) * 30 * time.Minute), OK: true})
	}
	days, _ := rd.Days(context.Background(), "w", 2, start.Add(time.Hour))
	if days[0].Day != "2026-11-24" || days[0].Up != 30*60000 || days[1].Up != 30*60000 {
		t.Errorf("days %+v", days)
	}
	if r, ok := Ratio(days); !ok || r != 1 {
		t.Errorf("ratio %v %v", r, ok)
	}
}

func TestPerCheckThresholds(t *testing.T) {
	tr, rd, _ := openTracker(t, Config{FailThreshold: 2,
		FailThresholdFor:    func(c string) int { return map[string]int{"slow": 3}[c] },
		SuccessThresholdFor: func(c string) int { return map[string]int{"slow": 2}[c] }})
	run(t, tr, "slow", []probe{{0, 'u'}, {1, 'x'}, {2, 'x'}})
	if cur, _ := rd.Current(context.Background(), "slow"); cur.Status != Up {
		t.Fatalf("two failures with fail_threshold 3: %v", cur.Status)
	}
	run(t, tr, "slow", []probe{{3, 'x'}, {4, 'u'}})
	if cur, _ := rd.Current(context.Background(), "slow"); cur.Status != Down || !cur.Since.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after the third failure and one success (success_threshold 2): %+v", cur)
	}
	run(t, tr, "slow", []probe{{5, 'u'}})
	if cur, _ := rd.Current(context.Background(), "slow"); cur.Status != Up || !cur.Since.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("after two successes: %+v", cur)
	}
}

// every is a schedule starting a window at minute m of each hour.
type every struct{ m int }

func (e every) Next(t time.Time) time.Time {
	n := t.Truncate(time.Hour).Add(time.Duration(e.m) * time.Minute)
	if !n.After(t) {
		n = n.Add(time.Hour)
	}
	return n
}

func TestRecurringMaintenance(t *testing.T) {
	// A window at :02 of every hour lasting a minute: minutes 2-3 and 62-63.
	tr, rd, _ := openTracker(t, Config{MaxGap: func(string) time.Duration { return time.Hour },
		Maintenance: []Window{{Every: every{2}, Duration: time.Minute, Checks: map[string]bool{"wiki": true}}}})
	var ps []probe
	for m := 0; m <= 70; m++ {
		ps = append(ps, probe{float64(m), 'u'})
	}
	run(t, tr, "wiki", ps)
	days, _ := rd.Days(context.Background(), "wiki", 1, t0)
	if days[0].Maintenance != 2*60000 || days[0].Up != 68*60000 {
		t.Errorf("day %+v, want 2 min maintenance and 68 up", days[0])
	}
}
