package maintenance

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/uptime"
)

// Set is every window in force: the configuration's and the stored
// ones, with the catalog of checks they are resolved against. It is
// safe for concurrent use; a change is pushed to OnChange (the uptime
// tracker) at once.
type Set struct {
	db  *sql.DB
	loc *time.Location
	// OnChange receives the tracker's form of every window after a
	// change (nil: nobody is told).
	OnChange func([]uptime.Window)

	mu      sync.Mutex
	config  []Window
	stored  []Window
	catalog Catalog
}

// NewSet returns an empty set over the store's database; call
// SetConfig and Reload before use.
func NewSet(db *sql.DB, loc *time.Location) *Set {
	return &Set{db: db, loc: loc}
}

// FromConfig reads the configuration's windows (already validated).
func FromConfig(cfg *config.Config) []Window {
	var out []Window
	for _, m := range cfg.Maintenance {
		w := Window{Name: m.Name, Schedule: m.Schedule, Duration: time.Duration(m.Duration), Checks: m.Checks, Labels: m.Labels,
			Hosts: m.Hosts, Description: m.Description, Source: "config"}
		if m.Schedule == "" {
			s, err1 := config.ParseTime(m.Start, cfg.Location())
			e, err2 := config.ParseTime(m.End, cfg.Location())
			if err1 != nil || err2 != nil {
				continue
			}
			w.Start, w.End = s, e
		}
		if w.Name == "" {
			w.Name = "maintenance"
		}
		if w.Prepare(cfg.Location()) != nil {
			continue
		}
		out = append(out, w)
	}
	return out
}

// CatalogOf is the configuration's checks and heartbeats as windows see
// them.
func CatalogOf(cfg *config.Config) Catalog {
	c := Catalog{Labels: map[string]map[string]string{}, Public: map[string]bool{}}
	for _, ch := range cfg.Checks {
		c.Labels[ch.Name] = ch.Labels
		c.Public[ch.Name] = ch.Public
	}
	for _, h := range cfg.Heartbeats {
		c.Labels[h.Name] = nil
		c.Public[h.Name] = h.Public
	}
	return c
}

// SetConfig replaces the configuration's windows and the catalog (at
// start and on reload).
func (s *Set) SetConfig(cfg *config.Config) {
	s.mu.Lock()
	s.config, s.catalog, s.loc = FromConfig(cfg), CatalogOf(cfg), cfg.Location()
	s.mu.Unlock()
	s.changed()
}

// Reload reads the stored windows again (after a change).
func (s *Set) Reload(ctx context.Context, now time.Time) error {
	ws, err := Load(ctx, s.db, s.loc, now)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.stored = ws
	s.mu.Unlock()
	s.changed()
	return nil
}

func (s *Set) changed() {
	if s.OnChange == nil {
		return
	}
	s.mu.Lock()
	var us []uptime.Window
	for _, w := range s.all() {
		us = append(us, w.uptimeWindow(s.catalog))
	}
	s.mu.Unlock()
	s.OnChange(us)
}

func (s *Set) all() []Window {
	return append(append([]Window(nil), s.config...), s.stored...)
}

// All returns every window: the configuration's first, then the stored
// ones, oldest first.
func (s *Set) All() []Window {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all()
}

// Catalog returns the checks windows are resolved against.
func (s *Set) Catalog() Catalog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.catalog
}

// Covers is alerting's MaintenanceFunc: whether a window running at `at`
// covers an alert about check (by name or labels), or about the host
// its labels name; a window naming nothing covers every alert.
func (s *Set) Covers(check string, labels map[string]string, at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.all() {
		if !w.Active(at) {
			continue
		}
		if !w.Scoped() {
			return true
		}
		if check != "" && w.CoversCheck(check, s.catalog) && (len(w.Checks) > 0 || len(w.Labels) > 0) {
			return true
		}
		if h := labels["host"]; h != "" {
			for _, wh := range w.Hosts {
				if wh == h {
					return true
				}
			}
		}
	}
	return false
}

// Announcement is a public window as the status page and the feed show
// it: running now, or starting within the announce period.
type Announcement struct {
	Key         string     `json:"-"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Components  []string   `json:"components"`
	Occurrence  Occurrence `json:"-"`
	Start       time.Time  `json:"start"`
	End         time.Time  `json:"end"`
	Running     bool       `json:"running"`
}

// key names a window for its notices.
func (w Window) key() string {
	if w.ID > 0 {
		return "console:" + strconv.FormatInt(w.ID, 10)
	}
	return "config:" + w.Name
}

// Public returns the public windows running at now or starting within
// ahead, soonest first.
func (s *Set) Public(now time.Time, ahead time.Duration) []Announcement {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Announcement
	for _, w := range s.all() {
		if !w.Public(s.catalog) {
			continue
		}
		o, ok := w.Next(now)
		if !ok || o.Start.After(now.Add(ahead)) {
			continue
		}
		out = append(out, Announcement{Key: w.key(), Name: w.Name, Description: w.Description, Components: w.Components(s.catalog),
			Occurrence: o, Start: o.Start, End: o.End, Running: !now.Before(o.Start)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// KindStatusNotice is the outbox kind of status page notices (as
// uptime.KindStatusNotice).
const KindStatusNotice = uptime.KindStatusNotice

// Notice is the outbox payload announcing a maintenance window to the
// status page's subscribers.
type Notice struct {
	Event       string    `json:"event"` // maintenance_announced, maintenance_started
	Key         string    `json:"maintenance"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Components  []string  `json:"components"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
}

// noticeState is what was told about each window, by key: the start of
// the occurrence last announced and last started.
type noticeState map[string]struct {
	Announced int64 `json:"announced"`
	Started   int64 `json:"started"`
}

const noticeStateName = "maintenance_notices"

// Notify queues, once per occurrence, the announcement of each public
// window entering the announce period and the notice that it started,
// each in one transaction with the record that it was queued.
func (s *Set) Notify(ctx context.Context, now time.Time, ahead time.Duration) error {
	due := s.Public(now, ahead)
	if len(due) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("maintenance notices: %w", err)
	}
	defer tx.Rollback()
	st := noticeState{}
	var raw []byte
	if err := tx.QueryRowContext(ctx, `SELECT data FROM component_state WHERE name = ?`, noticeStateName).Scan(&raw); err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("maintenance notices: %w", err)
	}
	json.Unmarshal(raw, &st)
	wrote := false
	for _, a := range due {
		e := st[a.Key]
		start := a.Start.UnixNano()
		ev := ""
		switch {
		case a.Running && e.Started != start:
			ev, e.Started, e.Announced = "maintenance_started", start, start
		case !a.Running && e.Announced != start:
			ev, e.Announced = "maintenance_announced", start
		}
		if ev == "" {
			continue
		}
		st[a.Key] = e
		p, _ := json.Marshal(Notice{Event: ev, Key: a.Key, Name: a.Name, Description: a.Description, Components: a.Components,
			Start: a.Start.UTC(), End: a.End.UTC()})
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(created, kind, payload) VALUES(?,?,?)`, now.UnixNano(), KindStatusNotice, string(p)); err != nil {
			return fmt.Errorf("maintenance notices: %w", err)
		}
		wrote = true
	}
	if !wrote {
		return nil
	}
	data, _ := json.Marshal(st)
	if _, err := tx.ExecContext(ctx, `INSERT INTO component_state(name, data) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET data = excluded.data`,
		noticeStateName, data); err != nil {
		return fmt.Errorf("maintenance notices: %w", err)
	}
	return tx.Commit()
}
