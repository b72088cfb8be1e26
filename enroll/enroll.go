// Package enroll keeps the host names collectors claim with the shared
// collector token (the one the loghost generates on first start).
//
// The model is small on purpose. A name that has a token of its own in
// the configuration (hosts:), or that is the loghost's own name, cannot
// be claimed with the shared token at all (the loghost's own name may,
// from the loghost's own machine). Any other name is enrolled on
// its first batch: it is written, and the admin sees it (GET
// /api/v1/enrollments, the hosts page) with the address it came from.
// The admin can then pin it (from then on only that address may write as
// it with the shared token), revoke it (its batches are refused), or
// forget it (the next claim enrols it anew). For a binding that does not
// depend on an address, give the host its own token in hosts:.
package enroll

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// States of an enrolled name.
const (
	Enrolled = "enrolled"
	Pinned   = "pinned"
	Revoked  = "revoked"
)

// Host is one name claimed with the shared token.
type Host struct {
	Name          string    `json:"host"`
	State         string    `json:"state"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
	FirstAddress  string    `json:"first_address"`
	LastAddress   string    `json:"last_address"`
	PinnedAddress string    `json:"pinned_address,omitempty"`
	ChangedBy     string    `json:"changed_by,omitempty"`
	Changed       time.Time `json:"changed,omitzero"`
}

// Refusals of Claim; ingest answers 403 with the error's text.
var (
	ErrOwnToken = errors.New("has a token of its own: this collector must use it")
	ErrLoghost  = errors.New("is the loghost's own name")
	ErrRevoked  = errors.New("was revoked by an admin")
	ErrPinned   = errors.New("is pinned to another address")
	ErrUnknown  = errors.New("no such enrolled host")
)

// Registry is the enrolled names, kept in the store (table enrollments)
// and in memory.
type Registry struct {
	db  *sql.DB
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	hosts   map[string]*Host // by key
	own     map[string]bool  // keys of names with their own token
	loghost string           // key of the loghost's own name
}

// key folds a name as the checks compare it: case and a trailing dot
// do not make another host.
func key(name string) string {
	return strings.ToLower(strings.TrimRight(name, "."))
}

// New loads the registry from db (the store's write handle).
func New(ctx context.Context, db *sql.DB, now func() time.Time, log *slog.Logger) (*Registry, error) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Registry{db: db, now: now, log: log, hosts: map[string]*Host{}, own: map[string]bool{}}
	rows, err := db.QueryContext(ctx, `SELECT host, state, first_seen, last_seen, first_address, last_address, pinned_address, changed_by, changed FROM enrollments`)
	if err != nil {
		return nil, fmt.Errorf("read enrollments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h Host
		var first, last, changed int64
		if err := rows.Scan(&h.Name, &h.State, &first, &last, &h.FirstAddress, &h.LastAddress, &h.PinnedAddress, &h.ChangedBy, &changed); err != nil {
			return nil, fmt.Errorf("read enrollments: %w", err)
		}
		h.FirstSeen, h.LastSeen = time.Unix(0, first), time.Unix(0, last)
		if changed != 0 {
			h.Changed = time.Unix(0, changed)
		}
		r.hosts[key(h.Name)] = &h
	}
	return r, rows.Err()
}

// Reserve sets the names that cannot be claimed: those with a token of
// their own, and the loghost's (config load and reload).
func (r *Registry) Reserve(own []string, loghost string) {
	m := make(map[string]bool, len(own))
	for _, n := range own {
		m[key(n)] = true
	}
	r.mu.Lock()
	r.own, r.loghost = m, key(loghost)
	r.mu.Unlock()
}

// seenEvery is how often a known host's last_seen is written: not on
// every batch.
const seenEvery = time.Minute

// Claim is asked for every batch sent with the shared token naming name,
// from the client address addr. nil lets the batch in (enrolling a new
// name); an error says why not.
func (r *Registry) Claim(ctx context.Context, name, addr string) error {
	k := key(name)
	now := r.now()
	r.mu.Lock()
	switch {
	case r.own[k]:
		r.mu.Unlock()
		return fmt.Errorf("host %s %w", name, ErrOwnToken)
	case k == r.loghost:
		r.mu.Unlock()
		if loopback(addr) {
			// A collector on the loghost's own machine (as a first setup
			// runs one) writes as it; not an enrolment.
			return nil
		}
		// From elsewhere it would be someone writing as the loghost.
		return fmt.Errorf("host %s %w", name, ErrLoghost)
	}
	h := r.hosts[k]
	if h == nil {
		h = &Host{Name: name, State: Enrolled, FirstSeen: now, LastSeen: now, FirstAddress: addr, LastAddress: addr}
		r.hosts[k] = h
		r.mu.Unlock()
		if _, err := r.db.ExecContext(ctx, `INSERT INTO enrollments(host, state, first_seen, last_seen, first_address, last_address)
			VALUES(?,?,?,?,?,?) ON CONFLICT(host) DO NOTHING`, name, Enrolled, now.UnixNano(), now.UnixNano(), addr, addr); err != nil {
			r.mu.Lock()
			delete(r.hosts, k)
			r.mu.Unlock()
			return fmt.Errorf("enrol host %s: %w", name, err)
		}
		r.log.Warn("new host enrolled with the shared collector token: pin or revoke it (GET /api/v1/enrollments)", "host", name, "client", addr)
		return nil
	}
	switch {
	case h.State == Revoked:
		r.mu.Unlock()
		return fmt.Errorf("host %s %w", name, ErrRevoked)
	case h.State == Pinned && addr != h.PinnedAddress:
		r.mu.Unlock()
		return fmt.Errorf("host %s %w", name, ErrPinned)
	}
	write := addr != h.LastAddress || now.Sub(h.LastSeen) >= seenEvery
	if write {
		h.LastSeen, h.LastAddress = now, addr
	}
	stored := h.Name
	r.mu.Unlock()
	if write {
		if _, err := r.db.ExecContext(ctx, `UPDATE enrollments SET last_seen = ?, last_address = ? WHERE host = ?`, now.UnixNano(), addr, stored); err != nil {
			// The batch is still the host's; only the note of its visit is lost.
			r.log.Warn("enrolled host: last seen not stored", "host", name, "err", err)
		}
	}
	return nil
}

// loopback tells whether addr (an IP, with or without a port) is this
// machine's.
func loopback(addr string) bool {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().IsLoopback()
	}
	a, err := netip.ParseAddr(addr)
	return err == nil && a.Unmap().IsLoopback()
}

// List returns the enrolled names, newest first.
func (r *Registry) List() []Host {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Host, 0, len(r.hosts))
	for _, h := range r.hosts {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].FirstSeen.Equal(out[j].FirstSeen) {
			return out[i].FirstSeen.After(out[j].FirstSeen)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Pin lets only address (its last one when "") write as name with the
// shared token.
func (r *Registry) Pin(ctx context.Context, name, address, by string) (Host, error) {
	return r.change(ctx, name, by, func(h *Host) {
		h.State, h.PinnedAddress = Pinned, address
		if address == "" {
			h.PinnedAddress = h.LastAddress
		}
	})
}

// Revoke refuses every batch for name sent with the shared token.
func (r *Registry) Revoke(ctx context.Context, name, by string) (Host, error) {
	return r.change(ctx, name, by, func(h *Host) { h.State, h.PinnedAddress = Revoked, "" })
}

// Forget removes name: its next claim enrols it anew.
func (r *Registry) Forget(ctx context.Context, name, by string) error {
	k := key(name)
	r.mu.Lock()
	h, ok := r.hosts[k]
	r.mu.Unlock()
	if !ok {
		return ErrUnknown
	}
	if _, err := r.db.ExecContext(ctx, `DELETE FROM enrollments WHERE host = ?`, h.Name); err != nil {
		return fmt.Errorf("forget host %s: %w", name, err)
	}
	r.mu.Lock()
	delete(r.hosts, k)
	r.mu.Unlock()
	r.log.Info("enrolled host forgotten", "host", name, "by", by)
	return nil
}

func (r *Registry) change(ctx context.Context, name, by string, fn func(*Host)) (Host, error) {
	k := key(name)
	r.mu.Lock()
	cur, ok := r.hosts[k]
	if !ok {
		r.mu.Unlock()
		return Host{}, ErrUnknown
	}
	h := *cur
	r.mu.Unlock()
	fn(&h)
	h.ChangedBy, h.Changed = by, r.now()
	if _, err := r.db.ExecContext(ctx, `UPDATE enrollments SET state = ?, pinned_address = ?, changed_by = ?, changed = ? WHERE host = ?`,
		h.State, h.PinnedAddress, h.ChangedBy, h.Changed.UnixNano(), h.Name); err != nil {
		return Host{}, fmt.Errorf("change host %s: %w", name, err)
	}
	r.mu.Lock()
	if cur, ok := r.hosts[k]; ok {
		cur.State, cur.PinnedAddress, cur.ChangedBy, cur.Changed = h.State, h.PinnedAddress, h.ChangedBy, h.Changed
		h = *cur
	}
	r.mu.Unlock()
	r.log.Info("enrolled host changed", "host", name, "state", h.State, "pinned_address", h.PinnedAddress, "by", by)
	return h, nil
}
