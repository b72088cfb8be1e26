package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/webstats"
)

// fakeStats serves one month built from requests whose URL, referrer and
// agent carry markup.
type fakeStats struct{ agg *webstats.Aggregator }

func (f fakeStats) Months(context.Context) ([]StatsMonth, error) {
	upd := time.Date(2026, 10, 9, 0, 0, 0, 0, time.UTC)
	return []StatsMonth{{Site: "blog", Month: "2026-12", Updated: upd}, {Site: "wiki", Month: "2026-12", Updated: upd}, {Site: "wiki", Month: "2026-11", Updated: upd},
		{Site: "wiki", Month: "2026-10", Updated: upd}, {Site: "wiki", Month: "2026-08", Updated: upd}}, nil
}

func (f fakeStats) Report(_ context.Context, site, month string) (*webstats.Report, error) {
	if site != "wiki" || month != "2026-10" {
		return nil, nil
	}
	return f.agg.Report("wiki", 2026, time.October), nil
}

func (f fakeStats) History(_ context.Context, site string, year int) ([]StatsTotals, error) {
	if site != "wiki" || year != 2026 {
		return nil, nil
	}
	return []StatsTotals{{Month: "2026-08", Totals: webstats.Totals{Visits: 7}}, {Month: "2026-10", Totals: f.agg.Report("wiki", 2026, time.October).Totals}}, nil
}

func newFakeStats() fakeStats {
	a := webstats.New(webstats.Options{})
	add := func(ts, path string, status int, ref, ua string) {
		t, _ := time.Parse(time.RFC3339, ts)
		a.AddRequest("wiki", &webstats.Request{Time: t, Client: "192.0.2.1", Method: "GET", Path: path, Status: status, Bytes: 1000, Referer: ref, UserAgent: ua})
	}
	ff := "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
	add("2026-10-05T10:00:00Z", "/<script>alert(1)</script>.html", 200, "https://evil.example/<b>x</b>", ff)
	add("2026-10-05T10:01:00Z", "/nope<img src=x>", 404, "-", ff)
	add("2026-10-05T10:02:00Z", "/", 200, "https://www.google.com/search?q=%3Cscript%3Ehi", ff)
	add("2026-10-05T10:03:00Z", "/f.iso", 200, "-", ff)
	add("2026-10-05T10:04:00Z", "/robots.txt", 200, "-", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
	return fakeStats{a}
}

// TestWebStatsPages: signed in, the month page shows every table with the
// log's text escaped; signed out it asks for a login; the API answers
// JSON errors.
func TestWebStatsPages(t *testing.T) {
	f := newFixture(t, UIDeps{WebStats: newFakeStats()})
	if w := f.do("GET", "/admin/webstats/wiki/2026-10", "", nil, nil); w.Code != 303 && w.Code != 302 {
		t.Errorf("signed out: %d", w.Code)
	}
	c, _ := f.login("alice", alicePW)
	w := f.do("GET", "/admin/webstats", "", nil, nil, c)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `href="/admin/webstats/wiki/2026-10"`) {
		t.Errorf("index: %d %s", w.Code, w.Body)
	}
	w = f.do("GET", "/admin/webstats/wiki/2026-10", "", nil, nil, c)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("month: %d %s", w.Code, body)
	}
	for _, want := range []string{"Days of the week", "Errors (not viewed)", "Not found (404)", "Referring sites", "Referring pages",
		"Search keyphrases", "Searches", "Visit durations", "Downloads", "/f.iso", "Robots and spiders", "Googlebot",
		"AWStats 7.8&#39;s: a visit ends after 1h", "&lt;script&gt;", `id="days-chart"`,
		`rel="prev" href="/admin/webstats/wiki/2026-08"`, `rel="next" href="/admin/webstats/wiki/2026-11"`,
		"Months of 2026", `id="months-chart" data-year="2026"`, `<td><a href="/admin/webstats/wiki/2026-08">2026-08</a></td><td>0</td><td>7</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("month page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>alert", "<img src=x>", "<b>x</b>", "<script>hi"} {
		if strings.Contains(body, bad) {
			t.Errorf("month page shows %q unescaped", bad)
		}
	}
	if w := f.do("GET", "/admin/webstats/wiki/2026-11", "", nil, nil, c); w.Code != 404 {
		t.Errorf("missing month: %d", w.Code)
	}
	if w := f.do("GET", "/admin/webstats/wiki/october", "", nil, nil, c); w.Code != 404 {
		t.Errorf("bad month: %d", w.Code)
	}

	mux := http.NewServeMux()
	(&WebStatsAPI{Source: newFakeStats()}).Register(mux, func(h http.Handler) http.Handler { return h })
	for path, want := range map[string]string{
		"/api/v1/webstats":                `"site":"wiki","month":"2026-10"`,
		"/api/v1/webstats/wiki/2026-10":   `"hit_codes":[200,304]`,
		"/api/v1/webstats/wiki/2026-11":   `{"error":"no statistics for this site and month"}`,
		"/api/v1/webstats/wiki/oct":       `{"error":"month: want YYYY-MM"}`,
		"/api/v1/webstats/wiki?year=2026": `[{"month":"2026-08","hits":0,"pages":0,"bytes":0,"visits":7`,
		"/api/v1/webstats/wiki":           `{"error":"year: want ?year=YYYY"}`,
		"/api/v1/webstats/blog?year=2026": `[]`,
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if !strings.Contains(w.Body.String(), want) || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s %.200s", path, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
}
