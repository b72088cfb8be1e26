package subscribe

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/uptime"
)

type fakeMailer struct {
	mu   sync.Mutex
	got  []Mail
	fail int // fail this many sends first
}

func (f *fakeMailer) Send(_ context.Context, m Mail) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return errors.New("451 try later")
	}
	f.got = append(f.got, m)
	return nil
}

func (f *fakeMailer) to(addr string) []Mail {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Mail
	for _, m := range f.got {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{"Ana@Example.ORG": "Ana@example.org", " bo@x.test ": "bo@x.test"} {
		if got, err := NormalizeAddress(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "ana", "Ana <ana@x.org>", "a@b@c", "ana@x.org, bo@y.org", "ana@x.org\r\nBcc: e@v.il", "@x.org", "ana@.x", strings.Repeat("a", 250) + "@x.org"} {
		if _, err := NormalizeAddress(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

var linkRE = regexp.MustCompile(`https://status\.example\.org(/[^\s]+)`)

// TestDoubleOptIn: an unconfirmed address gets the confirmation only
// (once an hour at most, however often the form is sent); once confirmed
// it gets one message per public incident event of its components, none
// of private incidents or other components, delivered after a failed
// attempt is retried; after unsubscribing, nothing.
func TestDoubleOptIn(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := &Store{DB: s.DB(), Key: []byte("0123456789abcdef0123456789abcdef")}
	mailer := &fakeMailer{}
	snd := &Sender{Store: st, Mailer: mailer, PublicURL: "https://status.example.org", Title: "Example", Now: clock}
	h := &Handler{Store: st, Title: "Example", Components: func() []string { return []string{"wiki", "shop"} }, Now: clock}
	mux := http.NewServeMux()
	h.Register(mux)
	post := func(path string, form url.Values) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		mux.ServeHTTP(w, r)
		return w
	}
	if w := post("/subscribe", url.Values{"email": {"ana@example.org"}, "component": {"wiki"}}); w.Code != 200 || !strings.Contains(w.Body.String(), "Check your mailbox") {
		t.Fatalf("subscribe: %d %s", w.Code, w.Body)
	}
	if w := post("/subscribe", url.Values{"email": {"ana@example.org"}, "component": {"nonesuch"}}); w.Code != 400 {
		t.Errorf("unknown component: %d", w.Code)
	}
	if w := post("/subscribe", url.Values{"email": {"<script>"}}); w.Code != 400 || strings.Contains(w.Body.String(), "<script>") {
		t.Errorf("bad address: %d", w.Code)
	}
	post("/subscribe", url.Values{"email": {"ana@example.org"}, "component": {"wiki"}}) // again: no second mail
	post("/subscribe", url.Values{"email": {"bo@example.org"}})                         // never confirms
	// A public incident of wiki opens before anyone confirmed.
	openIncident := func(check string, public bool) int64 {
		tx, _ := s.DB().Begin()
		res, _ := tx.Exec(`INSERT INTO incidents(check_name, title, public, started) VALUES(?,?,?,?)`, check, check+" is down", public, now.UnixNano())
		id, _ := res.LastInsertId()
		tx.Exec(`INSERT INTO incident_updates(incident_id, time, status, message) VALUES(?,?,?,?)`, id, now.UnixNano(), "investigating", "Looking <into> it.")
		if public {
			uptime.StatusNotice(ctx, tx, now, id, "opened")
		}
		tx.Commit()
		return id
	}
	wiki := openIncident("wiki", true)
	if err := snd.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(mailer.to("ana@example.org")); n != 1 {
		t.Fatalf("ana got %d messages before confirming, want the confirmation only", n)
	}
	if n := len(mailer.to("bo@example.org")); n != 1 {
		t.Fatalf("bo got %d", n)
	}
	conf := mailer.to("ana@example.org")[0]
	if conf.Unsubscribe != "" || !strings.Contains(conf.Subject, "Confirm") {
		t.Errorf("confirmation %+v", conf)
	}
	link := linkRE.FindStringSubmatch(conf.Text)
	if link == nil {
		t.Fatalf("no link in %s", conf.Text)
	}
	u, _ := url.Parse(link[1])
	// GET only shows a button; POST confirms. A forged token does not.
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", link[1], nil))
	if !strings.Contains(w.Body.String(), `action="/subscribe/confirm"`) {
		t.Fatalf("confirm page: %s", w.Body)
	}
	if w := post("/subscribe/confirm", url.Values{"t": {u.Query().Get("t") + "x"}}); w.Code != 404 {
		t.Errorf("forged token: %d", w.Code)
	}
	if w := post("/subscribe/confirm", url.Values{"t": {u.Query().Get("t")}}); w.Code != 200 {
		t.Fatalf("confirm: %d %s", w.Code, w.Body)
	}
	// Updates, a private incident, another component; one failed send.
	mailer.fail = 1
	tx, _ := s.DB().Begin()
	uptime.StatusNotice(ctx, tx, now, wiki, "update")
	tx.Commit()
	openIncident("db", false)
	openIncident("shop", true)
	snd.Step(ctx)
	now = now.Add(2 * time.Minute)
	snd.Step(ctx)
	got := mailer.to("ana@example.org")
	if len(got) != 2 || !strings.Contains(got[1].Subject, "Update: wiki is down") || !strings.Contains(got[1].Text, "Looking <into> it.") || got[1].Unsubscribe == "" {
		t.Fatalf("ana got %d: %+v", len(got), got)
	}
	// Unsubscribe through the message's link: nothing more.
	unsub, _ := url.Parse(got[1].Unsubscribe)
	if w := post("/unsubscribe?"+unsub.RawQuery, url.Values{"List-Unsubscribe": {"One-Click"}}); w.Code != 200 || !strings.Contains(w.Body.String(), "deleted") {
		t.Fatalf("unsubscribe: %d %s", w.Code, w.Body)
	}
	tx, _ = s.DB().Begin()
	uptime.StatusNotice(ctx, tx, now, wiki, "resolved")
	tx.Commit()
	snd.Step(ctx)
	if n := len(mailer.to("ana@example.org")); n != 2 {
		t.Errorf("ana got %d after unsubscribing", n)
	}
	if n := len(mailer.to("bo@example.org")); n != 1 {
		t.Errorf("unconfirmed bo got %d", n)
	}
	list, _ := st.List(ctx)
	if len(list) != 1 || list[0].Email != "bo@example.org" || list[0].Confirmed {
		t.Errorf("list %+v", list)
	}
	// An hour later bo may ask again.
	now = now.Add(time.Hour)
	post("/subscribe", url.Values{"email": {"bo@example.org"}})
	snd.Step(ctx)
	if n := len(mailer.to("bo@example.org")); n != 2 {
		t.Errorf("bo's second confirmation: %d", n)
	}
}

func TestRateLimitPerClient(t *testing.T) {
	var l limiter
	now := time.Unix(0, 0)
	n := 0
	for range 20 {
		if l.allow("192.0.2.1", now, perClient) {
			n++
		}
	}
	if n != perClient || !l.allow("192.0.2.2", now, perClient) || !l.allow("192.0.2.1", now.Add(clientWindow), perClient) {
		t.Errorf("allowed %d", n)
	}
}
