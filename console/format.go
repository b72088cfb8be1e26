package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/watchpost/watchpost/uptime"
)

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// when prints a time in the configured zone, with the zone's name.
func (c *Console) when(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.In(c.d.Location).Format("2006-01-02 15:04:05 MST")
}

// ago is how long before now t was, roughly.
func (c *Console) ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := c.d.Now().Sub(t)
	switch {
	case d < 0 && d > -time.Second, d >= 0 && d < time.Second:
		return "just now"
	case d < 0:
		return "in " + fmtDuration(-d)
	}
	return fmtDuration(d) + " ago"
}

// fmtDuration is a duration as a person says it: 40s, 12m, 3h 5m, 2d 4h.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 24*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh %dm", h, m)
	}
	days, h := int(d.Hours())/24, int(d.Hours())%24
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd %dh", days, h)
}

// pct is an uptime ratio floored to two decimals; – when unknown.
func pct(f float64) string {
	if f < 0 {
		return "–"
	}
	if f >= 1 {
		return "100%"
	}
	return strconv.FormatFloat(math.Floor(f*10000)/100, 'f', 2, 64) + "%"
}

func fmtLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, " ")
}

// short cuts a text to n runes.
func short(n int, s string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// chartData is a check's response times over a range.
type chartData struct {
	Samples []uptime.Sample
	From    time.Time
	To      time.Time
	// Gap is the longest pause between probes still drawn as a line;
	// longer ones leave a gap (the check was not probed then).
	Gap time.Duration
	Loc *time.Location
}

const chartW, chartH = 720.0, 140.0

// rtChart draws response times as SVG: a line through the good probes,
// broken where there is no data (nothing is drawn before the first
// probe, or across a pause or an outage of the loghost), red marks for
// failed ones. It needs no script.
func rtChart(d chartData) template.HTML {
	if len(d.Samples) == 0 {
		return template.HTML(`<p class="placeholder">No probe results in this range yet.</p>`)
	}
	from := d.From
	if first := d.Samples[0].Time; first.After(from) {
		from = first
	}
	to := d.To
	if !to.After(from) {
		to = from.Add(time.Minute)
	}
	maxMS := 1.0
	for _, s := range d.Samples {
		if s.OK {
			maxMS = math.Max(maxMS, float64(s.Duration.Microseconds())/1000)
		}
	}
	top := niceCeil(maxMS)
	span := float64(to.Sub(from))
	x := func(t time.Time) float64 { return 40 + (chartW-50)*float64(t.Sub(from))/span }
	y := func(ms float64) float64 { return 10 + (chartH-30)*(1-ms/top) }
	var path, fails strings.Builder
	var prev time.Time
	pen := false
	for _, s := range d.Samples {
		if s.Time.Before(from) {
			continue
		}
		if !s.OK {
			fmt.Fprintf(&fails, `<circle class="fail" cx="%.1f" cy="%.1f" r="2.5"/>`, x(s.Time), chartH-22)
			pen = false
			continue
		}
		op := "L"
		if !pen || (d.Gap > 0 && s.Time.Sub(prev) > d.Gap) {
			op = "M"
		}
		fmt.Fprintf(&path, "%s%.1f %.1f ", op, x(s.Time), y(float64(s.Duration.Microseconds())/1000))
		prev, pen = s.Time, true
	}
	loc := d.Loc
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="rt console" viewBox="0 0 %.0f %.0f" role="img" aria-label="Response time from %s to %s">`, chartW, chartH,
		from.In(loc).Format("Jan 2 15:04"), to.In(loc).Format("Jan 2 15:04 MST"))
	fmt.Fprintf(&b, `<line class="axis" x1="40" y1="%.1f" x2="%.0f" y2="%.1f"/>`, chartH-20, chartW-10, chartH-20)
	fmt.Fprintf(&b, `<text x="36" y="14" text-anchor="end">%s</text><text x="36" y="%.1f" text-anchor="end">0</text>`, msLabel(top), chartH-20)
	fmt.Fprintf(&b, `<text x="40" y="%.0f">%s</text><text x="%.0f" y="%.0f" text-anchor="end">%s</text>`, chartH-4,
		from.In(loc).Format("Jan 2 15:04"), chartW-10, chartH-4, to.In(loc).Format("Jan 2 15:04 MST"))
	if path.Len() > 0 {
		fmt.Fprintf(&b, `<path d="%s" fill="none"/>`, strings.TrimSpace(path.String()))
	}
	b.WriteString(fails.String())
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func msLabel(ms float64) string {
	if ms >= 1000 {
		return strconv.FormatFloat(ms/1000, 'g', 3, 64) + " s"
	}
	return strconv.FormatFloat(ms, 'g', 3, 64) + " ms"
}

// ping is one heartbeat ping (or pause, resume) of its log.
type ping struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"` // success, fail, start, log, pause, resume
	ExitCode *int64    `json:"exit_code"`
	Duration *float64  `json:"duration_ms"`
	RunID    string    `json:"run_id,omitempty"`
	Remote   string    `json:"remote"`
	Body     string    `json:"body"`
}

// pingData is a heartbeat's pings over a range.
type pingData struct {
	Pings    []ping
	From, To time.Time
	Loc      *time.Location
}

// pingChart draws a heartbeat's pings as SVG: one mark per ping at its
// time, green for success, red for failure, grey for start and log; a
// run's length, when known, is how high its mark stands. Nothing is
// drawn where no ping came.
func pingChart(d pingData) template.HTML {
	if len(d.Pings) == 0 {
		return template.HTML(`<p class="placeholder">No pings in this range yet.</p>`)
	}
	from, to := d.From, d.To
	if first := d.Pings[len(d.Pings)-1].Time; first.After(from) {
		from = first.Add(-time.Minute)
	}
	if !to.After(from) {
		to = from.Add(time.Minute)
	}
	maxMS := 1.0
	for _, p := range d.Pings {
		if p.Duration != nil {
			maxMS = math.Max(maxMS, *p.Duration)
		}
	}
	top := niceCeil(maxMS)
	span := float64(to.Sub(from))
	loc := d.Loc
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="rt pings" viewBox="0 0 %.0f %.0f" role="img" aria-label="Pings from %s to %s">`, chartW, chartH,
		from.In(loc).Format("Jan 2 15:04"), to.In(loc).Format("Jan 2 15:04 MST"))
	fmt.Fprintf(&b, `<line class="axis" x1="40" y1="%.1f" x2="%.0f" y2="%.1f"/>`, chartH-20, chartW-10, chartH-20)
	fmt.Fprintf(&b, `<text x="36" y="14" text-anchor="end">%s</text><text x="36" y="%.1f" text-anchor="end">run</text>`, msLabel(top), chartH-20)
	fmt.Fprintf(&b, `<text x="40" y="%.0f">%s</text><text x="%.0f" y="%.0f" text-anchor="end">%s</text>`, chartH-4,
		from.In(loc).Format("Jan 2 15:04"), chartW-10, chartH-4, to.In(loc).Format("Jan 2 15:04 MST"))
	for _, p := range d.Pings {
		if p.Time.Before(from) {
			continue
		}
		x := 40 + (chartW-50)*float64(p.Time.Sub(from))/span
		cy := chartH - 26
		if p.Duration != nil {
			cy = 10 + (chartH-36)*(1-*p.Duration/top)
			fmt.Fprintf(&b, `<line class="run %s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, p.Kind, x, chartH-20, x, cy)
		}
		fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="3.5"><title>%s %s</title></circle>`, p.Kind, x, cy,
			p.Kind, p.Time.In(loc).Format("Jan 2 15:04:05"))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func pathEscape(s string) string { return url.PathEscape(s) }

func jsonUnmarshal(b []byte, v any) { _ = json.Unmarshal(b, v) }
