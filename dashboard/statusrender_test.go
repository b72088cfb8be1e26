package dashboard

import (
	"context"
	"html/template"
	"math"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDayBars(t *testing.T) {
	tests := []struct {
		name          string
		days          []StatusDay
		strip, from   string
		bars, summary string
	}{
		{"consecutive", []StatusDay{{Day: "2026-02-27", Uptime: -1}, {Day: "2026-02-28", Uptime: 0.9995}, {Day: "2026-03-01", Uptime: 1}, {Day: "2026-03-02", Uptime: 0.95}},
			"ok", "2026-02-27",
			`<rect class="none" x="0"/><rect x="6" data-u="99.95"/><rect x="12"/><rect class="major" x="18" data-u="95.00"/>`,
			"Last 4 days: 3 measured, 1 without data; below 100%: 2026-02-28 99.95%, 2026-03-02 95.00%."},
		{"a gap: each bar names its day", []StatusDay{{Day: "2026-03-01", Uptime: 0.991}, {Day: "2026-03-03", Uptime: 1}},
			"ok", "",
			`<rect class="minor" x="0" data-d="2026-03-01" data-u="99.10"/><rect x="6" data-d="2026-03-03"/>`,
			"Last 2 days: 2 measured, 0 without data; below 100%: 2026-03-01 99.10%."},
		{"hostile day", []StatusDay{{Day: `"><script>`, Uptime: 1}},
			"ok", "",
			`<rect x="0" data-d="&#34;&gt;&lt;script&gt;"/>`,
			"Last 1 days: 1 measured, 0 without data; every measured day 100%."},
		{"nothing measured", []StatusDay{{Day: "2026-03-01", Uptime: -1}},
			"none", "2026-03-01", `<rect x="0"/>`, "Last 1 days: 0 measured, 1 without data."},
		{"no days", nil, "none", "", "", "Last 0 days: 0 measured, 0 without data."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dayStrip(tt.days); got != tt.strip {
				t.Errorf("strip %q, want %q", got, tt.strip)
			}
			if got := dayFrom(tt.days); got != tt.from {
				t.Errorf("from %q, want %q", got, tt.from)
			}
			if got := dayBars(tt.days); got != template.HTML(tt.bars) {
				t.Errorf("bars\n got %s\nwant %s", got, tt.bars)
			}
			if got := daySummary(tt.days); got != tt.summary {
				t.Errorf("summary\n got %s\nwant %s", got, tt.summary)
			}
		})
	}
}

func TestPct(t *testing.T) {
	for f, want := range map[float64]string{-1: "–", 0: "0.00%", 0.5: "50.00%", 0.99999: "99.99%", 1: "100%", 1.5: "100%"} {
		if got := pct(f); got != want {
			t.Errorf("pct(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestResponseGraph(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	g := responseGraph([]StatusSample{{Time: t0, MS: 10, OK: true}, {Time: t0.Add(time.Minute), MS: math.NaN(), OK: true},
		{Time: t0.Add(2 * time.Minute), OK: false}, {Time: t0.Add(4 * time.Minute), MS: 20, OK: true}})
	if g == nil || g.Path != "M0 41l135 37 405-74" || g.Fails != `<circle class="fail" cx="270" cy="86" r="2.5"/>` || g.Max != "20 ms" {
		t.Fatalf("%+v", g)
	}
	if responseGraph([]StatusSample{{Time: t0}, {Time: t0}}) != nil || responseGraph(nil) != nil {
		t.Error("a graph without a time span")
	}
	// Nothing drawn where there is no data: an hour without probes
	// breaks the line (a move, not a slope across it).
	var ss []StatusSample
	for i := range 6 {
		ss = append(ss, StatusSample{Time: t0.Add(time.Duration(i) * 5 * time.Minute), MS: 10, OK: true})
	}
	for i := range 6 {
		ss = append(ss, StatusSample{Time: t0.Add(2*time.Hour + time.Duration(i)*5*time.Minute), MS: 10, OK: true})
	}
	g = responseGraph(ss)
	if g == nil || strings.Count(g.Path, "m") != 1 || !strings.HasPrefix(g.Path, "M0 4l") {
		t.Errorf("gap drawn: %+v", g)
	}
	// Two points are two dots, not a slope between two averages.
	g = responseGraph(ss[:2])
	if g == nil || g.Path != "" || strings.Count(string(g.Fails), `class="ok"`) != 2 {
		t.Errorf("two points: %+v", g)
	}
}

// The page a browser gets: every bar one element, no per-bar hover text
// in the HTML, figures for screen readers, and the 50-component page of
// the benchmark a fraction of its old 540 KB.
func TestStatusPageCompact(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	page, _ := PublicStatus(NewStatusCache(func(context.Context) (StatusPage, error) { return bigStatusPage(now), nil }, time.Second, nil))
	w := httptest.NewRecorder()
	page.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	body := w.Body.String()
	if n := strings.Count(body, "<rect "); n != 50*90 {
		t.Errorf("%d bars, want 4500", n)
	}
	if strings.Contains(body, "<title>2026") || strings.Count(body, `<p class="sr-only">Last 90 days: 29 measured, 61 without data; below 100%: 2026-10-28 99.50%, 2026-10-29 99.40%, 2026-10-31 99.90%,`) != 50 {
		t.Error("hover text in the HTML, or no summary for screen readers")
	}
	if !regexp.MustCompile(`<svg class="days none" viewBox="0 0 540 34" role="img" aria-label="Daily uptime of svc-0, last 90 days" data-from="2026-08-28"><rect x="0"/>.*<rect class="minor" x="372" data-u="99.40"/><rect class="ok" x="378"/><rect class="ok" x="384" data-u="99.90"/>`).MatchString(body) {
		t.Error("strip markup")
	}
	if len(body) > 260_000 { // 50 components, each with a day of jagged 5-minute points and a month of bad days
		t.Errorf("page is %d bytes", len(body))
	}
	t.Logf("page %d bytes", len(body))
}

// FuzzStatusMarkup: whatever the days and samples hold, the bars and the
// summary render without panicking, and the day never escapes its
// attribute.
func FuzzStatusMarkup(f *testing.F) {
	f.Add("2026-03-01", 0.995, int64(0), 12.5, true)
	f.Add(`"><script>`, -1.0, int64(-5), math.NaN(), false)
	f.Add("2026-02-28", math.Inf(1), int64(1<<40), math.Inf(-1), true)
	f.Fuzz(func(t *testing.T, day string, uptime float64, dt int64, ms float64, ok bool) {
		days := []StatusDay{{Day: day, Uptime: uptime}, {Day: "2026-03-01", Uptime: uptime / 2}}
		bars := string(dayBars(days))
		named := dayFrom(days) == ""
		if strings.Count(bars, "<rect ") != 2 || named && !strings.Contains(bars, `data-d="`+template.HTMLEscapeString(day)+`"`) {
			t.Fatalf("bars %q", bars)
		}
		_ = daySummary(days)
		_ = dayStrip(days)
		t0 := time.Unix(0, 0)
		responseGraph([]StatusSample{{Time: t0, MS: ms, OK: ok}, {Time: t0.Add(time.Duration(dt)), MS: -ms, OK: !ok}})
	})
}

// FuzzStatusRequestHeaders: Accept-Encoding and If-None-Match parse
// without panicking.
func FuzzStatusRequestHeaders(f *testing.F) {
	f.Add("gzip;q=0.5, br", `W/"abc", "def"`)
	f.Add("gzip;q=", "*")
	f.Add(",,;q=0,gzip;", "")
	f.Fuzz(func(t *testing.T, ae, inm string) {
		acceptsGzip([]string{ae})
		etagMatch([]string{inm}, `"0123456789abcdef"`)
	})
}
