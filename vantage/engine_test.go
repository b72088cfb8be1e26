package vantage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/watchpost/watchpost/vantage/wire"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/uptime"
)

// harness is an engine over a real store and tracker, on a clock the
// test moves, with the collectors' endpoints served over HTTP.
type harness struct {
	t   *testing.T
	e   *Engine
	tr  *uptime.Tracker
	rd  *uptime.Reader
	st  *store.Store
	srv *httptest.Server
	mu  sync.Mutex
	now time.Time
	ran []string // checks the loghost was asked to probe now
}

func newHarness(t *testing.T, checks []config.Check, vc config.Vantages) *harness {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, st: st, now: t0}
	byName := map[string]config.Check{}
	for _, c := range checks {
		byName[c.Name] = c
	}
	h.tr = uptime.New(st.DB(), uptime.Config{Location: time.UTC,
		MaxGap: func(c string) time.Duration {
			return 2*time.Duration(byName[c].Interval) + 2*time.Duration(byName[c].Timeout)
		},
		Public: func(string) bool { return true }})
	h.rd = uptime.NewReader(st.ReadDB(), time.UTC)
	h.e, err = New(context.Background(), Config{DB: st.DB(), Tracker: h.tr, Checks: checks, Vantages: vc, Now: h.clock,
		Auth: func(tok string) (string, bool, bool) {
			host, ok := strings.CutPrefix(tok, "tok-")
			return host, false, ok
		},
		RunLocal: func(c string) bool { h.mu.Lock(); h.ran = append(h.ran, c); h.mu.Unlock(); return true }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.e.Register(mux)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) clock() time.Time { h.mu.Lock(); defer h.mu.Unlock(); return h.now }

func (h *harness) at(d time.Duration) time.Time { return t0.Add(d) }

func (h *harness) set(d time.Duration) { h.mu.Lock(); h.now = t0.Add(d); h.mu.Unlock() }

// push sends lines from the collector at loc and returns the answer.
func (h *harness) push(loc string, lines ...wire.Line) wire.Response {
	h.t.Helper()
	return h.pushWith(loc, nil, lines...)
}

func (h *harness) pushWith(loc string, hdr map[string]string, lines ...wire.Line) wire.Response {
	h.t.Helper()
	var b bytes.Buffer
	for _, l := range lines {
		json.NewEncoder(&b).Encode(l)
	}
	req, _ := http.NewRequest("POST", h.srv.URL+wire.ResultsPath, &b)
	req.Header.Set("Authorization", "Bearer tok-"+loc)
	req.Header.Set(wire.HeaderLocation, loc)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r wire.Response
	if resp.StatusCode != 200 {
		var e map[string]string
		json.NewDecoder(resp.Body).Decode(&e)
		h.t.Fatalf("push from %s: %d %v", loc, resp.StatusCode, e)
	}
	json.NewDecoder(resp.Body).Decode(&r)
	return r
}

// pull asks for loc's assignments, as a collector with version have.
func (h *harness) pull(loc, have string) (int, wire.Assignments) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.srv.URL+wire.AssignmentsPath+"?wait=0", nil)
	req.Header.Set("Authorization", "Bearer tok-"+loc)
	req.Header.Set(wire.HeaderLocation, loc)
	if have != "" {
		req.Header.Set("If-None-Match", `"`+have+`"`)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var a wire.Assignments
	if resp.StatusCode == 200 {
		json.NewDecoder(resp.Body).Decode(&a)
	}
	return resp.StatusCode, a
}

func result(check string, at time.Time, ok bool) wire.Line {
	l := wire.Line{ID: wire.NewID(), Check: check, Time: at, OK: ok, DurationMS: 12}
	if !ok {
		l.Error = "connect: connection refused"
	}
	return l
}

func canaries(at time.Time, ok bool) wire.Line {
	c := wire.CanaryResult{Target: "tcp://192.0.2.53:53", OK: ok}
	if !ok {
		c.Error = "network is unreachable"
	}
	return wire.Line{ID: wire.NewID(), Canary: true, Time: at, Canaries: []wire.CanaryResult{c, {Target: Loghost, OK: true}}}
}

func (h *harness) state(check string) uptime.Current {
	h.t.Helper()
	c, err := h.rd.Current(context.Background(), check)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// outbox lists the outbox rows' kinds (and titles of incident notices).
func (h *harness) outbox() []string {
	h.t.Helper()
	rows, err := h.st.ReadDB().Query(`SELECT kind, payload FROM outbox ORDER BY id`)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k, p string
		rows.Scan(&k, &p)
		if k == "incident" {
			var n struct{ Title, Event string }
			json.Unmarshal([]byte(p), &n)
			k += ":" + n.Event + ":" + n.Title
		}
		out = append(out, k)
	}
	return out
}

var webCheck = config.Check{Name: "web", Type: "http", Target: "http://192.0.2.80/", Interval: config.Duration(10 * time.Second),
	Timeout: config.Duration(2 * time.Second), Public: true, Vantages: []string{"a", "b", "c"}}

// everyone reports a good round and a result at d.
func (h *harness) allUp(d time.Duration, locs ...string) {
	h.set(d)
	for _, loc := range locs {
		h.push(loc, canaries(h.at(d), true), result("web", h.at(d), true))
	}
}

func TestQuorum(t *testing.T) {
	h := newHarness(t, []config.Check{webCheck}, config.Vantages{})
	for s := 0; s <= 20; s += 10 {
		h.allUp(time.Duration(s)*time.Second, "a", "b", "c")
	}
	if c := h.state("web"); c.Status != uptime.Up {
		t.Fatalf("state %v", c.Status)
	}
	versions := map[string]string{}
	for _, loc := range []string{"a", "b", "c"} {
		_, cur := h.pull(loc, "")
		versions[loc] = cur.Version
		if len(cur.Checks) != 1 || cur.Checks[0].Name != "web" {
			t.Fatalf("assignments of %s: %+v", loc, cur)
		}
		if code, _ := h.pull(loc, cur.Version); code != http.StatusNotModified {
			t.Fatalf("unchanged: %d", code)
		}
	}
	// a's first failure asks everyone for a second opinion.
	h.set(31 * time.Second)
	h.push("a", result("web", h.at(30*time.Second), false), canaries(h.at(30500*time.Millisecond), true))
	for _, loc := range []string{"a", "b", "c"} {
		code, a := h.pull(loc, versions[loc])
		if code != 200 || strings.Join(a.RunNow, ",") != "web" || !a.Unchanged {
			t.Fatalf("%s: %d %+v", loc, code, a)
		}
	}
	h.set(32 * time.Second)
	h.push("b", result("web", h.at(31500*time.Millisecond), true))
	h.push("c", result("web", h.at(31500*time.Millisecond), true))
	h.push("a", result("web", h.at(31600*time.Millisecond), false))
	if c := h.state("web"); c.Status != uptime.Degraded {
		t.Fatalf("one of three: state %v, want degraded", c.Status)
	}
	if note := h.e.PublicNote("web"); note != "partial outage (seen from 1 of 3 locations)" {
		t.Errorf("note %q", note)
	}
	// b fails too: down, counted from b's first failure, confirmed by
	// its second opinion.
	for s := 40; s <= 50; s += 10 {
		h.set(time.Duration(s) * time.Second)
		h.push("a", result("web", h.at(time.Duration(s)*time.Second), false))
		h.push("c", result("web", h.at(time.Duration(s)*time.Second), true))
	}
	first := h.at(51 * time.Second)
	h.set(52 * time.Second)
	h.push("b", result("web", first, false), canaries(h.at(51500*time.Millisecond), true))
	if c := h.state("web"); c.Status == uptime.Down {
		t.Fatal("down on one failure of the second vantage")
	}
	h.set(53 * time.Second)
	h.push("b", result("web", h.at(52500*time.Millisecond), false))
	c := h.state("web")
	if c.Status != uptime.Down || !c.Since.Equal(first) {
		t.Fatalf("two of three: %v since %v, want down since b's first failure %v", c.Status, c.Since.Sub(t0), first.Sub(t0))
	}
	if !strings.Contains(c.Detail, "down from a, b (2 of 3 locations)") {
		t.Errorf("detail %q", c.Detail)
	}
	var downs int
	for _, k := range h.outbox() {
		if k == "check_down" {
			downs++
		}
	}
	if downs != 1 {
		t.Errorf("outbox %v: want one check_down", h.outbox())
	}
	ins, _ := h.rd.Incidents(context.Background(), false, 10)
	if len(ins) != 1 || !ins[0].Started.Equal(first) {
		t.Fatalf("incidents %+v", ins)
	}
}

// A vantage whose canaries fail is impaired: one notice, and its
// failures count for nothing.
func TestImpairedVantage(t *testing.T) {
	h := newHarness(t, []config.Check{webCheck}, config.Vantages{})
	for s := 0; s <= 20; s += 10 {
		h.allUp(time.Duration(s)*time.Second, "a", "b", "c")
	}
	for s := 30; s <= 90; s += 10 {
		d := time.Duration(s) * time.Second
		h.set(d)
		h.push("a", result("web", h.at(d), false), canaries(h.at(d+time.Second), false))
		h.push("b", result("web", h.at(d), true))
		h.push("c", result("web", h.at(d), true))
		h.e.Tick(context.Background())
	}
	if c := h.state("web"); c.Status != uptime.Up {
		t.Fatalf("state %v: an impaired vantage's failures counted", c.Status)
	}
	var notices []string
	for _, k := range h.outbox() {
		if strings.HasPrefix(k, "incident:") {
			notices = append(notices, k)
		}
		if k == "check_down" || k == "check_degraded" {
			t.Errorf("check alert %s", k)
		}
	}
	if len(notices) != 1 || notices[0] != "incident:opened:vantage a is impaired" {
		rows, _ := h.st.ReadDB().Query(`SELECT kind, payload FROM outbox`)
		for rows.Next() {
			var k, p string
			rows.Scan(&k, &p)
			t.Log(k, p)
		}
		t.Fatalf("notices %v", notices)
	}
	view := h.e.Check("web")
	if len(view.Vantages) != 3 || view.Vantages[0].Counts || !strings.Contains(view.Vantages[0].Why, "impaired") {
		t.Errorf("grid %+v", view.Vantages)
	}
	// Back: the notice is resolved.
	h.set(100 * time.Second)
	h.push("a", canaries(h.at(100*time.Second), true), result("web", h.at(100*time.Second), true))
	if got := h.outbox(); !strings.HasPrefix(got[len(got)-1], "incident:resolved:") {
		rows, _ := h.st.ReadDB().Query(`SELECT kind, payload FROM outbox`)
		for rows.Next() {
			var k, p string
			rows.Scan(&k, &p)
			t.Log(k, p)
		}
		t.Errorf("outbox %v", got)
	}
}

// A vantage offline for a while sends what it kept: each result counts
// once, late ones fill the time nobody saw and change no incident.
func TestLateResultsExactlyOnce(t *testing.T) {
	h := newHarness(t, []config.Check{webCheck}, config.Vantages{})
	for s := 0; s <= 20; s += 10 {
		h.allUp(time.Duration(s)*time.Second, "a", "b", "c")
	}
	// Everyone goes silent for ten minutes (the loghost was cut off);
	// they kept probing, and saw the target down from 2 to 5 minutes.
	var kept map[string][]wire.Line = map[string][]wire.Line{}
	for s := 30; s < 630; s += 10 {
		d := time.Duration(s) * time.Second
		ok := d < 2*time.Minute || d >= 5*time.Minute
		for _, loc := range []string{"a", "b", "c"} {
			kept[loc] = append(kept[loc], canaries(h.at(d), true), result("web", h.at(d), ok))
		}
	}
	h.set(630 * time.Second)
	h.e.Tick(context.Background())
	// Back: fresh results first (they are live), then the spools.
	h.allUp(630*time.Second, "a", "b", "c")
	h.set(640 * time.Second)
	for _, loc := range []string{"a", "b", "c"} {
		r := h.push(loc, kept[loc]...)
		if r.Stored != len(kept[loc]) || r.Duplicates != 0 {
			t.Fatalf("%s: %+v", loc, r)
		}
		// The answer was lost; the collector sends the same again.
		if r := h.push(loc, kept[loc]...); r.Stored != 0 || r.Duplicates != len(kept[loc]) {
			t.Fatalf("%s again: %+v", loc, r)
		}
	}
	var n int
	h.st.ReadDB().QueryRow(`SELECT count(*) FROM vantage_results WHERE check_name = 'web'`).Scan(&n)
	if want := 3 * (3 + 60 + 1); n != want {
		t.Errorf("%d results stored, want %d", n, want)
	}
	h.allUp(650*time.Second, "a", "b", "c")
	if err := h.e.Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, k := range h.outbox() {
		if k == "check_down" {
			t.Errorf("late results opened an incident: %v", h.outbox())
		}
	}
	days, _ := h.rd.Days(context.Background(), "web", 1, h.clock())
	d := days[0]
	// The gap (from 2 intervals and 2 timeouts after the last result to
	// the first after it) is filled: 3 minutes down (2:00-5:00 as the
	// vantages saw it), the rest up; little is left unknown.
	if d.Down < 170*1000 || d.Down > 190*1000 || d.Unknown > 1000 {
		t.Errorf("day %+v: want about 180 s down, nothing unknown", d)
	}
	// Settling again fills nothing twice.
	before := d
	h.e.Settle(context.Background())
	days, _ = h.rd.Days(context.Background(), "web", 1, h.clock())
	if days[0] != before {
		t.Errorf("filled twice: %+v then %+v", before, days[0])
	}
}

// The loghost's own canaries fail: its failures do not count, nobody is
// alerted, and one summary comes when it is back and the vantages'
// results of that time are in.
func TestLoghostOutageSummary(t *testing.T) {
	all := webCheck
	all.Vantages = nil
	h := newHarness(t, []config.Check{all}, config.Vantages{Canaries: []string{"tcp://192.0.2.53:53"}})
	lh := func(d time.Duration, ok bool) {
		h.e.takeRound(context.Background(), Loghost, wire.Line{ID: wire.NewID(), Canary: true, Time: h.at(d),
			Canaries: []wire.CanaryResult{{Target: "tcp://192.0.2.53:53", OK: ok}}}, h.clock())
	}
	local := func(d time.Duration, ok bool) {
		r := result("web", h.at(d), ok)
		h.e.observe(context.Background(), Loghost, r, h.clock())
	}
	for s := 0; s <= 20; s += 10 {
		d := time.Duration(s) * time.Second
		h.allUp(d, "a", "b", "c")
		lh(d, true)
		local(d, true)
	}
	kept := map[string][]wire.Line{}
	for s := 30; s < 330; s += 10 {
		d := time.Duration(s) * time.Second
		h.set(d)
		local(d, false)
		lh(d+time.Second, false)
		h.e.Tick(context.Background())
		for _, loc := range []string{"a", "b", "c"} {
			kept[loc] = append(kept[loc], canaries(h.at(d), true), result("web", h.at(d), true))
		}
	}
	for _, k := range h.outbox() {
		if k == "check_down" || k == "check_degraded" {
			t.Fatalf("alert while the loghost was cut off: %v", h.outbox())
		}
	}
	h.set(330 * time.Second)
	lh(330*time.Second, true)
	local(330*time.Second, true)
	if err := h.e.Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, k := range h.outbox() {
		if strings.Contains(k, "loghost unreachable") {
			t.Fatalf("summary before the vantages' results came: %v", h.outbox())
		}
	}
	// Their spools drain, oldest first.
	h.set(335 * time.Second)
	for _, loc := range []string{"a", "b", "c"} {
		h.push(loc, kept[loc]...)
	}
	h.allUp(340*time.Second, "a", "b", "c")
	if err := h.e.Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.e.Settle(context.Background())
	var summaries []string
	for _, k := range h.outbox() {
		if strings.Contains(k, "loghost unreachable") {
			summaries = append(summaries, k)
		}
		if k == "check_down" || k == "check_degraded" {
			t.Errorf("check alert: %v", h.outbox())
		}
	}
	want := fmt.Sprintf("incident:opened:loghost unreachable %s–%s; 0 checks changed state meanwhile", h.at(31*time.Second).Format("15:04"), h.at(330*time.Second).Format("15:04 MST"))
	if len(summaries) != 1 || summaries[0] != want {
		t.Fatalf("summaries %v, want %q", summaries, want)
	}
	days, _ := h.rd.Days(context.Background(), "web", 1, h.clock())
	if d := days[0]; d.Down != 0 || d.Unknown > 1000 || d.Up < 330*1000 {
		t.Errorf("day %+v: want the vantages' view, up", d)
	}
}

// A vantage whose clock is behind has its results moved by what it
// measured; one that names another host's location is refused.
func TestClockOffsetAndLocations(t *testing.T) {
	h := newHarness(t, []config.Check{webCheck}, config.Vantages{})
	h.set(3 * time.Minute)
	r := result("web", h.at(time.Minute), true)
	h.pushWith("a", map[string]string{wire.HeaderOffset: "120000"}, r)
	var at int64
	h.st.ReadDB().QueryRow(`SELECT time FROM vantage_results WHERE id = ?`, r.ID).Scan(&at)
	if got := time.Unix(0, at); !got.Equal(h.at(3 * time.Minute)) {
		t.Errorf("stored at %v, want moved by the offset to %v", got.Sub(t0), 3*time.Minute)
	}
	for _, v := range h.e.Vantages() {
		if v.Location == "a" && v.Skew != -2*time.Minute {
			t.Errorf("skew %v", v.Skew)
		}
	}
	// Host b claims a's location while a is alive.
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(result("web", h.at(3*time.Minute), true))
	req, _ := http.NewRequest("POST", h.srv.URL+wire.ResultsPath, &b)
	req.Header.Set("Authorization", "Bearer tok-b")
	req.Header.Set(wire.HeaderLocation, "a")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("a second host at a location: %s", resp.Status)
	}
	// No token, a bad one, a reserved location.
	for _, c := range []struct{ tok, loc string }{{"", "a"}, {"nope", "a"}, {"tok-a", "loghost"}, {"tok-a", "x y"}} {
		req, _ := http.NewRequest("GET", h.srv.URL+wire.AssignmentsPath, nil)
		if c.tok != "" {
			req.Header.Set("Authorization", "Bearer "+c.tok)
		}
		req.Header.Set(wire.HeaderLocation, c.loc)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e map[string]string
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || e["error"] == "" {
			t.Errorf("%+v: %s %v", c, resp.Status, e)
		}
	}
}
