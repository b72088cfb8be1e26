// Package heartbeat is the backup-arrival check of the "mail us when
// last night's backup did not arrive" kind: a job pings
// /ping/{id} when it succeeds (Healthchecks.io-compatible: /start, /fail,
// /log, /{exit-code}, GET or POST with a body), and a heartbeat that has
// not pinged for its period plus grace is down, as is one that reported
// a failure. States, incidents and uptime go through the uptime tracker
// like any probe's.
package heartbeat

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/uptime"
)

// MaxBody is how much of a ping's body is kept (a backup's log tail).
const MaxBody = 10 << 10

// Heartbeat is one expected job.
type Heartbeat struct {
	Name   string
	ID     string // the secret in /ping/{id}
	Period time.Duration
	// Schedule, when set, says when pings are due instead of Period: the
	// next ping is due at Schedule.Next(last ping).
	Schedule   Schedule
	Grace      time.Duration
	MinRuntime time.Duration // a run (start to success) shorter than this failed
	MaxRuntime time.Duration // a run longer than this failed
}

// Schedule gives the next due time after a time (a cron expression).
type Schedule interface {
	Next(time.Time) time.Time
}

// due is when the next ping must have come, grace included.
func (b Heartbeat) due(last time.Time) time.Time {
	if b.Schedule != nil {
		return b.Schedule.Next(last).Add(b.Grace)
	}
	return last.Add(b.Period + b.Grace)
}

// Observer is what the service reports states to (the uptime tracker).
type Observer interface {
	Observe(ctx context.Context, o uptime.Observation) (*uptime.Change, error)
}

// Pauser keeps heartbeats' pauses (the uptime tracker).
type Pauser interface {
	Pause(ctx context.Context, check, by string, at, until time.Time) (uptime.Pause, error)
	Resume(ctx context.Context, check string, at time.Time) error
	Paused(check string, now time.Time) (uptime.Pause, bool)
	Resumed(check string, now time.Time) time.Time
}

// Service answers pings and watches for missed ones.
type Service struct {
	db  *sql.DB
	obs Observer
	// beats are the configured heartbeats; a configuration reload
	// replaces the slice (SetBeats), never changes it.
	beats  atomic.Pointer[[]Heartbeat]
	now    func() time.Time
	logger *slog.Logger

	// Pauses, when set, pauses and resumes heartbeats (the uptime
	// tracker): a paused heartbeat is never late. Set before serving.
	Pauses Pauser
	// Redactor masks secrets in ping bodies as in log lines (a backup
	// script's log tail may echo a password); nil: none.
	Redactor *logparse.Redactor

	mu      sync.Mutex
	lastOK  map[string]time.Time // last success (or resume) per heartbeat
	started map[string]time.Time // open /start per heartbeat (and run id)
	failed  map[string]bool      // the last report was a failure

	pings, unknown *metrics.Counter
}

// New returns a service over the store's database (write handle).
func New(db *sql.DB, obs Observer, beats []Heartbeat, now func() time.Time, set *metrics.Set, logger *slog.Logger) (*Service, error) {
	if set == nil {
		set = metrics.NewSet()
	}
	if logger == nil {
		logger = slog.Default()
	}
	s := &Service{db: db, obs: obs, now: now, logger: logger,
		lastOK: map[string]time.Time{}, started: map[string]time.Time{}, failed: map[string]bool{},
		pings:   set.NewCounter("watchpost_heartbeat_pings_total"),
		unknown: set.NewCounter("watchpost_heartbeat_unknown_ids_total"),
	}
	if err := s.SetBeats(beats); err != nil {
		return nil, err
	}
	return s, nil
}

// SetBeats replaces the heartbeats served (a configuration reload). What
// the service knows of each one it keeps; of a new one it reads from the
// store, as at a start: a restart or reload must not forget that last
// night's backup never came. Runs started with /start stay open.
func (s *Service) SetBeats(beats []Heartbeat) error {
	lastOK, failed := map[string]time.Time{}, map[string]bool{}
	for _, b := range beats {
		var t sql.NullInt64
		if err := s.db.QueryRow(`SELECT max(time) FROM heartbeat_pings WHERE name = ? AND kind IN ('success', 'resume')`, b.Name).Scan(&t); err != nil {
			return fmt.Errorf("heartbeat %s: %w", b.Name, err)
		}
		if t.Valid {
			lastOK[b.Name] = time.Unix(0, t.Int64)
		}
		var kind string
		err := s.db.QueryRow(`SELECT kind FROM heartbeat_pings WHERE name = ? AND kind IN ('success','fail','resume') ORDER BY time DESC LIMIT 1`, b.Name).Scan(&kind)
		if err == nil {
			failed[b.Name] = kind == "fail"
		}
	}
	s.mu.Lock()
	for name, t := range lastOK {
		if t.After(s.lastOK[name]) {
			s.lastOK[name] = t
		}
	}
	for name, f := range failed {
		if _, known := s.failed[name]; !known {
			s.failed[name] = f
		}
	}
	s.mu.Unlock()
	list := append([]Heartbeat(nil), beats...)
	s.beats.Store(&list)
	return nil
}

// list is the heartbeats served now.
func (s *Service) list() []Heartbeat {
	if p := s.beats.Load(); p != nil {
		return *p
	}
	return nil
}

func (s *Service) find(id string) (Heartbeat, bool) {
	for _, b := range s.list() {
		if len(b.ID) == len(id) && subtle.ConstantTimeCompare([]byte(b.ID), []byte(id)) == 1 {
			return b, true
		}
	}
	return Heartbeat{}, false
}

// ServeHTTP handles /ping/{id}[/start|/fail|/log|/{exit-code}].
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, POST, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/ping/")
	id, action, _ := strings.Cut(rest, "/")
	b, ok := s.find(id)
	if !ok {
		s.unknown.Inc()
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	kind, code := "success", sql.NullInt64{}
	switch action {
	case "":
	case "pause", "resume":
		s.pauseHTTP(w, r, b, action)
		return
	case "start", "fail", "log":
		kind = action
	default:
		n, err := strconv.Atoi(action)
		if err != nil || n < 0 || n > 255 {
			http.Error(w, "want /ping/{id}, /start, /fail, /log, /pause, /resume or /{exit code 0-255}", http.StatusBadRequest)
			return
		}
		code = sql.NullInt64{Int64: int64(n), Valid: true}
		if n != 0 {
			kind = "fail"
		}
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if len(body) > MaxBody {
		body = body[:MaxBody]
	}
	if !utf8.Valid(body) {
		body = []byte(strings.ToValidUTF8(string(body), "\uFFFD"))
	}
	body = s.Redactor.Redact(body)
	remote, _, _ := net.SplitHostPort(r.RemoteAddr)
	if err := s.Ping(r.Context(), b, kind, code, r.URL.Query().Get("rid"), remote, string(body)); err != nil {
		s.logger.Error("heartbeat ping", "heartbeat", b.Name, "err", err)
		http.Error(w, "could not record the ping", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "OK")
}

// Ping records one ping and what it means for the heartbeat's state.
// A ping to a heartbeat paused until resumed resumes it first, as
// Healthchecks.io does; one paused for a time is only recorded.
func (s *Service) Ping(ctx context.Context, b Heartbeat, kind string, code sql.NullInt64, runID, remote, body string) error {
	now := s.now()
	s.pings.Inc()
	if s.Pauses != nil && kind != "log" {
		if p, ok := s.Pauses.Paused(b.Name, now); ok && p.Until.IsZero() {
			if err := s.resume(ctx, b, "a ping", now); err != nil {
				return err
			}
		}
	}
	var dur sql.NullInt64
	runtimeDetail := ""
	s.mu.Lock()
	key := b.Name + "\x00" + runID
	switch kind {
	case "start":
		s.started[key] = now
	case "success", "fail":
		if st, ok := s.started[key]; ok {
			d := now.Sub(st)
			dur = sql.NullInt64{Int64: d.Milliseconds(), Valid: true}
			delete(s.started, key)
			// A backup that "succeeds" in seconds, or after far too long,
			// did not do its job.
			switch {
			case kind == "success" && b.MinRuntime > 0 && d < b.MinRuntime:
				kind, runtimeDetail = "fail", fmt.Sprintf("the run took %s, less than the minimum %s", d.Round(time.Second), b.MinRuntime)
			case kind == "success" && b.MaxRuntime > 0 && d > b.MaxRuntime:
				kind, runtimeDetail = "fail", fmt.Sprintf("the run took %s, more than the maximum %s", d.Round(time.Second), b.MaxRuntime)
			}
		}
		if kind == "success" {
			s.lastOK[b.Name] = now
		}
		s.failed[b.Name] = kind == "fail"
	}
	s.mu.Unlock()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO heartbeat_pings(name, time, kind, exit_code, run_id, duration_ms, remote, body) VALUES(?,?,?,?,?,?,?,?)`,
		b.Name, now.UnixNano(), kind, code, runID, dur, remote, body); err != nil {
		return fmt.Errorf("record ping: %w", err)
	}
	// Keep the last 100 pings per heartbeat.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM heartbeat_pings WHERE name = ? AND id NOT IN
		(SELECT id FROM heartbeat_pings WHERE name = ? ORDER BY time DESC LIMIT 100)`, b.Name, b.Name); err != nil {
		return fmt.Errorf("prune pings: %w", err)
	}
	switch kind {
	case "success":
		_, err := s.obs.Observe(ctx, uptime.Observation{Check: b.Name, Time: now, OK: true, Duration: time.Duration(dur.Int64) * time.Millisecond})
		return err
	case "fail":
		detail := "the job reported a failure"
		if code.Valid {
			detail = fmt.Sprintf("the job exited with status %d", code.Int64)
		}
		if runtimeDetail != "" {
			detail = runtimeDetail
		}
		_, err := s.obs.Observe(ctx, uptime.Observation{Check: b.Name, Time: now, OK: false, Detail: detail})
		return err
	}
	return nil
}

// Feed records a success or a failure of the heartbeat named name from
// inside the loghost: a log rule (an alert labelled heartbeat=NAME) or a
// check configured with `heartbeat: NAME`. from says which, for the ping
// list. Unknown names are an error.
func (s *Service) Feed(ctx context.Context, name string, ok bool, from, detail string) error {
	for _, b := range s.list() {
		if b.Name == name {
			kind := "fail"
			if ok {
				kind = "success"
			}
			return s.Ping(ctx, b, kind, sql.NullInt64{}, "", from, detail)
		}
	}
	return fmt.Errorf("no heartbeat named %q", name)
}

// Check evaluates every heartbeat once: late ones go down.
func (s *Service) Check(ctx context.Context) {
	now := s.now()
	for _, b := range s.list() {
		s.mu.Lock()
		last, seen := s.lastOK[b.Name]
		failed := s.failed[b.Name]
		s.mu.Unlock()
		if b.MaxRuntime > 0 {
			if st, ok := s.startedAt(b.Name); ok && now.Sub(st) > b.MaxRuntime {
				o := uptime.Observation{Check: b.Name, Time: now, Detail: fmt.Sprintf("running for %s, more than the maximum %s", now.Sub(st).Round(time.Second), b.MaxRuntime)}
				if _, err := s.obs.Observe(ctx, o); err != nil && ctx.Err() == nil {
					s.logger.Error("heartbeat check", "heartbeat", b.Name, "err", err)
				}
				continue
			}
		}
		if s.Pauses != nil {
			if _, paused := s.Pauses.Paused(b.Name, now); paused {
				continue // a paused heartbeat is never late
			}
			// A timed pause that ran out: due counts from its end.
			if r := s.Pauses.Resumed(b.Name, now); seen && r.After(last) {
				last = r
			}
		}
		if !seen && !failed {
			continue // new: nothing expected until the first ping (as Healthchecks.io)
		}
		o := uptime.Observation{Check: b.Name, Time: now, OK: !failed}
		if deadline := b.due(last); !failed && now.After(deadline) {
			o.OK = false
			o.Detail = fmt.Sprintf("no ping since %s (due by %s, grace included)", last.UTC().Format(time.RFC3339), deadline.UTC().Format(time.RFC3339))
		} else if failed {
			o.Detail = "the last run reported a failure"
		}
		if _, err := s.obs.Observe(ctx, o); err != nil && ctx.Err() == nil {
			s.logger.Error("heartbeat check", "heartbeat", b.Name, "err", err)
		}
	}
}

// Run checks every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startedAt is the oldest open /start of a heartbeat.
func (s *Service) startedAt(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest time.Time
	for k, t := range s.started {
		if n, _, _ := strings.Cut(k, "\x00"); n == name && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	return oldest, !oldest.IsZero()
}

// Pause pauses the heartbeat named name for by until `until` (zero:
// until resumed or, as in Healthchecks.io, until its next ping): it is
// never late and its pings count for nothing meanwhile. The pause is in
// its ping log too.
func (s *Service) Pause(ctx context.Context, name, by string, until time.Time) (uptime.Pause, error) {
	b, ok := s.byName(name)
	if !ok || s.Pauses == nil {
		return uptime.Pause{}, fmt.Errorf("no heartbeat named %q", name)
	}
	now := s.now()
	p, err := s.Pauses.Pause(ctx, b.Name, by, now, until)
	if err != nil {
		return p, err
	}
	note := "paused by " + by
	if !until.IsZero() {
		note += " until " + until.UTC().Format(time.RFC3339)
	}
	return p, s.record(ctx, b, now, "pause", by, note)
}

// Resume ends the heartbeat's pause: the next ping is due a period (or
// the schedule's next time), plus grace, from now.
func (s *Service) Resume(ctx context.Context, name, by string) error {
	b, ok := s.byName(name)
	if !ok || s.Pauses == nil {
		return fmt.Errorf("no heartbeat named %q", name)
	}
	return s.resume(ctx, b, by, s.now())
}

func (s *Service) resume(ctx context.Context, b Heartbeat, by string, now time.Time) error {
	if err := s.Pauses.Resume(ctx, b.Name, now); err != nil {
		return err
	}
	s.mu.Lock()
	if _, seen := s.lastOK[b.Name]; seen || s.failed[b.Name] {
		s.lastOK[b.Name] = now
	}
	s.failed[b.Name] = false
	s.mu.Unlock()
	return s.record(ctx, b, now, "resume", by, "resumed by "+by)
}

func (s *Service) record(ctx context.Context, b Heartbeat, now time.Time, kind, remote, body string) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO heartbeat_pings(name, time, kind, remote, body) VALUES(?,?,?,?,?)`,
		b.Name, now.UnixNano(), kind, remote, body); err != nil {
		return fmt.Errorf("record %s: %w", kind, err)
	}
	return nil
}

func (s *Service) byName(name string) (Heartbeat, bool) {
	for _, b := range s.list() {
		if b.Name == name {
			return b, true
		}
	}
	return Heartbeat{}, false
}

// Names lists the heartbeats served.
func (s *Service) Names() []string {
	beats := s.list()
	out := make([]string, len(beats))
	for i, b := range beats {
		out[i] = b.Name
	}
	return out
}

// pauseHTTP is POST /ping/{id}/pause[?for=2h] and POST /ping/{id}/resume:
// a backup script snoozes its own heartbeat before planned work (the id
// is the secret, as for its pings). GET is refused so that a link
// preview or a crawler cannot pause anything.
func (s *Service) pauseHTTP(w http.ResponseWriter, r *http.Request, b Heartbeat, action string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "pause and resume take POST", http.StatusMethodNotAllowed)
		return
	}
	if s.Pauses == nil {
		http.Error(w, "pausing is not available", http.StatusServiceUnavailable)
		return
	}
	remote, _, _ := net.SplitHostPort(r.RemoteAddr)
	by := "ping from " + remote
	var err error
	if action == "pause" {
		var until time.Time
		if v := r.URL.Query().Get("for"); v != "" {
			d, perr := time.ParseDuration(v)
			if perr != nil || d <= 0 || d > 400*24*time.Hour {
				http.Error(w, "for: want a duration such as 30m or 2h", http.StatusBadRequest)
				return
			}
			until = s.now().Add(d)
		}
		_, err = s.Pause(r.Context(), b.Name, by, until)
	} else {
		err = s.Resume(r.Context(), b.Name, by)
	}
	switch {
	case errors.Is(err, uptime.ErrPaused):
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "OK (already "+action+"d)")
		return
	case err != nil:
		s.logger.Error("heartbeat "+action, "heartbeat", b.Name, "err", err)
		http.Error(w, "could not "+action, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "OK")
}
