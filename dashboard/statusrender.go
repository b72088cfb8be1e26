package dashboard

import (
	"html/template"
	"math"
	"slices"
	"strconv"
	"time"
)

// The status page's bulk is 90 day bars per component: written here by
// hand, not through the template, as one short element each (the hover
// text is built by status.js from the bar's class and data), so that the
// page stays a few bytes per bar and a rebuild costs little.

const dayLayout = "2006-01-02"

func dayClass(d StatusDay) string {
	switch {
	case d.Uptime < 0:
		return "none"
	case d.Uptime >= 0.999:
		return "ok"
	case d.Uptime >= 0.99:
		return "minor"
	}
	return "major"
}

// pctDigits is an uptime as the page prints it, without the % sign:
// floored to two decimals, so that 99.999% never reads as 100.
func pctDigits(b []byte, f float64) []byte {
	if f >= 1 {
		return append(b, "100"...)
	}
	return strconv.AppendFloat(b, math.Floor(f*10000)/100, 'f', 2, 64)
}

func pct(f float64) string {
	if f < 0 {
		return "–"
	}
	return string(pctDigits(nil, f)) + "%"
}

// dayFrom is the first day when the days follow each other, as
// uptime.Reader draws them: status.js then names each bar from its
// position. Otherwise each bar carries its day.
func dayFrom(days []StatusDay) string {
	if len(days) == 0 || !consecutive(days) {
		return ""
	}
	return days[0].Day
}

func consecutive(days []StatusDay) bool {
	var prev time.Time
	for i, d := range days {
		t, err := time.Parse(dayLayout, d.Day)
		if err != nil || (i > 0 && !t.Equal(prev.AddDate(0, 0, 1))) {
			return false
		}
		prev = t
	}
	return true
}

var dayClasses = [...]string{"none", "ok", "minor", "major"}

// dayStrip is the class most of the strip's days have: the strip carries
// it, and only the other bars their own.
func dayStrip(days []StatusDay) string {
	var n [len(dayClasses)]int
	for _, d := range days {
		for i, c := range dayClasses {
			if c == dayClass(d) {
				n[i]++
			}
		}
	}
	most := 0
	for i := range n {
		if n[i] > n[most] {
			most = i
		}
	}
	return dayClasses[most]
}

// dayBars is the strip's <rect>s: x, the class when it is not the
// strip's, data-u for an uptime short of 100%, data-d for the day unless
// the strip has data-from. Nothing here comes from outside but the day,
// which is escaped.
func dayBars(days []StatusDay) template.HTML {
	named := dayFrom(days) == ""
	strip := dayStrip(days)
	b := make([]byte, 0, len(days)*24)
	for i, d := range days {
		b = append(b, "<rect "...)
		if c := dayClass(d); c != strip {
			b = append(b, `class="`...)
			b = append(b, c...)
			b = append(b, `" `...)
		}
		b = append(b, `x="`...)
		b = strconv.AppendInt(b, int64(i*6), 10)
		b = append(b, '"')
		if named {
			b = append(b, ` data-d="`...)
			b = append(b, template.HTMLEscapeString(d.Day)...)
			b = append(b, '"')
		}
		if d.Uptime >= 0 && d.Uptime < 1 {
			b = append(b, ` data-u="`...)
			b = pctDigits(b, d.Uptime)
			b = append(b, '"')
		}
		b = append(b, "/>"...)
	}
	return template.HTML(b)
}

// daySummary says in words what the bars show, for screen readers (the
// strip itself is one image to them): how many days were measured and
// each day short of 100%.
func daySummary(days []StatusDay) string {
	var measured, none int
	var short []byte
	for _, d := range days {
		switch {
		case d.Uptime < 0:
			none++
			continue
		case d.Uptime < 1:
			if len(short) > 0 {
				short = append(short, ", "...)
			}
			short = append(short, d.Day...)
			short = append(short, ' ')
			short = pctDigits(short, d.Uptime)
			short = append(short, '%')
		}
		measured++
	}
	b := make([]byte, 0, 64+len(short))
	b = append(b, "Last "...)
	b = strconv.AppendInt(b, int64(len(days)), 10)
	b = append(b, " days: "...)
	b = strconv.AppendInt(b, int64(measured), 10)
	b = append(b, " measured, "...)
	b = strconv.AppendInt(b, int64(none), 10)
	b = append(b, " without data"...)
	switch {
	case len(short) > 0:
		b = append(b, "; below 100%: "...)
		b = append(b, short...)
	case measured > 0:
		b = append(b, "; every measured day 100%"...)
	}
	return string(append(b, '.'))
}

// statusGraph is the response-time graph's SVG drawing.
type statusGraph struct {
	Path          string        // the good probes' line, relative moves
	Fails         template.HTML // <circle>s, numbers only
	Max, From, To string
}

// responseGraph turns samples into a line and the failed probes as dots
// for a 540×80 box, in whole units (the box is drawn about 540 px wide:
// finer adds bytes, not detail) and relative moves (a day of 5-minute
// points is 3 or 4 bytes each, not 7).
//
// Nothing is drawn where there is no data: the graph starts at the first
// probe, and a gap of more than gapBuckets bucket lengths between two
// points (the check paused, the loghost down) leaves the line broken.
// Two or fewer points are drawn as dots, not as a slope between them.
func responseGraph(samples []StatusSample) *statusGraph {
	if len(samples) < 2 {
		return nil
	}
	gap := gapOf(samples)
	dots := 0
	for _, s := range samples {
		if s.OK {
			dots++
		}
	}
	t0, t1 := samples[0].Time, samples[len(samples)-1].Time
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		return nil
	}
	maxMS := 1.0
	for _, s := range samples {
		if !math.IsNaN(s.MS) && !math.IsInf(s.MS, 0) {
			maxMS = math.Max(maxMS, s.MS)
		}
	}
	path := make([]byte, 0, len(samples)*4+8)
	var fails []byte
	var px, py int64
	for i, s := range samples {
		x := int64(math.Round(540 * s.Time.Sub(t0).Seconds() / span))
		if !s.OK {
			fails = append(fails, `<circle class="fail" cx="`...)
			fails = strconv.AppendInt(fails, x, 10)
			fails = append(fails, `" cy="86" r="2.5"/>`...)
			continue
		}
		ms := s.MS
		if math.IsNaN(ms) || math.IsInf(ms, 0) || ms < 0 {
			ms = 0
		}
		y := int64(math.Round(78 - 74*ms/maxMS))
		if dots <= 2 {
			fails = append(fails, `<circle class="ok" cx="`...)
			fails = strconv.AppendInt(fails, x, 10)
			fails = append(fails, `" cy="`...)
			fails = strconv.AppendInt(fails, y, 10)
			fails = append(fails, `" r="2.5"/>`...)
			continue
		}
		if len(path) > 0 && i > 0 && s.Time.Sub(samples[i-1].Time) > gap {
			// No data between: move, do not draw.
			if path[len(path)-1] == 'l' {
				path = path[:len(path)-1]
			}
			path = append(path, " m"...)
			path = strconv.AppendInt(path, x-px, 10)
			if y-py >= 0 {
				path = append(path, ' ')
			}
			path = strconv.AppendInt(path, y-py, 10)
			path = append(path, 'l')
			px, py = x, y
			continue
		}
		if len(path) == 0 {
			path = append(path, 'M')
			path = strconv.AppendInt(path, x, 10)
			path = append(path, ' ')
			path = strconv.AppendInt(path, y, 10)
			path = append(path, 'l')
		} else {
			if path[len(path)-1] != 'l' {
				path = append(path, ' ')
			}
			path = strconv.AppendInt(path, x-px, 10)
			if y-py >= 0 {
				path = append(path, ' ')
			}
			path = strconv.AppendInt(path, y-py, 10)
		}
		px, py = x, y
	}
	if len(path) > 0 && path[len(path)-1] == 'l' {
		path = path[:len(path)-1] // one point: nothing to draw from it
	}
	return &statusGraph{Path: string(path), Fails: template.HTML(fails), Max: strconv.FormatFloat(maxMS, 'f', 0, 64) + " ms",
		From: t0.Format("Jan 2 15:04"), To: t1.Format("Jan 2 15:04 MST")}
}

// gapBuckets: points further apart than this many typical intervals
// have no data between them.
const gapBuckets = 2.5

// gapOf is how far apart two points may be and still be joined: 2.5
// times the usual (median) step between them.
func gapOf(samples []StatusSample) time.Duration {
	var steps []time.Duration
	for i := 1; i < len(samples); i++ {
		steps = append(steps, samples[i].Time.Sub(samples[i-1].Time))
	}
	if len(steps) == 0 {
		return time.Hour
	}
	slices.Sort(steps)
	return time.Duration(float64(steps[len(steps)/2]) * gapBuckets)
}

// pingStrip draws a heartbeat's pings on a 540×40 strip: a dot per ping
// at its time, green when the job reported success, red when it failed;
// nothing between pings.
func pingStrip(pings []StatusPing) template.HTML {
	if len(pings) == 0 {
		return ""
	}
	t0, t1 := pings[0].Time, pings[len(pings)-1].Time
	span := t1.Sub(t0).Seconds()
	b := make([]byte, 0, 64+len(pings)*40)
	b = append(b, `<svg class="pings" viewBox="0 0 540 40" role="img" aria-label="Last `...)
	b = strconv.AppendInt(b, int64(len(pings)), 10)
	b = append(b, ` pings, `...)
	b = append(b, t0.UTC().Format("Jan 2 15:04")...)
	b = append(b, ` to `...)
	b = append(b, t1.UTC().Format("Jan 2 15:04 UTC")...)
	b = append(b, `">`...)
	for _, p := range pings {
		x := int64(270)
		if span > 0 {
			x = 6 + int64(math.Round(528*p.Time.Sub(t0).Seconds()/span))
		}
		cls := "ok"
		if !p.OK {
			cls = "fail"
		}
		b = append(b, `<circle class="`...)
		b = append(b, cls...)
		b = append(b, `" cx="`...)
		b = strconv.AppendInt(b, x, 10)
		b = append(b, `" cy="14" r="4"/>`...)
	}
	b = append(b, `<text x="0" y="38">`...)
	b = append(b, t0.UTC().Format("Jan 2 15:04")...)
	b = append(b, `</text><text x="540" y="38" text-anchor="end">`...)
	b = append(b, t1.UTC().Format("Jan 2 15:04 UTC")...)
	b = append(b, `</text></svg>`...)
	return template.HTML(b)
}
