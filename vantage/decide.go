package vantage

import (
	"sort"
	"time"

	"github.com/watchpost/watchpost/uptime"
)

// Rule is how one check is judged from its vantages' states.
type Rule struct {
	// FailThreshold failures in a row make a vantage see the check down
	// (2); SuccessThreshold successes make it up again (1).
	FailThreshold, SuccessThreshold int
	// Any: down when any eligible vantage sees it down (alert_on: any),
	// not only when most do.
	Any bool
	// Interval and Timeout of the check: a vantage whose last result is
	// older than two intervals and the timeout is no longer eligible.
	Interval, Timeout time.Duration
}

// fresh is how recent a vantage's last result must be for its vote to
// count: two intervals and the timeout.
func (r Rule) fresh() time.Duration { return 2*r.Interval + r.Timeout }

// holdFor bounds how long an unconfirmed failure holds the decision
// back: the "probe now" answers come within a timeout or two.
func (r Rule) holdFor() time.Duration { return r.Interval + 2*r.Timeout + 5*time.Second }

// vstate is one vantage's view of one check: the tracker's rule (so many
// failures in a row before down) applied to that vantage's results alone.
type vstate struct {
	status       uptime.Status
	since        time.Time // the first observation of the status
	pending      uptime.Status
	pendingSince time.Time
	streak       int
	last         time.Time // the newest result's time
	// failSince is the first failing observation of the current run of
	// failures (zero while the vantage sees the check up).
	failSince time.Time
	// Last result, for the console's grid.
	lastOK, lastDegraded bool
	lastDuration         time.Duration
	lastError            string
}

// observe folds one result into the vantage's state; results older than
// the newest one are history, not news, and change nothing.
func (s *vstate) observe(r Rule, t time.Time, ok, degraded bool) {
	if t.Before(s.last) {
		return
	}
	obs := uptime.Down
	switch {
	case ok && degraded:
		obs = uptime.Degraded
	case ok:
		obs = uptime.Up
	}
	s.last, s.lastOK, s.lastDegraded = t, ok, degraded
	if obs == uptime.Down {
		if s.failSince.IsZero() {
			s.failSince = t
		}
	} else {
		s.failSince = time.Time{}
	}
	need := 1
	switch {
	case obs == uptime.Down:
		need = max(r.FailThreshold, 1)
	case s.status == uptime.Down:
		need = max(r.SuccessThreshold, 1)
	}
	if obs == s.status {
		s.pending, s.streak = uptime.Unknown, 0
		return
	}
	if s.pending != obs {
		s.pending, s.pendingSince, s.streak = obs, t, 0
	}
	s.streak++
	if s.streak >= need {
		s.status, s.since = obs, s.pendingSince
		s.pending, s.streak = uptime.Unknown, 0
	}
}

// forget drops the vantage's view (its network was in trouble), keeping
// its last result for the console.
func (s *vstate) forget() {
	s.status, s.since, s.pending, s.pendingSince, s.streak, s.failSince = uptime.Unknown, time.Time{}, uptime.Unknown, time.Time{}, 0, time.Time{}
}

// vote is one vantage's say on a check at a moment.
type vote struct {
	loc string
	// status is its confirmed view; Unknown: it has none that counts (no
	// view yet, or a failure its canaries have not vouched for).
	status uptime.Status
	// unsettled: a failure is not confirmed yet (a second failure, or a
	// canary round after it, is awaited); since is its first
	// observation.
	unsettled bool
	since     time.Time
}

// decision is a check's state as its eligible vantages see it.
type decision struct {
	status uptime.Status // Unknown: no eligible vantage
	// hold: a failure awaits confirmation somewhere, and the decision
	// may get worse within seconds (the "probe now" answers).
	hold        bool
	holdSince   time.Time
	eligible    int
	down        []string // locations that see it down, sorted
	unconfirmed bool     // fewer than two eligible vantages: one place's view
	partial     bool     // a minority sees it down
}

// decide applies the quorum rule: down when more than half of the
// eligible vantages see it down and at least two are eligible (or any,
// for Rule.Any); degraded, a "partial outage", when fewer do; with one
// eligible vantage, its view, unconfirmed. votes are the vantages that
// reported recently and whose canaries pass; those with status Unknown
// only hold the decision back.
func decide(r Rule, votes []vote) decision {
	var d decision
	nDown, nDeg := 0, 0
	var only uptime.Status
	for _, v := range votes {
		if v.unsettled && (!d.hold || v.since.Before(d.holdSince)) {
			d.hold, d.holdSince = true, v.since
		}
		if v.status == uptime.Unknown {
			continue
		}
		d.eligible++
		only = v.status
		switch v.status {
		case uptime.Down:
			nDown++
			d.down = append(d.down, v.loc)
		case uptime.Degraded:
			nDeg++
		}
	}
	sort.Strings(d.down)
	switch {
	case d.eligible == 0:
	case d.eligible == 1:
		d.unconfirmed = true
		d.status = only
	case nDown > 0 && (r.Any || 2*nDown > d.eligible):
		d.status = uptime.Down
	case nDown > 0:
		d.status, d.partial = uptime.Degraded, true
	case 2*(nDeg+nDown) > d.eligible:
		d.status = uptime.Degraded
	default:
		d.status = uptime.Up
	}
	return d
}
