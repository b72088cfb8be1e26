// Package checker runs uptime probes (http, tcp, tls, dns, smtp and
// Nagios-style commands), tests their results with Gatus-style
// conditions, schedules them, and is `watchpost check` on the command
// line. Up/down state, uptime storage and the status page live elsewhere:
// this package only says what one probe saw.
//
// The layout follows Prometheus's blackbox_exporter: one file per
// prober, each filling a map of named values that the conditions read.
package checker

import (
	"time"
)

// State is the Nagios plugin status of a result.
type State int

// The Nagios plugin states, numbered as their exit codes.
const (
	StateOK       State = 0
	StateWarning  State = 1
	StateCritical State = 2
	StateUnknown  State = 3
)

func (s State) String() string {
	switch s {
	case StateOK:
		return "OK"
	case StateWarning:
		return "WARNING"
	case StateCritical:
		return "CRITICAL"
	}
	return "UNKNOWN"
}

// Result is what one run of a probe saw.
type Result struct {
	Check    string
	Time     time.Time     // when the probe started, from the injected clock
	Success  bool          // the probe worked and every condition passed
	Degraded bool          // successful, but a warn condition (or a plugin's WARNING) failed
	State    State         // the Nagios state: OK, WARNING, CRITICAL, UNKNOWN
	Duration time.Duration // wall time of the probe
	// Values are what the probe measured: status, response_time,
	// cert_expires_in, answer, rcode, ... (see PlaceholdersFor). The body
	// is kept only when a condition reads it, and cut to MaxKeptBody.
	Values           map[string]any
	ConditionResults []ConditionResult
	Error            string // why the probe itself failed ("" when it ran)
	// Inconclusive: the probe could not tell (a domain's registry did not
	// answer); the check's state is unknown, not down, and the result is
	// not counted.
	Inconclusive bool `json:",omitempty"`
}

// ConditionResult is one condition's verdict.
type ConditionResult struct {
	Condition string
	OK        bool
	Warn      bool   // a warn condition: failing it degrades, not fails
	Detail    string // what was seen: `status 503`, `response_time 612ms`
}

// MaxKeptBody bounds the body kept in a Result: results are stored and
// sent to alerts, and a body is evidence, not an archive.
const MaxKeptBody = 1024

// Failed lists the conditions that did not pass.
func (r *Result) Failed() []ConditionResult {
	var out []ConditionResult
	for _, c := range r.ConditionResults {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}
