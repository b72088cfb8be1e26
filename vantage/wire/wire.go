// Package wire is the HTTP API between the loghost and the collectors
// that probe (package vantage on the loghost, collector/probes on the
// hosts): small, so that the host agent carries none of the loghost.
package wire

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/watchpost/watchpost/config"
)

const (
	// AssignmentsPath: GET, long-polled, with If-None-Match: the config
	// version. 304 when nothing changed within the wait.
	AssignmentsPath = "/api/v1/vantage/assignments"
	// ResultsPath: POST, NDJSON lines of Line, gzip allowed.
	ResultsPath = "/api/v1/vantage/results"

	// Request headers of both.
	HeaderLocation = "X-Watchpost-Location"
	HeaderHost     = "X-Watchpost-Host"  // enrollment tokens only
	HeaderAgent    = "X-Watchpost-Agent" // the collector's version
	// Results requests also say how far the loghost's clock is ahead of
	// the collector's (milliseconds, measured on a quick pull: the
	// loghost's time in the answer against the middle of the round
	// trip; absent when not measured), how many results wait in its
	// spool after this batch, and how many it dropped since it started
	// (spool bounds). A request's own delay in transit says nothing of
	// the clocks: it must not be taken for a skew.
	HeaderOffset  = "X-Watchpost-Clock-Offset"
	HeaderQueued  = "X-Watchpost-Queued"
	HeaderDropped = "X-Watchpost-Dropped"

	// MaxWait bounds a long poll.
	MaxWait = 30 * time.Second
	// MaxLines bounds the lines of one results request, MaxBody its
	// size after decompression.
	MaxLines = 5000
	MaxBody  = 8 << 20
)

// Assignments is the answer to a pull: what this vantage probes. Checks
// and Canaries are left out when the vantage's Version is current (a
// "probe now" request came instead).
type Assignments struct {
	Version  string `json:"version"`
	Location string `json:"location"`
	// Now is the loghost's clock, for the collector's estimate of skew.
	Now            time.Time      `json:"now"`
	Checks         []config.Check `json:"checks,omitempty"`
	Canaries       []config.Check `json:"canaries,omitempty"`
	CanaryInterval time.Duration  `json:"canary_interval_ns,omitempty"`
	// RunNow names checks to probe at once: another vantage saw a
	// failure, and the loghost wants a second opinion.
	RunNow []string `json:"run_now,omitempty"`
	// Unchanged: Checks and Canaries are as the vantage has them.
	Unchanged bool `json:"unchanged,omitempty"`
}

// Line is one line of a results request: a check's result, or a round of
// canaries (Canary set).
type Line struct {
	// ID is the result's own id, made by the vantage: a result sent
	// twice (a retry after a lost answer) is stored once.
	ID    string    `json:"id"`
	Check string    `json:"check,omitempty"`
	Time  time.Time `json:"time"`
	// DurationMS is how long the probe took.
	DurationMS   float64 `json:"duration_ms"`
	OK           bool    `json:"ok"`
	Degraded     bool    `json:"degraded,omitempty"`
	Inconclusive bool    `json:"inconclusive,omitempty"`
	Error        string  `json:"error,omitempty"`
	// Conditions are the failed and warning conditions with what was
	// seen (the passed ones are left out: nobody reads them).
	Conditions []Condition `json:"conditions,omitempty"`
	// Canary: a round of canaries, each probed at Time.
	Canary   bool           `json:"canary,omitempty"`
	Canaries []CanaryResult `json:"canaries,omitempty"`

	// N is its line in the request, from 1 (set by DecodeLines).
	N int `json:"-"`
}

// Condition is a condition's verdict in a Line.
type Condition struct {
	Condition string `json:"condition"`
	OK        bool   `json:"ok"`
	Warn      bool   `json:"warn,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// CanaryResult is one canary's result in a round.
type CanaryResult struct {
	Target     string  `json:"target"`
	OK         bool    `json:"ok"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
}

// Rejected names a line that was not taken, and why; the collector drops
// it (sending it again would not help) and counts it.
type Rejected struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// Response is the answer to a results request.
type Response struct {
	Stored     int        `json:"stored"`
	Duplicates int        `json:"duplicates"`
	Rejected   []Rejected `json:"rejected,omitempty"`
}

// Bounds of a line's fields: a line is evidence, not an archive.
const (
	maxID         = 64
	MaxName       = 256
	MaxError      = 2000
	maxConditions = 64
	maxCanaries   = 32
)

// DecodeLines reads a results body: one JSON object a line. A bad line
// is rejected alone, with its number (from 1), and the others are taken;
// strings are cut to their bounds and made valid UTF-8.
func DecodeLines(body []byte) ([]Line, []Rejected, error) {
	var lines []Line
	var rejected []Rejected
	n := 0
	for len(body) > 0 {
		var raw []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			raw, body = body[:i], body[i+1:]
		} else {
			raw, body = body, nil
		}
		n++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		if n > MaxLines {
			return nil, nil, fmt.Errorf("more than %d lines: send smaller batches", MaxLines)
		}
		l, err := decodeLine(raw)
		if err != nil {
			rejected = append(rejected, Rejected{Line: n, Error: err.Error()})
			continue
		}
		l.N = n
		lines = append(lines, l)
	}
	return lines, rejected, nil
}

func decodeLine(raw []byte) (Line, error) {
	var l Line
	if err := json.Unmarshal(raw, &l); err != nil {
		return l, fmt.Errorf("not a JSON object: %s", Clip(err.Error(), 200))
	}
	if l.ID == "" || len(l.ID) > maxID || strings.IndexFunc(l.ID, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_')
	}) >= 0 {
		return l, errors.New("id: want 1 to 64 letters, digits, '-' or '_'")
	}
	if l.Time.IsZero() || l.Time.Year() < 2000 || l.Time.Year() > 9000 {
		return l, errors.New("time: missing or out of range")
	}
	if l.DurationMS < 0 || l.DurationMS > 24*3600*1000 || l.DurationMS != l.DurationMS {
		return l, errors.New("duration_ms: want 0 to a day")
	}
	l.Error = Clip(l.Error, MaxError)
	if l.Canary {
		if l.Check != "" {
			return l, errors.New("a canary round names no check")
		}
		if len(l.Canaries) == 0 || len(l.Canaries) > maxCanaries {
			return l, fmt.Errorf("canaries: want 1 to %d", maxCanaries)
		}
		for i := range l.Canaries {
			c := &l.Canaries[i]
			c.Target, c.Error = Clip(c.Target, MaxName), Clip(c.Error, MaxError)
			if c.DurationMS < 0 || c.DurationMS > 24*3600*1000 || c.DurationMS != c.DurationMS {
				return l, errors.New("canaries: duration_ms: want 0 to a day")
			}
		}
		l.Conditions = nil
		return l, nil
	}
	if l.Check == "" || len(l.Check) > MaxName || !utf8.ValidString(l.Check) {
		return l, errors.New("check: want a check's name")
	}
	if len(l.Canaries) > 0 {
		return l, errors.New("canaries: only in a canary round")
	}
	if len(l.Conditions) > maxConditions {
		l.Conditions = l.Conditions[:maxConditions]
	}
	for i := range l.Conditions {
		c := &l.Conditions[i]
		c.Condition, c.Detail = Clip(c.Condition, MaxName), Clip(c.Detail, MaxError)
	}
	if l.OK && l.Error != "" {
		return l, errors.New("ok: a result with an error is not ok")
	}
	return l, nil
}

// Clip cuts s to at most n bytes of valid UTF-8.
func Clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// NewID makes a result's id: 128 random bits, so that two vantages never
// make the same one.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Loghost is the loghost's own location name, and the name of the canary
// that is the loghost.
const Loghost = "loghost"
