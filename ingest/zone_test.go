package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/watchpost/watchpost/query"
	"github.com/watchpost/watchpost/store"
)

// A zone-less time is read in the zone of the host that wrote it: the
// one configured for the host, else the one its collector names, else
// the loghost's own; never the display zone (Options.Location).
func TestZonelessTimesInTheSendersZone(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ny, _ := time.LoadLocation("America/New_York")
	h, s := newTestHandler(t, func(o *Options, _ *store.Options) {
		o.Location = berlin // display zone: must not matter
		o.HostZone = func(host string) *time.Location {
			if host == "db1" {
				return ny
			}
			return nil
		}
	})
	line := func(src, word string) []byte {
		return []byte(`{"source":"` + src + `","gen":"g","offset":0,"line":"Nov 22 07:23:38 web1 sshd[1]: Accepted password for root ` + word + `"}` + "\n")
	}
	for _, tc := range []struct {
		token, zone, word string
		want              time.Time
	}{
		{"tok-web1", "Asia/Kolkata", "kolkata", time.Date(2026, 11, 22, 1, 53, 38, 0, time.UTC)},
		{"tok-web1", "UTC", "utc", time.Date(2026, 11, 22, 7, 23, 38, 0, time.UTC)},
		{"tok-web1", "", "local", time.Date(2026, 11, 22, 7, 23, 38, 0, time.Local)},
		{"tok-web1", "No/Such_Zone", "bogus", time.Date(2026, 11, 22, 7, 23, 38, 0, time.Local)},
		// The configured zone wins over what the collector says.
		{"tok-db1-new", "UTC", "configured", time.Date(2026, 11, 22, 12, 23, 38, 0, time.UTC)},
	} {
		hdr := map[string]string{}
		if tc.zone != "" {
			hdr[ZoneHeader] = tc.zone
		}
		if a := post(t, h, tc.token, line("file:/"+tc.word, tc.word), hdr); a.code != 200 {
			t.Fatalf("%s: %d %v", tc.word, a.code, a.body)
		}
		q := mustQuery(t, tc.word)
		hits, _, err := s.Search(context.Background(), store.SearchOptions{Query: q})
		if err != nil || len(hits) != 1 {
			t.Fatalf("%s: %d hits, %v", tc.word, len(hits), err)
		}
		if !hits[0].Time.Equal(tc.want) {
			t.Errorf("%s (zone %q): stored %s, want %s", tc.word, tc.zone, hits[0].Time.UTC(), tc.want.UTC())
		}
	}
}

func mustQuery(t *testing.T, s string) *query.Query {
	t.Helper()
	q, err := query.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}
