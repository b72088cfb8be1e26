package vantage

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/watchpost/watchpost/vantage/wire"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Register adds the collectors' endpoints to mux.
func (e *Engine) Register(mux *http.ServeMux) {
	mux.Handle("GET "+wire.AssignmentsPath, http.HandlerFunc(e.serveAssignments))
	mux.Handle("POST "+wire.ResultsPath, http.HandlerFunc(e.serveResults))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

var locationRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// caller authenticates a collector's request and names its vantage: the
// host its token belongs to, and the location it says it is in (its
// host name when it says none).
func (e *Engine) caller(w http.ResponseWriter, r *http.Request) (host, loc string, ok bool) {
	tok, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if e.cfg.Auth == nil {
		writeError(w, http.StatusUnauthorized, "missing or unknown host token")
		return "", "", false
	}
	host, enroll, found := e.cfg.Auth(strings.TrimSpace(tok))
	if !hasBearer || !found {
		w.Header().Set("WWW-Authenticate", `Bearer realm="watchpost vantage"`)
		writeError(w, http.StatusUnauthorized, "missing or unknown host token")
		return "", "", false
	}
	if enroll {
		host = r.Header.Get(wire.HeaderHost)
		if !locationRE.MatchString(host) {
			writeError(w, http.StatusBadRequest, "enrollment token: "+wire.HeaderHost+" must name the host (letters, digits, '.', '_' and '-')")
			return "", "", false
		}
	}
	loc = r.Header.Get(wire.HeaderLocation)
	if loc == "" {
		loc = host
	}
	if !locationRE.MatchString(loc) || loc == Loghost || loc == "all" {
		writeError(w, http.StatusBadRequest, wire.HeaderLocation+": want a location name (letters, digits, '.', '_' and '-'; not loghost or all)")
		return "", "", false
	}
	return host, loc, true
}

// claim makes host the vantage at loc, or refuses when another host
// holds it and was heard from lately: two hosts in one place are one
// vantage's worth of evidence, and must not vote twice.
func (e *Engine) claim(ctx context.Context, host, loc, agent string, now time.Time) (*vantage, error) {
	e.mu.Lock()
	v := e.vantages[loc]
	if v != nil && v.host != host && now.Sub(v.lastSeen) < 10*time.Minute {
		e.mu.Unlock()
		return nil, fmt.Errorf("location %s is the vantage of host %s (heard from %s ago); give this host its own location", loc, v.host, now.Sub(v.lastSeen).Round(time.Second))
	}
	isNew := v == nil
	if isNew {
		v = &vantage{loc: loc, firstSeen: now, runNow: map[string]bool{}}
		e.vantages[loc] = v
	}
	v.host, v.lastSeen = host, now
	if agent != "" {
		v.version = wire.Clip(agent, 64)
	}
	e.mu.Unlock()
	if isNew {
		e.cfg.Logger.Info("new vantage", "location", loc, "host", host)
		e.cfg.Changed()
	}
	return v, e.saveVantage(ctx, v)
}

// serveAssignments answers a pull: the checks this vantage runs when
// they changed since the version it has (If-None-Match), checks to
// probe now when another vantage wants a second opinion, or, after
// waiting up to ?wait= seconds for either, 304 Not Modified.
func (e *Engine) serveAssignments(w http.ResponseWriter, r *http.Request) {
	host, loc, ok := e.caller(w, r)
	if !ok {
		return
	}
	now := e.cfg.Now()
	v, err := e.claim(r.Context(), host, loc, r.Header.Get(wire.HeaderAgent), now)
	if err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	wait := e.cfg.Wait
	if q := r.URL.Query().Get("wait"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "wait: want seconds")
			return
		}
		wait = min(time.Duration(n)*time.Second, wire.MaxWait)
	}
	have := strings.Trim(r.Header.Get("If-None-Match"), `"`)
	// One waiting pull per vantage: a newer one takes over, the older
	// answers at once.
	wake := make(chan struct{}, 1)
	e.mu.Lock()
	if v.wake != nil {
		close(v.wake)
	}
	v.wake = wake
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		if v.wake == wake {
			v.wake = nil
		}
		e.mu.Unlock()
	}()
	var timer *time.Timer
	var version string
	for {
		// Anew at each wake: a reload may have changed what the vantage
		// runs (SetConfig wakes it then).
		e.mu.Lock()
		p := e.plan.Load()
		var runNow []string
		for c := range v.runNow {
			runNow = append(runNow, c)
		}
		clear(v.runNow)
		e.mu.Unlock()
		checks, v2 := p.assignments(loc)
		version = v2
		sort.Strings(runNow)
		if have != version || len(runNow) > 0 {
			a := wire.Assignments{Version: version, Location: loc, Now: e.cfg.Now().UTC(), RunNow: runNow, CanaryInterval: p.interval}
			if have == version {
				a.Unchanged = true
			} else {
				a.Checks, a.Canaries = checks, p.canaryWire
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("ETag", `"`+version+`"`)
			w.Header().Set("Cache-Control", "no-store")
			json.NewEncoder(w).Encode(a)
			return
		}
		if timer == nil {
			if wait <= 0 {
				break
			}
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case _, open := <-wake:
			if !open {
				w.Header().Set("ETag", `"`+version+`"`)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			continue
		case <-timer.C:
		case <-r.Context().Done():
			return
		}
		break
	}
	e.mu.Lock()
	v.lastSeen = e.cfg.Now()
	e.mu.Unlock()
	w.Header().Set("ETag", `"`+version+`"`)
	w.WriteHeader(http.StatusNotModified)
}

// serveResults takes a batch of results: each is stored once (by its
// id) before the answer, then folded into the checks' decisions unless
// it came late.
func (e *Engine) serveResults(w http.ResponseWriter, r *http.Request) {
	host, loc, ok := e.caller(w, r)
	if !ok {
		return
	}
	now := e.cfg.Now()
	v, err := e.claim(r.Context(), host, loc, r.Header.Get(wire.HeaderAgent), now)
	if err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, wire.MaxBody)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid gzip stream: "+err.Error())
			return
		}
		defer zr.Close()
		body = zr
	}
	raw, err := io.ReadAll(io.LimitReader(body, wire.MaxBody+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes: send smaller batches", wire.MaxBody))
			return
		}
		writeError(w, http.StatusBadRequest, "unreadable body: "+err.Error())
		return
	}
	if len(raw) > wire.MaxBody {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("batch over %d bytes after decompression", wire.MaxBody))
		return
	}
	lines, rejected, err := wire.DecodeLines(raw)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	// The vantage's clock against ours, as it measured: its results'
	// times are moved by the difference when it is a second or more.
	var skew time.Duration
	if ms, err := strconv.ParseInt(r.Header.Get(wire.HeaderOffset), 10, 64); err == nil && ms > -86400000 && ms < 86400000 {
		skew = -time.Duration(ms) * time.Millisecond // how far the vantage is ahead
		if skew > -time.Second && skew < time.Second {
			skew = 0
		}
	}
	queued, _ := strconv.ParseInt(r.Header.Get(wire.HeaderQueued), 10, 64)
	dropped, _ := strconv.ParseInt(r.Header.Get(wire.HeaderDropped), 10, 64)
	// One plan for the whole batch: a reload meanwhile applies to the
	// next.
	p := e.plan.Load()
	var keep []wire.Line
	for i := range lines {
		l := &lines[i]
		l.Time = l.Time.Add(-skew)
		if l.Time.After(now.Add(time.Minute)) {
			rejected = append(rejected, wire.Rejected{Line: l.N, Error: fmt.Sprintf("time %s is in the future", l.Time.Format(time.RFC3339))})
			continue
		}
		if !l.Canary && p.specs[l.Check] == nil {
			// A check removed from the configuration while the result
			// waited: nothing to count it for.
			rejected = append(rejected, wire.Rejected{Line: l.N, Error: fmt.Sprintf("%s %q", errUnknownCheck, l.Check)})
			continue
		}
		keep = append(keep, *l)
	}
	late := make([]bool, len(keep))
	for i, l := range keep {
		late[i] = p.isLate(l, now)
	}
	fresh, err := e.store(r.Context(), loc, keep, late, now)
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		e.cfg.Logger.Error("store vantage results", "location", loc, "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "could not store the results; retry")
		return
	}
	e.m.stored.Add(len(fresh))
	e.m.duplicates.Add(len(keep) - len(fresh))
	e.m.rejected.Add(len(rejected))
	e.mu.Lock()
	v.skew, v.queued, v.lastSeen = skew, queued, now
	newDrops := dropped - v.dropped
	if dropped < v.dropped {
		newDrops = dropped // the collector started anew
	}
	v.dropped = dropped
	e.mu.Unlock()
	if newDrops > 0 {
		if err := e.noticeDrops(r.Context(), v, newDrops, now); err != nil {
			e.cfg.Logger.Warn("vantage drop notice", "location", loc, "err", err)
		}
	}
	e.apply(r.Context(), loc, fresh, now)
	if err := e.saveVantage(r.Context(), v); err != nil {
		e.cfg.Logger.Warn("save vantage", "location", loc, "err", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(wire.Response{Stored: len(fresh), Duplicates: len(keep) - len(fresh), Rejected: rejected})
}

// isLate: a result that comes after the vantage's next probe should
// already have been taken fills history, not decisions.
func (p *plan) isLate(l wire.Line, now time.Time) bool {
	if l.Canary {
		return now.Sub(l.Time) > p.interval+p.timeout+10*time.Second
	}
	s := p.specs[l.Check]
	return now.Sub(l.Time) > s.rule.Interval+s.rule.Timeout+5*time.Second
}

// apply folds newly stored results into the engine: canary rounds first
// (they say whose votes count), then each check's results in time
// order, checks side by side (the tracker commits them together).
func (e *Engine) apply(ctx context.Context, loc string, fresh []stored, now time.Time) {
	byCheck := map[string][]wire.Line{}
	for _, f := range fresh {
		switch {
		case f.late:
			e.m.late.Inc()
			e.mu.Lock()
			e.fills[f.line.Check] = now
			if f.line.Canary {
				for c := range e.plan.Load().specs {
					e.fills[c] = now
				}
			}
			e.mu.Unlock()
		case f.line.Canary:
			e.takeRound(ctx, loc, f.line, now)
		default:
			byCheck[f.line.Check] = append(byCheck[f.line.Check], f.line)
		}
	}
	var wg sync.WaitGroup
	for _, ls := range byCheck {
		sort.Slice(ls, func(i, j int) bool { return ls[i].Time.Before(ls[j].Time) })
		wg.Go(func() {
			for _, l := range ls {
				e.observe(ctx, loc, l, now)
			}
		})
	}
	wg.Wait()
}
