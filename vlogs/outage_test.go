package vlogs

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fastjson"
	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
)

// TestOutage ships 200,000 lines while VictoriaLogs is stopped for a while,
// killed once, and the shipper itself restarted: afterwards VictoriaLogs
// holds every line exactly once, and ingest went on throughout.
// WATCHPOST_VL_OUTAGE sets the stop (default 5s; bench/vlogs-outage.sh runs
// it with a minute).
func TestOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("ships 200,000 lines")
	}
	outage := 5 * time.Second
	if s := os.Getenv("WATCHPOST_VL_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		outage = d
	}
	const total = 200_000
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute+2*outage)
	defer cancel()
	st := openStore(t, t.TempDir())
	// A flush interval of 1 s keeps the test short; Settle must exceed it
	// (and VictoriaLogs' second before rows show).
	v := peers.StartVictoriaLogs(t, t.TempDir(), "-inmemoryDataFlushInterval=1s")
	c, err := NewClient(ClientOptions{URL: v.URL(), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	set := metrics.NewSet()
	newShipper := func() *Shipper {
		sh, err := NewShipper(ShipperOptions{Store: st, Client: c, Settle: 3 * time.Second, RecoverDelay: 2 * time.Second,
			BatchLines: 2000, Metrics: set, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return sh
	}
	runShipper := func(sh *Shipper) (stop func()) {
		sctx, scancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- sh.Run(sctx) }()
		return func() {
			scancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("shipper: %v", err)
			}
		}
	}
	sh := newShipper()
	stopShipper := runShipper(sh)

	// Ingest: 1,000-line batches, as fast as the store takes them, paced
	// only so that the outages fall in the middle.
	var appended atomic.Int64
	var slowest atomic.Int64
	ingestDone := make(chan error, 1)
	pace := (outage + 7*time.Second) / (total / 1000)
	go func() {
		for i := 0; i < total/1000; i++ {
			recs := make([]store.Record, 1000)
			for j := range recs {
				n := i*1000 + j
				at := corpusStart.Add(time.Duration(n) * 10 * time.Millisecond)
				ev := logparse.NewEvent()
				ev.Time, ev.Host, ev.Program, ev.Message = at, "web"+strconv.Itoa(n%4), "app", "line "+strconv.Itoa(n)
				recs[j] = store.Record{Kind: store.KindLog, Received: at, Event: ev, Raw: "app: line " + strconv.Itoa(n), Offset: -1}
			}
			began := time.Now()
			if _, err := st.Append(ctx, recs[0].Host, recs); err != nil {
				ingestDone <- err
				return
			}
			if d := int64(time.Since(began)); d > slowest.Load() {
				slowest.Store(d)
			}
			appended.Add(1000)
			time.Sleep(pace)
		}
		ingestDone <- nil
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("30,000 lines", func() bool { return appended.Load() >= 30_000 })
	v.Stop()
	during := appended.Load()
	time.Sleep(outage)
	if appended.Load() == during && appended.Load() < total {
		t.Errorf("no line was ingested while VictoriaLogs was stopped for %v", outage)
	}
	t.Logf("VictoriaLogs stopped %v: %d lines ingested meanwhile", outage, appended.Load()-during)
	v.Start()

	waitFor("100,000 lines", func() bool { return appended.Load() >= 100_000 })
	// A new shipper, as after a loghost restart, while lines are in flight.
	stopShipper()
	sh = newShipper()
	stopShipper = runShipper(sh)

	waitFor("140,000 lines", func() bool { return appended.Load() >= 140_000 })
	// Killed right after acknowledging: what it held only in memory is
	// lost, and must be found missing and sent again.
	sent := set.GetOrCreateCounter(`watchpost_victorialogs_lines_sent_total`)
	before := sent.Get()
	waitFor("a fresh acknowledgement", func() bool { return sent.Get() > before })
	v.Kill()
	time.Sleep(time.Second)
	v.Start()

	if err := <-ingestDone; err != nil {
		t.Fatalf("ingest: %v", err)
	}
	last := st.LastSeq()
	waitFor("every line confirmed", func() bool { return sh.Confirmed() >= last })
	stopShipper()
	v.Flush()

	var rows, distinct, minSeq, maxSeq int64
	err = c.Query(ctx, "* | stats count() rows, count_uniq(seq) distinct, min(seq) lo, max(seq) hi", 0, func(v *fastjson.Value) error {
		rows, _ = strconv.ParseInt(string(v.GetStringBytes("rows")), 10, 64)
		distinct, _ = strconv.ParseInt(string(v.GetStringBytes("distinct")), 10, 64)
		minSeq, _ = strconv.ParseInt(string(v.GetStringBytes("lo")), 10, 64)
		maxSeq, _ = strconv.ParseInt(string(v.GetStringBytes("hi")), 10, 64)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("slowest 1,000-line append: %v", time.Duration(slowest.Load()))
	t.Logf("VictoriaLogs holds %d rows, %d distinct seqs %d..%d; sent %d, resent %d, failed requests %d", rows, distinct, minSeq, maxSeq,
		set.GetOrCreateCounter(`watchpost_victorialogs_lines_sent_total`).Get(),
		set.GetOrCreateCounter(`watchpost_victorialogs_lines_resent_total`).Get(),
		set.GetOrCreateCounter(`watchpost_victorialogs_requests_failed_total`).Get())
	if rows != total || distinct != total || minSeq != 1 || maxSeq != total {
		t.Fatalf("VictoriaLogs holds %d rows with %d distinct seqs from %d to %d; want each of 1..%d once", rows, distinct, minSeq, maxSeq, total)
	}
	if lost := set.GetOrCreateCounter(`watchpost_victorialogs_lines_lost_total`).Get(); lost != 0 {
		t.Errorf("%d lines counted lost", lost)
	}
}
