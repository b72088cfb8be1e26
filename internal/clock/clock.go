// Package clock gives the loghost its wall clock. The shipped binary uses
// the real one. The end-to-end tests build with `-tags testclock` and start
// the binary at a chosen instant (WATCHPOST_TEST_CLOCK), so that what
// happens on the 1st of a month or across a DST change is tested on any
// day; a user's binary has no such switch.
package clock

import "time"

// Wall returns the clock the loghost reads: time.Now, or in a testclock
// build a clock that starts at the instant given in the environment and
// runs at real speed from there.
func Wall() (now func() time.Time, err error) { return wall(time.Now) }

// offset is a clock that reads start when the process began and moves with
// real time from there (monotonic, so a change of the host's clock does
// not move it).
func offset(start time.Time, real func() time.Time) func() time.Time {
	t0 := real()
	return func() time.Time { return start.Add(real().Sub(t0)) }
}
