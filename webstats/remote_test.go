package webstats

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatsFromLoghost: -server reads the months a loghost keeps through
// its admin API (the loghost end is tested in e2e.TestWebStatsInLoghost):
// each site's newest by default, one month, or all; errors carry the
// loghost's message.
func TestStatsFromLoghost(t *testing.T) {
	a := New(Options{})
	for _, ts := range []string{"2026-09-05T10:00:00Z", "2026-10-05T10:00:00Z"} {
		a.AddRequest("wiki", req(ts, "192.0.2.1", "/", 200, firefox))
		a.AddRequest("blog", req(ts, "192.0.2.1", "/", 200, firefox))
	}
	a.AddRequest("blog", req("2026-11-05T10:00:00Z", "192.0.2.1", "/", 200, firefox))
	const token = "admin-token-0123456789"
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"error":"unauthorized"}`))
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /api/v1/webstats", auth(func(w http.ResponseWriter, r *http.Request) {
		var list []storedMonth
		for _, k := range a.Months() {
			list = append(list, storedMonth{k.Site, k.YearMonth()})
		}
		json.NewEncoder(w).Encode(list)
	}))
	mux.HandleFunc("GET /api/v1/webstats/{site}/{month}", auth(func(w http.ResponseWriter, r *http.Request) {
		mo, _ := time.Parse("2006-01", r.PathValue("month"))
		json.NewEncoder(w).Encode(a.Report(r.PathValue("site"), mo.Year(), mo.Month()))
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte(token+"\n"), 0o600)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("nope\n"), 0o600)

	for _, tc := range []struct {
		args []string
		want string // sites and months, in order
		code int
	}{
		{[]string{}, "blog 2026-11, wiki 2026-10", 0},
		{[]string{"-site", "wiki", "-month", "all"}, "wiki 2026-09, wiki 2026-10", 0},
		{[]string{"-month", "2026-09"}, "blog 2026-09, wiki 2026-09", 0},
		{[]string{"-site", "shop"}, `no web statistics for site "shop"`, 1},
		{[]string{"-token-file", bad}, "401 Unauthorized: unauthorized", 1},
	} {
		args := append([]string{"-server", srv.URL + "/", "-token-file", tok, "-format", "json"}, tc.args...)
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, &out, &errb)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, code, tc.code, errb.String())
			continue
		}
		if code != 0 {
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("%v: %q, want %q", tc.args, errb.String(), tc.want)
			}
			continue
		}
		var rs []Report
		if err := json.Unmarshal(out.Bytes(), &rs); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.Site+" "+r.Month)
			if r.Totals.Pages != 1 {
				t.Errorf("%s %s: %+v", r.Site, r.Month, r.Totals)
			}
		}
		if strings.Join(got, ", ") != tc.want {
			t.Errorf("%v: %v, want %s", tc.args, got, tc.want)
		}
	}
}
