package webstats

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Definitions choose what counts as a visit and a hit, per site. The
// zero value is AWStats 7.8's; a month keeps the definitions it was built
// with (Merge refuses to mix them).
type Definitions struct {
	// VisitTimeout ends a visit after this long without a page view:
	// AWStats's one hour by default (Matomo and Google use 30 minutes).
	VisitTimeout time.Duration
	// SplitAtMidnight also ends a visit at midnight, as AWStats 7.8 does
	// (it adds its timeout to a YYYYMMDDhhmmss number, so a page seen on
	// the next day always starts a visit). Nil means true.
	SplitAtMidnight *bool
	// HitCodes are the status codes whose requests are viewed traffic
	// (hits): AWStats's "200 304" by default. Others go to the error table.
	HitCodes []int
}

// AWStats returns AWStats 7.8's definitions.
func AWStats() Definitions { return Definitions{}.withDefaults() }

func (d Definitions) withDefaults() Definitions {
	if d.VisitTimeout <= 0 {
		d.VisitTimeout = time.Hour
	}
	if d.SplitAtMidnight == nil {
		split := true
		d.SplitAtMidnight = &split
	}
	codes := slices.Clone(d.HitCodes)
	if len(codes) == 0 {
		codes = []int{200, 304}
	}
	slices.Sort(codes)
	d.HitCodes = slices.Compact(codes)
	return d
}

// Validate reports definitions no month can be built with.
func (d Definitions) Validate() error {
	if d.VisitTimeout != 0 && (d.VisitTimeout < time.Second || d.VisitTimeout > 24*time.Hour) {
		return fmt.Errorf("visit timeout %s: want between 1s and 24h", d.VisitTimeout)
	}
	for _, c := range d.HitCodes {
		if c < 100 || c > 599 {
			return fmt.Errorf("hit code %d: want an HTTP status from 100 to 599", c)
		}
	}
	return nil
}

// Equal says whether d and o define the same numbers.
func (d Definitions) Equal(o Definitions) bool {
	d, o = d.withDefaults(), o.withDefaults()
	return d.VisitTimeout == o.VisitTimeout && *d.SplitAtMidnight == *o.SplitAtMidnight && slices.Equal(d.HitCodes, o.HitCodes)
}

// Key is a short text naming the definitions ("3600 true 200,304" for
// AWStats's), equal for equal definitions: stored months carry it so that
// a mismatch is seen without decoding them.
func (d Definitions) Key() string {
	d = d.withDefaults()
	var b strings.Builder
	fmt.Fprintf(&b, "%d %t ", int64(d.VisitTimeout/time.Second), *d.SplitAtMidnight)
	for i, c := range d.HitCodes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(c))
	}
	return b.String()
}

// Name is "awstats" for AWStats 7.8's definitions, else "custom".
func (d Definitions) Name() string {
	if d.Equal(Definitions{}) {
		return "awstats"
	}
	return "custom"
}

type resolvedDefs struct {
	VisitTimeout    time.Duration
	SplitAtMidnight bool
	HitCodes        []int
	valid           [1000]bool
}
