package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/store"
)

// TestIngestClampsEventTime: a line claiming 9999-12-31 (or year 1) is
// filed at the bound around its arrival, the claim kept as a field.
func TestIngestClampsEventTime(t *testing.T) {
	h, s := newTestHandler(t, nil)
	body := ndjson(
		map[string]any{"line": "from the future", "time": "9999-12-31T23:59:59Z"},
		map[string]any{"line": "<13>1 9999-12-31T23:59:59Z web1 app - - - forged", "format": "syslog"},
		map[string]any{"line": "from the past", "time": "0001-01-01T00:00:01Z"},
		map[string]any{"line": "on time", "time": now.Add(-time.Minute).Format(time.RFC3339)},
	)
	if a := post(t, h, "tok-web1", body, nil); a.code != 200 {
		t.Fatalf("%d %v", a.code, a.body)
	}
	recs := allRecords(t, s)
	if len(recs) != 4 {
		t.Fatalf("%d records", len(recs))
	}
	for i, want := range []time.Time{now.Add(store.MaxEventAhead), now.Add(store.MaxEventAhead), now.Add(-store.MaxEventBehind), now.Add(-time.Minute)} {
		if !recs[i].Time.Equal(want) {
			t.Errorf("line %d filed at %v, want %v", i, recs[i].Time, want)
		}
	}
	if v, ok := recs[0].Field(store.ClaimedTimeField); !ok || v != "9999-12-31T23:59:59Z" {
		t.Errorf("claimed time %q %v", v, ok)
	}
	if _, ok := recs[3].Field(store.ClaimedTimeField); ok {
		t.Error("an on-time line got claimed_time")
	}
}

type fullStore struct{}

func (fullStore) Append(context.Context, string, []store.Record) (store.AppendResult, error) {
	return store.AppendResult{}, fmt.Errorf("%w: insert block: database or disk is full", store.ErrDiskFull)
}

// TestIngestDiskFull: a full disk is 503 with Retry-After (collectors
// keep the batch and back off), not a bare 500.
func TestIngestDiskFull(t *testing.T) {
	h, _ := newTestHandler(t, nil)
	h.o.Store = fullStore{}
	a := post(t, h, "tok-web1", ndjson(map[string]any{"line": "x"}), nil)
	if a.code != 503 || a.hdr.Get("Retry-After") == "" || !strings.Contains(a.body["error"].(string), "disk is full") {
		t.Fatalf("%d %v %v", a.code, a.hdr, a.body)
	}
}
