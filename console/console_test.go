package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/heartbeat"
	"github.com/watchpost/watchpost/maintenance"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/subscribe"
	"github.com/watchpost/watchpost/uptime"
)

const hostile = "<script>alert(1)</script>\x1b[31m"

type fakeRunner struct {
	mu  sync.Mutex
	ran []string
}

func (f *fakeRunner) RunNow(c string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, c)
	return c == "wiki"
}

type env struct {
	t      *testing.T
	srv    *httptest.Server
	client *http.Client
	st     *store.Store
	tr     *uptime.Tracker
	runner *fakeRunner
	beats  *heartbeat.Service
	now    time.Time
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func setup(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, runner: &fakeRunner{}, now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	now := func() time.Time { return e.now }
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	auth, err := dashboard.NewAuth(dashboard.AuthConfig{AdminTokens: []string{"console-test-token-0123"},
		Users: []dashboard.User{{Name: "alice", PasswordHash: string(hash)}}, SessionKey: []byte(strings.Repeat("k", 32))}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.tr = uptime.New(st.DB(), uptime.Config{Location: time.UTC, FailThresholdFor: func(string) int { return 1 },
		Public: func(c string) bool { return c == "wiki" || c == "backup" }})
	if err := e.tr.LoadPauses(ctx); err != nil {
		t.Fatal(err)
	}
	beats, err := heartbeat.New(st.DB(), e.tr, []heartbeat.Heartbeat{{Name: "backup", ID: "hb-secret-0123456789", Period: 24 * time.Hour, Grace: time.Hour}}, now, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	beats.Pauses = e.tr
	e.beats = beats
	cfg, err := config.Parse("w.yml", []byte(`storage: {path: w.db}
checks:
  - {name: wiki, type: http, target: "https://user:pw@wiki.example.org/", public: true, group: Web, labels: {host: web1}}
  - {name: db, type: tcp, target: "127.0.0.1:5432"}
heartbeats:
  - {name: backup, id: hb-secret-0123456789, period: 24h, public: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	ms := maintenance.NewSet(st.DB(), time.UTC)
	ms.OnChange = e.tr.SetMaintenance
	ms.SetConfig(cfg)
	cat := Catalog{Checks: []Check{
		{Name: "wiki", Kind: "check", Type: "http", Target: "https://…@wiki.example.org/", Group: "Web", Public: true, Interval: time.Minute,
			Labels: map[string]string{"host": "web1"}, Conditions: []string{"status == 200"}},
		{Name: "db", Kind: "check", Type: "tcp", Target: "127.0.0.1:5432", Interval: time.Minute},
		{Name: "backup", Kind: "heartbeat", Type: "heartbeat", Public: true, Interval: 24 * time.Hour},
	}}
	c := New(Deps{Auth: auth, DB: st.DB(), ReadDB: st.ReadDB(), Reader: uptime.NewReader(st.ReadDB(), time.UTC), Tracker: e.tr,
		Runner: e.runner, Beats: beats, Maintenance: ms, Subscribers: &subscribe.Store{DB: st.DB(), Key: []byte(strings.Repeat("s", 32))},
		Catalog: func() Catalog { return cat }, PublicURL: func() string { return "https://status.example.org" }, Location: time.UTC, Now: now,
		Logs: func(ctx context.Context, q string, since, until time.Time, limit int) ([]dashboard.LogRow, error) {
			return []dashboard.LogRow{{Time: e.now, Host: "web1", Program: "kernel" + hostile, Line: "Out of memory: " + hostile}}, nil
		}})
	mux := http.NewServeMux()
	dashboard.NewUI(auth, dashboard.UIDeps{}, nil).Register(mux)
	c.Register(mux)
	mux.Handle("/ping/", beats)
	e.srv = httptest.NewServer(dashboard.SecurityHeaders(mux))
	t.Cleanup(e.srv.Close)
	jar, _ := cookiejar.New(nil)
	e.client = &http.Client{Jar: jar}
	// Sign in through the real form.
	body := e.get("/admin/login", 200)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("login page: %s", body)
	}
	resp, err := e.client.PostForm(e.srv.URL+"/admin/login", url.Values{"user": {"alice"}, "password": {"correct horse"}, "csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return e
}

func (e *env) get(path string, code int) string {
	e.t.Helper()
	resp, err := e.client.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != code {
		e.t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, code, b)
	}
	return string(b)
}

// post submits a form of the page at from, with its CSRF token, and
// returns the page it leads to.
func (e *env) post(from, action string, form url.Values) string {
	e.t.Helper()
	m := csrfRE.FindStringSubmatch(e.get(from, 200))
	if m == nil {
		e.t.Fatalf("no form on %s", from)
	}
	form.Set("csrf", m[1])
	resp, err := e.client.PostForm(e.srv.URL+action, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("POST %s: %d %s", action, resp.StatusCode, b)
	}
	return string(b)
}

func (e *env) api(method, path, body string, out any) int {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer console-test-token-0123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func noRawHostile(t *testing.T, page, body string) {
	t.Helper()
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "\x1b") {
		t.Errorf("%s: hostile text unescaped", page)
	}
}

// TestChecksPages: every check and heartbeat, private ones too, with
// state, last result and counts; pause (no probe, unknown in uptime),
// run now, resume and silence from the page and the API.
func TestChecksPages(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	obs := func(check string, ok bool, at time.Time) {
		o := uptime.Observation{Check: check, Time: at, OK: ok, Duration: 80 * time.Millisecond, Error: map[bool]string{false: "dial: " + hostile}[ok],
			Conditions: []uptime.Condition{{Condition: "status == 200", OK: ok, Detail: "status 503 " + hostile}}}
		if _, err := e.tr.Observe(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		obs("wiki", true, e.now.Add(time.Duration(i-10)*time.Minute))
	}
	obs("db", false, e.now.Add(-time.Minute))
	resp, _ := http.Post(e.srv.URL+"/ping/hb-secret-0123456789", "text/plain", strings.NewReader(hostile))
	if resp != nil {
		resp.Body.Close()
	}
	page := e.get("/admin/checks", 200)
	noRawHostile(t, "checks", page)
	for _, want := range []string{"<title>Checks: 1 down, 2 up · Watchpost admin</title>", `href="/admin/checks/db"`, "private",
		"✗ status == 200", "&lt;script&gt;", `src="/admin/console/static/console.js"`} {
		if !strings.Contains(page, want) {
			t.Errorf("checks page lacks %q", want)
		}
	}
	if down := e.get("/admin/checks?state=down", 200); strings.Contains(down, `href="/admin/checks/wiki"`) || !strings.Contains(down, `href="/admin/checks/db"`) {
		t.Error("filter down shows wiki or hides db")
	}
	// Pause wiki from its page: no probe, run now refused, state paused.
	got := e.post("/admin/checks/wiki", "/admin/checks/wiki/pause", url.Values{"for": {"2h"}})
	if !strings.Contains(got, "Paused for 2h.") || !strings.Contains(got, "paused by alice") {
		t.Fatalf("after pause: %s", got)
	}
	if _, paused := e.tr.Paused("wiki", e.now.Add(time.Hour)); !paused {
		t.Fatal("not paused")
	}
	if got := e.post("/admin/checks/wiki", "/admin/checks/wiki/run", url.Values{}); !strings.Contains(got, "resume it first") {
		t.Error("run now on a paused check was not refused")
	}
	e.post("/admin/checks/wiki", "/admin/checks/wiki/resume", url.Values{})
	if got := e.post("/admin/checks/wiki", "/admin/checks/wiki/run", url.Values{}); !strings.Contains(got, "Probe started") || len(e.runner.ran) != 1 {
		t.Errorf("run now: %v", e.runner.ran)
	}
	if got := e.post("/admin/checks", "/admin/checks/db/silence", url.Values{"for": {"1h"}, "back": {"list"}}); !strings.Contains(got, "Silenced for 1h") {
		t.Error("silence from the list")
	}
	ss, _ := alerting.ListSilences(ctx, e.st.ReadDB(), e.now, false)
	if len(ss) != 1 || ss[0].Matchers[0].String() != `check="db"` || ss[0].Author != "alice" {
		t.Errorf("silences %+v", ss)
	}
	// The heartbeat's page: its pings, escaped; no response-time graph.
	hb := e.get("/admin/checks/backup", 200)
	noRawHostile(t, "heartbeat", hb)
	if !strings.Contains(hb, `class="rt pings"`) || strings.Contains(hb, "Response time") || !strings.Contains(hb, "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31m") {
		t.Errorf("heartbeat page: %s", hb)
	}
	// The check's page: conditions, chart, target without its password.
	wiki := e.get("/admin/checks/wiki", 200)
	if !strings.Contains(wiki, `class="rt console"`) || strings.Contains(wiki, "user:pw") || !strings.Contains(wiki, "status == 200") {
		t.Errorf("check page: %s", wiki)
	}
	e.get("/admin/checks/nonesuch", 404)
	// The API: pause a heartbeat with a token, list, filter.
	var res map[string]string
	if code := e.api("POST", "/api/v1/checks/backup/pause", `{"duration":"30m"}`, &res); code != 200 || res["result"] != "Paused for 30m." {
		t.Errorf("api pause: %d %v", code, res)
	}
	if code := e.api("POST", "/api/v1/checks/backup/pause", `{}`, nil); code != 409 {
		t.Errorf("pause twice: %d", code)
	}
	if code := e.api("POST", "/api/v1/checks/backup/run", `{}`, nil); code != 409 {
		t.Errorf("run a heartbeat: %d", code)
	}
	if code := e.api("POST", "/api/v1/checks/wiki/explode", `{}`, nil); code != 404 {
		t.Errorf("unknown action: %d", code)
	}
	if code := e.api("POST", "/api/v1/checks/wiki/pause", `{"duration":"soon"}`, nil); code != 400 {
		t.Errorf("bad duration: %d", code)
	}
	var list struct {
		Counts counts `json:"counts"`
		Checks []row  `json:"checks"`
	}
	if code := e.api("GET", "/api/v1/checks?state=paused", "", &list); code != 200 || len(list.Checks) != 1 || list.Checks[0].Name != "backup" || list.Counts.Paused != 1 {
		t.Errorf("api list: %d %+v", code, list)
	}
	if code := e.api("GET", "/api/v1/checks/backup", "", nil); code != 200 {
		t.Errorf("api detail: %d", code)
	}
}

// TestIncidentPage: the timeline, the deliveries per receiver, the
// host's log lines (escaped) and the actions; manual incidents from the
// API and the form.
func TestIncidentPage(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	tx, _ := e.st.DB().Begin()
	id, _, err := alerting.Fire(ctx, tx, alerting.RuleAlert("critical", "OOM on web1 "+hostile, map[string]string{"host": "web1"}, e.now,
		map[string]string{"Title": "oom", "Line": "kernel: Out of memory " + hostile}))
	if err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	// One delivery sent, one retrying, as the dispatcher records them.
	var outbox int64
	e.st.DB().QueryRow(`SELECT id FROM outbox LIMIT 1`).Scan(&outbox)
	e.st.DB().Exec(`UPDATE outbox SET sent = ? WHERE id = ?`, e.now.UnixNano(), outbox)
	e.st.DB().Exec(`INSERT INTO deliveries(outbox_id, receiver, sent, attempts) VALUES(?, 'email', ?, 1)`, outbox, e.now.UnixNano())
	e.st.DB().Exec(`INSERT INTO deliveries(outbox_id, receiver, attempts, next_try, last_error) VALUES(?, 'matrix', 2, ?, 'M_LIMIT_EXCEEDED')`, outbox, e.now.Add(time.Minute).UnixNano())
	path := "/admin/incidents/" + itoa(id)
	page := e.get(path, 200)
	noRawHostile(t, "incident", page)
	for _, want := range []string{"Rule alert (opened)", "M_LIMIT_EXCEEDED", ">retrying<", ">sent<", "Out of memory: &lt;script&gt;", "What the rule matched",
		`name="op" value="ack"`, `/admin/silences?incident=`} {
		if !strings.Contains(page, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if got := e.post(path, path+"/update", url.Values{"op": {"ack"}}); !strings.Contains(got, "Acknowledged by alice") {
		t.Error("ack")
	}
	if got := e.post(path, path+"/update", url.Values{"op": {"update"}, "status": {"identified"}, "message": {"Leaking <cache>."}}); !strings.Contains(got, "Public update: identified") || !strings.Contains(got, "Leaking &lt;cache&gt;.") {
		t.Error("update")
	}
	if got := e.post(path, path+"/update", url.Values{"op": {"resolve"}}); !strings.Contains(got, "Resolved by alice") {
		t.Error("resolve")
	}
	// Silence similar: the form is filled from the incident's labels.
	if sil := e.get("/admin/silences?incident="+itoa(id), 200); !strings.Contains(sil, "host=web1") || !strings.Contains(sil, "source=rule") || strings.Contains(sil, "severity=") {
		t.Errorf("silence form: %s", sil)
	}
	var v incidentView
	if code := e.api("GET", "/api/v1/incidents/"+itoa(id), "", &v); code != 200 || len(v.Notifications) != 2 || len(v.Notifications[0].Deliveries) != 2 {
		t.Errorf("api incident: %d %+v", code, v)
	}
	// Manual incidents.
	var in alerting.IncidentInfo
	if code := e.api("POST", "/api/v1/incidents", `{"title":"Mail delays","components":["wiki"],"status":"identified","message":"Queue backlog."}`, &in); code != 201 ||
		in.Source != "manual" || !in.Public || len(in.Components) != 1 || in.URL != "https://status.example.org/admin/incidents/"+itoa(in.ID) {
		t.Fatalf("manual: %d %+v", code, in)
	}
	for _, bad := range []string{`{"title":"x","components":["db"],"message":"m"}`, `{"title":"","message":"m"}`, `{"title":"x","status":"resolved","message":"m"}`, `{"title":"x","message":"m","extra":1}`} {
		if code := e.api("POST", "/api/v1/incidents", bad, nil); code != 400 {
			t.Errorf("%s: %d", bad, code)
		}
	}
	got := e.post("/admin/incidents/new", "/admin/incidents/new", url.Values{"title": {"Planned <move>"}, "status": {"monitoring"}, "message": {"We moved."}, "component": {"backup"}})
	if !strings.Contains(got, "Incident opened") || !strings.Contains(got, "Planned &lt;move&gt;") {
		t.Errorf("manual form: %s", got)
	}
	var notices int
	e.st.ReadDB().QueryRow(`SELECT count(*) FROM outbox WHERE kind = 'status_notice'`).Scan(&notices)
	if notices != 2 {
		t.Errorf("%d status notices, want 2 (one per manual incident)", notices)
	}
}

func itoa(n int64) string { return jsonInt(n) }

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestMaintenanceAndSubscribers: windows from the page and the API,
// listed with the configuration's, cancelled; subscribers listed and
// removed.
func TestMaintenanceAndSubscribers(t *testing.T) {
	e := setup(t)
	got := e.post("/admin/maintenance", "/admin/maintenance", url.Values{"name": {"wiki upgrade"}, "kind": {"once"}, "start": {"2026-12-08T02:00"},
		"end": {"2026-12-08T04:00"}, "check": {"wiki"}, "description": {"Read-only <b>wiki</b>."}})
	if !strings.Contains(got, "Window #1 (wiki upgrade) stored.") || !strings.Contains(got, "Read-only &lt;b&gt;wiki&lt;/b&gt;.") {
		t.Fatalf("maintenance page: %s", got)
	}
	if got := e.post("/admin/maintenance", "/admin/maintenance", url.Values{"name": {"x"}, "kind": {"recurring"}, "schedule": {"bogus"}, "duration": {"1h"}}); !strings.Contains(got, "Not created") {
		t.Error("bad schedule accepted")
	}
	var w map[string]any
	if code := e.api("POST", "/api/v1/maintenance", `{"name":"nightly","schedule":"0 3 * * *","duration":"30m","hosts":["web1"]}`, &w); code != 201 || w["duration"] != "30m0s" {
		t.Fatalf("api create: %d %v", code, w)
	}
	var list []map[string]any
	e.api("GET", "/api/v1/maintenance", "", &list)
	if len(list) != 2 || list[0]["public"] != true {
		t.Errorf("list %v", list)
	}
	if code := e.api("DELETE", "/api/v1/maintenance/2", "", nil); code != 200 {
		t.Errorf("cancel: %d", code)
	}
	if code := e.api("DELETE", "/api/v1/maintenance/2", "", nil); code != 404 {
		t.Errorf("cancel twice: %d", code)
	}
	subs := &subscribe.Store{DB: e.st.DB(), Key: []byte(strings.Repeat("s", 32))}
	if err := subs.Subscribe(context.Background(), "ana@example.org", nil, e.now); err != nil {
		t.Fatal(err)
	}
	page := e.get("/admin/subscribers", 200)
	if !strings.Contains(page, "ana@example.org") || !strings.Contains(page, "0 confirmed, 1 waiting") {
		t.Errorf("subscribers page: %s", page)
	}
	if got := e.post("/admin/subscribers", "/admin/subscribers/1/remove", url.Values{}); strings.Contains(got, "ana@example.org") {
		t.Error("not removed")
	}
	if code := e.api("DELETE", "/api/v1/subscribers/1", "", nil); code != 404 {
		t.Errorf("remove twice: %d", code)
	}
	// The API refuses without a token; the pages send to the login.
	resp, _ := http.Get(e.srv.URL + "/api/v1/checks")
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("api without token: %d", resp.StatusCode)
	}
}

// TestStateInBackup: what the console changes lives in the store, so
// `watchpost backup` (a copy of it) holds it: pauses, silences,
// maintenance windows, manual incidents, subscribers.
func TestStateInBackup(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.api("POST", "/api/v1/checks/db/pause", `{}`, nil)
	e.api("POST", "/api/v1/checks/wiki/silence", `{"duration":"1h"}`, nil)
	e.api("POST", "/api/v1/maintenance", `{"name":"m","schedule":"0 3 * * *","duration":"1h"}`, nil)
	e.api("POST", "/api/v1/incidents", `{"title":"t","message":"m"}`, nil)
	(&subscribe.Store{DB: e.st.DB(), Key: []byte(strings.Repeat("s", 32))}).Subscribe(ctx, "ana@example.org", nil, e.now)
	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := e.st.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	b, err := store.Open(ctx, store.Options{Path: dest, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, q := range []string{`SELECT count(*) FROM check_pause WHERE check_name = 'db'`, `SELECT count(*) FROM silences`,
		`SELECT count(*) FROM maintenance_windows`, `SELECT count(*) FROM incidents WHERE source = 'manual'`, `SELECT count(*) FROM subscribers`} {
		var n int
		if err := b.ReadDB().QueryRow(q).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s: %d %v", q, n, err)
		}
	}
}
