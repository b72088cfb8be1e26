package webstats

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zone test must not depend on the host's zoneinfo

	webstatsfixture "github.com/watchpost/watchpost/fixtures/webstats"
	"github.com/watchpost/watchpost/logparse"
)

func reportsJSON(t *testing.T, a *Aggregator) string {
	t.Helper()
	var rs []*Report
	for _, k := range a.Months() {
		rs = append(rs, a.Report(k.Site, k.Year, k.Month))
	}
	b, err := json.MarshalIndent(rs, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOrderDoesNotMatter: the log split in three, fed last part first, or
// shuffled line by line, or aggregated apart, stored, loaded and merged,
// gives the report of the whole log read in order.
func TestOrderDoesNotMatter(t *testing.T) {
	_, lines := writeFixture(t, t.TempDir(), fixtureConfig)
	want := reportsJSON(t, aggregate(lines, Options{}))
	third := len(lines) / 3
	parts := [][]string{lines[:third], lines[third : 2*third], lines[2*third:]}

	reversed := New(Options{})
	for i := len(parts) - 1; i >= 0; i-- {
		for _, l := range parts[i] {
			ev := logparse.Parse("combined", []byte(l), time.Time{}, time.UTC)
			reversed.Add(fixtureSite, &ev)
		}
	}
	shuffled := append([]string(nil), lines...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	merged := New(Options{})
	for i := len(parts) - 1; i >= 0; i-- {
		part := aggregate(parts[i], Options{})
		for _, k := range part.Months() {
			blob, err := part.Month(k).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var m Month
			if err := m.UnmarshalBinary(blob); err != nil {
				t.Fatal(err)
			}
			if err := merged.MergeMonth(&m); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, a := range map[string]*Aggregator{"reversed": reversed, "shuffled": aggregate(shuffled, Options{}), "merged": merged} {
		if got := reportsJSON(t, a); got != want {
			t.Errorf("%s: report differs from the in-order one", name)
			os.WriteFile(filepath.Join(t.TempDir(), "got.json"), []byte(got), 0o644)
		}
	}
	// A stored month keeps taking requests after it is loaded.
	half := aggregate(lines[:len(lines)/2], Options{})
	reloaded := New(Options{})
	for _, k := range half.Months() {
		blob, _ := half.Month(k).MarshalBinary()
		var m Month
		if err := m.UnmarshalBinary(blob); err != nil {
			t.Fatal(err)
		}
		reloaded.MergeMonth(&m)
	}
	for _, l := range lines[len(lines)/2:] {
		ev := logparse.Parse("combined", []byte(l), time.Time{}, time.UTC)
		reloaded.Add(fixtureSite, &ev)
	}
	if reportsJSON(t, reloaded) != want {
		t.Error("a reloaded month updated with the rest differs")
	}
}

// TestStatsCLIFilesInAnyOrder: "watchpost stats" on three parts given in
// reverse order, one of them gzipped and one given twice, writes the
// JSON report of the whole file.
func TestStatsCLIFilesInAnyOrder(t *testing.T) {
	dir := t.TempDir()
	path, lines := writeFixture(t, dir, fixtureConfig)
	third := len(lines) / 3
	var paths []string
	for i, p := range [][]string{lines[:third], lines[third : 2*third], lines[2*third:]} {
		fn := filepath.Join(dir, "part"+string(rune('1'+i))+".log")
		data := []byte(strings.Join(p, "\n") + "\n")
		if i == 1 {
			fn += ".gz"
			data = gz(t, data)
		}
		if err := os.WriteFile(fn, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append([]string{fn}, paths...)
	}
	run := func(args ...string) (string, string) {
		var out, errb bytes.Buffer
		if code := Main(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("stats %v: exit %d: %s", args, code, errb.String())
		}
		return out.String(), errb.String()
	}
	whole, _ := run(append([]string{"-site", fixtureSite, "-format", "json"}, path)...)
	split, warn := run(append([]string{"-site", fixtureSite, "-format", "json", paths[2]}, paths...)...)
	if whole != split {
		t.Error("parts in reverse order give another report")
	}
	if !strings.Contains(warn, "same content") {
		t.Errorf("a file given twice is not reported: %q", warn)
	}
	var rs []Report
	if err := json.Unmarshal([]byte(whole), &rs); err != nil || len(rs) != 2 || rs[0].Month != "2026-09" || rs[1].Month != "2026-10" {
		t.Fatalf("json: %v %d", err, len(rs))
	}
	// Other definitions: more visits with a shorter timeout; the report
	// says which it used. A hashed address report has the same visitors.
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("0123456789abcdef0123\n"), 0o600)
	short, _ := run("-site", fixtureSite, "-format", "json", "-visit-timeout", "10m", "-hit-codes", "200,206,304", "-privacy", "hash", "-privacy-key-file", key, path)
	var rs2 []Report
	if err := json.Unmarshal([]byte(short), &rs2); err != nil || len(rs2) != 2 {
		t.Fatalf("json: %v", err)
	}
	if rs2[0].Totals.Visits <= rs[0].Totals.Visits || rs2[0].Totals.Unique != rs[0].Totals.Unique || rs2[0].Definitions != "custom" ||
		rs2[0].VisitTimeout != 600 || len(rs2[0].HitCodes) != 3 || rs2[0].Totals.Hits <= rs[0].Totals.Hits {
		t.Errorf("10m visits, 206 hits: %+v %s %d %v; awstats %+v", rs2[0].Totals, rs2[0].Definitions, rs2[0].VisitTimeout, rs2[0].HitCodes, rs[0].Totals)
	}
	text, _ := run("-site", fixtureSite, path)
	for _, want := range []string{"Site www.example.com, 2026-09", "Robot", "Googlebot", "AhrefsBot", "/missing/", "Google", "watchpost monitoring"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q", want)
		}
	}
}

func TestStatsCLIUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-format", "pdf", "x.log"}, {"-tz", "Mars/Olympus", "x.log"}, {"-bogus"}, {"-privacy", "hash", "x.log"},
		{"-privacy", "hash", "-privacy-key-file", "/nonexistent", "x.log"}, {"-visit-timeout", "25h", "x.log"}, {"-hit-codes", "200,abc", "x.log"},
		{"-hit-codes", "99", "x.log"}, {"-log-format", "json", "x.log"}, {"-server", "http://127.0.0.1:1", "x.log"},
		{"-month", "2026-10", "x.log"}, {"-server", "http://127.0.0.1:1"}, {"-server", "http://127.0.0.1:1", "-token-file", "/nonexistent"},
		{"-server", "http://127.0.0.1:1", "-token-file", "/dev/null", "-month", "2026-13"}} {
		var out, errb bytes.Buffer
		if code := Main(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"/nonexistent.log"}, &out, &errb); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
}

func req(ts, client, path string, status int, ua string) *Request {
	tm, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		panic(err)
	}
	return &Request{Time: tm, Client: client, Method: "GET", Path: path, Status: status, Bytes: 100, UserAgent: ua}
}

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"

// TestVisits: AWStats's rules, whatever the order of the requests.
func TestVisits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		times  []string
		visits int64
		durs   string
	}{
		{"one hour apart is one visit", []string{"2026-10-05T10:00:00Z", "2026-10-05T11:00:00Z"}, 1, "30mn-1h"},
		{"one second more is two", []string{"2026-10-05T10:00:00Z", "2026-10-05T11:00:01Z"}, 2, "0s-30s"},
		{"midnight ends a visit", []string{"2026-10-05T23:59:00Z", "2026-10-06T00:01:00Z"}, 2, "0s-30s"},
		{"a late request joins two visits", []string{"2026-10-05T10:00:00Z", "2026-10-05T11:40:00Z", "2026-10-05T10:50:00Z"}, 1, "1h+"},
		{"the bridging request first", []string{"2026-10-05T10:50:00Z", "2026-10-05T11:40:00Z", "2026-10-05T10:00:00Z"}, 1, "1h+"},
		{"three apart", []string{"2026-10-05T15:00:00Z", "2026-10-05T10:00:00Z", "2026-10-05T12:00:00Z"}, 3, "0s-30s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := New(Options{})
			for i, ts := range tc.times {
				a.AddRequest("s", req(ts, "192.0.2.1", "/p"+string(rune('a'+i)), 200, firefox))
			}
			// An image and a robot never make a visit.
			a.AddRequest("s", req("2026-10-05T18:00:00Z", "192.0.2.1", "/x.png", 200, firefox))
			a.AddRequest("s", req("2026-10-05T18:00:00Z", "192.0.2.9", "/", 200, "curl/8.5.0"))
			r := a.Report("s", 2026, time.October)
			if r.Totals.Visits != tc.visits || r.Totals.Unique != 1 {
				t.Errorf("visits %d unique %d, want %d 1", r.Totals.Visits, r.Totals.Unique, tc.visits)
			}
			var entries, exits int64
			for _, p := range r.Pages {
				entries += p.Entry
				exits += p.Exit
			}
			if entries != tc.visits || exits != tc.visits {
				t.Errorf("entries %d exits %d", entries, exits)
			}
			for _, d := range r.Durations {
				if d.Key == tc.durs && d.Count == 0 {
					t.Errorf("no visit in %s: %+v", tc.durs, r.Durations)
				}
			}
		})
	}
}

func TestTimeZone(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{Location: loc})
	a.AddRequest("s", req("2026-09-30T22:30:00Z", "192.0.2.1", "/", 200, firefox)) // 00:30 on 1 October in Berlin
	r := a.Report("s", 2026, time.October)
	if r == nil || r.Days[0].Pages != 1 || r.Hours[0].Pages != 1 {
		t.Fatalf("not on 1 October 00h in Berlin: %+v", a.Months())
	}
}

func TestPrivacy(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.77", "192.0.2.0/24"}, {"2001:db8:1234:5678::1", "2001:db8:1234::/48"}, {"::ffff:198.51.100.9", "198.51.100.0/24"}, {"host.example.net", "*.example.net"},
	} {
		if got := Truncate(tc.in); got != tc.want {
			t.Errorf("Truncate(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, p := range []Privacy{{Mode: "truncate"}, {Mode: "hash", Key: []byte("0123456789abcdef")}} {
		a := New(Options{Privacy: p})
		a.AddRequest("s", req("2026-10-05T10:00:00Z", "192.0.2.1", "/", 200, firefox))
		a.AddRequest("s", req("2026-10-05T10:00:00Z", "192.0.2.2", "/", 200, firefox))
		m := a.Month(MonthKey{"s", 2026, time.October})
		for h := range m.Hosts {
			if strings.Contains(h, "192.0.2.1") || strings.Contains(h, "192.0.2.2") {
				t.Errorf("%s stores %q", p.Mode, h)
			}
		}
		if want := map[string]int{"truncate": 1, "hash": 2}[p.Mode]; len(m.Hosts) != want {
			t.Errorf("%s: %d hosts, want %d", p.Mode, len(m.Hosts), want)
		}
	}
	if (Privacy{Mode: "hash"}).Validate() == nil || (Privacy{Mode: "x"}).Validate() == nil {
		t.Error("bad privacy accepted")
	}
}

// TestGeoIP builds a tiny MaxMind database and reads countries from it.
func TestGeoIP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.mmdb")
	if err := webstatsfixture.WriteCountryDB(path, map[string]string{"192.0.2.0/24": "DE", "2001:db8::/32": "FR"}); err != nil {
		t.Fatal(err)
	}
	g, err := OpenMaxMind(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	a := New(Options{GeoIP: g})
	for _, c := range []string{"192.0.2.1", "192.0.2.2", "2001:db8::5", "198.51.100.1", "not-an-ip"} {
		a.AddRequest("s", req("2026-10-05T10:00:00Z", c, "/", 200, firefox))
	}
	got := map[string]int64{}
	for _, r := range a.Report("s", 2026, time.October).Countries {
		got[r.Key] = r.Pages
	}
	if got["DE"] != 2 || got["FR"] != 1 || got["Unknown"] != 2 {
		t.Errorf("countries %v", got)
	}
	// The CLI takes the database too.
	var out, errb bytes.Buffer
	log := filepath.Join(t.TempDir(), "a.log")
	os.WriteFile(log, []byte(`192.0.2.1 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "`+firefox+`"`+"\n"), 0o644)
	if code := Main(context.Background(), []string{"-geoip", path, "-format", "json", log}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"DE"`) {
		t.Errorf("cli geoip: %d %s %s", code, errb.String(), out.String())
	}
}

// TestReferrers: search engines and keyphrases, referring sites, and
// links inside the site left out.
func TestReferrers(t *testing.T) {
	a := New(Options{})
	for _, ref := range []string{"https://www.google.com/search?q=Web+Stats", "https://duckduckgo.com/?q=web+stats", "https://yandex.ru/search/?text=%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82",
		"https://www.ecosia.org/search?q=trees", "https://www.bing.com/search?q=x", "https://blog.example.net/post?id=1", "https://s/inside", "%zz"} {
		r := req("2026-10-05T10:00:00Z", "192.0.2.1", "/", 200, firefox)
		r.Referer = ref
		a.AddRequest("s", r)
	}
	r := a.Report("s", 2026, time.October)
	js, _ := json.Marshal(r)
	for _, want := range []string{`"key":"web stats","count":2`, `"key":"привет"`, `"key":"Ecosia"`, `"key":"Yandex"`, `"key":"blog.example.net"`, `"key":"https://blog.example.net/post"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("report lacks %s", want)
		}
	}
	if len(r.RefSites) != 1 {
		t.Errorf("referring sites %+v", r.RefSites)
	}
}

func TestMergeRefusesMismatch(t *testing.T) {
	a := newMonth(MonthKey{"s", 2026, 10}, New(Options{}).defs)
	b := newMonth(MonthKey{"t", 2026, 10}, New(Options{}).defs)
	if a.Merge(b) != ErrMismatch {
		t.Error("merged months of two sites")
	}
	var m Month
	if m.UnmarshalBinary([]byte{9, 1, 2}) == nil || m.UnmarshalBinary(nil) == nil {
		t.Error("decoded garbage")
	}
}

// FuzzAggregate: no line makes the parser or the aggregator panic, and
// every month survives a round trip through its encoding.
func FuzzAggregate(f *testing.F) {
	f.Add(`192.0.2.1 - - [05/Oct/2026:10:00:00 +0000] "GET /a.html?x=1 HTTP/1.1" 200 5 "https://www.google.com/search?q=a" "Mozilla/5.0"`)
	f.Add(`2001:db8::1 - - [31/Oct/2026:23:59:59 -1200] "GET /f.iso HTTP/1.1" 206 999999999999 "-" "-"`)
	f.Add(`vh:443 192.0.2.1 - - [05/Oct/2026:10:00:00 +0000] "GET /robots.txt HTTP/1.1" 404 - "%zz" "curl/8"`)
	f.Add(`192.0.2.1 - - [05/Oct/2026:10:00:00 +0000] "\x16\x03" 400 0 "-" "-"`)
	f.Fuzz(func(t *testing.T, line string) {
		a := New(Options{Privacy: Privacy{Mode: "truncate"}})
		for _, format := range []string{"combined", "vhost_combined", "auto"} {
			ev := logparse.Parse(format, []byte(line), time.Time{}, time.UTC)
			a.Add("", &ev)
		}
		for _, k := range a.Months() {
			r := a.Report(k.Site, k.Year, k.Month)
			// (HTML rendering is left to TestHTMLEscapesLogText: at 7 ms a
			// page it would slow the fuzzer fiftyfold.)
			WriteText(&bytes.Buffer{}, []*Report{r})
			blob, err := a.Month(k).MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var m Month
			if err := m.UnmarshalBinary(blob); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenReport pins the fixture's September report as JSON, so that a
// change in any table shows in review (go test -run Golden -update).
func TestGoldenReport(t *testing.T) {
	_, lines := writeFixture(t, t.TempDir(), fixtureConfig)
	r := aggregate(lines, Options{}).Report(fixtureSite, 2026, time.September)
	got, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "fixture-2026-09.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(append(got, '\n')) != string(want) {
		t.Errorf("report differs from %s (run with -update after checking the change)", golden)
	}
}

func TestManySitesBounded(t *testing.T) {
	a := New(Options{})
	for i := 0; i < maxSites+50; i++ {
		a.AddRequest("site"+strconv.Itoa(i), req("2026-10-05T10:00:00Z", "192.0.2.1", "/", 200, firefox))
	}
	if n := len(a.Months()); n != maxSites+1 {
		t.Errorf("%d months", n)
	}
	if r := a.Report(otherKey, 2026, 10); r == nil || r.Totals.Pages != 50 {
		t.Error("overflow sites not kept together")
	}
}

// TestVhostSites: in a vhost_combined log each line counts for its
// virtual host (without the port), exactly as the lines of that site
// alone count in a combined log.
func TestVhostSites(t *testing.T) {
	_, lines := writeFixture(t, t.TempDir(), fixtureConfig)
	vh := New(Options{SelfHosts: map[string]string{"2001:db8::80": "www.example.com"}})
	bySite := map[string]*Aggregator{"www.example.com": New(Options{}), "2001:db8::80": New(Options{SelfHosts: map[string]string{"2001:db8::80": "www.example.com"}})}
	for i, l := range lines {
		site, prefix := "www.example.com", "www.example.com:443 "
		if i%3 == 0 {
			site, prefix = "2001:db8::80", "[2001:db8::80]:80 "
		}
		ev := logparse.Parse("vhost_combined", []byte(prefix+l), time.Time{}, time.UTC)
		vh.Add("", &ev)
		ev = logparse.Parse("combined", []byte(l), time.Time{}, time.UTC)
		bySite[site].Add(site, &ev)
	}
	if got := fmt.Sprint(vh.Months()); got != "[2001:db8::80 2026-09 2001:db8::80 2026-10 www.example.com 2026-09 www.example.com 2026-10]" {
		t.Fatalf("months %s", got)
	}
	for site, a := range bySite {
		for _, k := range a.Months() {
			want, _ := json.Marshal(a.Report(site, k.Year, k.Month))
			got, _ := json.Marshal(vh.Report(site, k.Year, k.Month))
			if string(got) != string(want) {
				t.Errorf("%s %s: the vhost log's report differs from the site's own lines", site, k.YearMonth())
			}
		}
	}
}

// TestStatsCLINotAccessLog: lines that are not requests are counted and
// shown by example, and a file with none at all is an error, not an
// empty report.
func TestStatsCLINotAccessLog(t *testing.T) {
	dir := t.TempDir()
	mixed := filepath.Join(dir, "mixed.log")
	os.WriteFile(mixed, []byte(`192.0.2.1 - - [05/Oct/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0"
Nov 25 10:00:00 host sshd[1]: Accepted publickey for root
192.0.2.2 - - [05/Oct/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0"
`+"\x1b[31mred\n"), 0o644)
	syslog := filepath.Join(dir, "syslog")
	os.WriteFile(syslog, []byte("Nov 25 10:00:00 host sshd[1]: Accepted publickey for root\n"), 0o644)
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{mixed}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "mixed.log: 2 of 4 lines are not access-log requests (-log-format combined), such as \"Nov 25 10:00:00 host sshd") {
		t.Errorf("mixed: exit %d, %q", code, errb.String())
	}
	if strings.Contains(errb.String(), "\x1b") {
		t.Error("a hostile line reaches the terminal")
	}
	out.Reset()
	errb.Reset()
	if code := Main(context.Background(), []string{syslog}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no access-log requests in 1 file(s): is -log-format combined right?") || out.Len() != 0 {
		t.Errorf("syslog: exit %d, %q, %d bytes out", code, errb.String(), out.Len())
	}
}
