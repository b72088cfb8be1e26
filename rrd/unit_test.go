package rrd

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/watchpost/watchpost/munin"
)

// TestRates pins rrdtool's rate rules without rrdtool: each case feeds
// updates 60 s apart (or as given) and checks the rate of the last one.
func TestRates(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name     string
		typ      munin.FieldType
		min, max string
		ups      []upd
		want     float64
	}{
		{"gauge", munin.Gauge, "", "", []upd{{t: 60, v: 5}}, 5},
		{"gauge above max", munin.Gauge, "", "10", []upd{{t: 60, v: 11}}, nan},
		{"gauge below min", munin.Gauge, "0", "", []upd{{t: 60, v: -1}}, nan},
		{"counter first is unknown", munin.Counter, "", "", []upd{{t: 60, v: 100}}, nan},
		{"counter rate", munin.Counter, "", "", []upd{{t: 60, v: 100}, {t: 120, v: 700}}, 10},
		{"counter 32-bit wrap (rrdtool adds 2^32-1)", munin.Counter, "", "", []upd{{t: 60, v: 4294967290}, {t: 120, v: 53}}, 58.0 / 60},
		{"counter 64-bit wrap", munin.Counter, "", "", []upd{{t: 60, v: 18446744073709549568}, {t: 120, v: 0}}, 2048.0 / 60}, // float64 rounding, as rrdtool has it
		{"counter reset above max", munin.Counter, "0", "1000", []upd{{t: 60, v: 5000}, {t: 120, v: 3}}, nan},
		{"derive negative", munin.Derive, "", "", []upd{{t: 60, v: 600}, {t: 120, v: 0}}, -10},
		{"derive reset with min 0", munin.Derive, "0", "", []upd{{t: 60, v: 600}, {t: 120, v: 0}}, nan},
		{"absolute", munin.Absolute, "", "", []upd{{t: 60, v: 600}}, 10},
		{"gap over heartbeat", munin.Derive, "", "", []upd{{t: 60, v: 0}, {t: 60 + 601, v: 601}}, nan},
		{"gap at heartbeat", munin.Derive, "", "", []upd{{t: 60, v: 0}, {t: 60 + 600, v: 600}}, 1},
		{"after unknown", munin.Derive, "", "", []upd{{t: 60, v: 0}, {t: 120, unknown: true}, {t: 180, v: 60}}, nan},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tiers := Tiers()
			d := newDef(tc.typ, tc.min, tc.max)
			var s state
			s.init(0, &tiers)
			var r float64
			for _, u := range tc.ups {
				r = s.update(&d, DefaultHeartbeat, u.t, u.v, !u.unknown, &tiers, func(int, row) {})
			}
			if !sameFloat(r, tc.want) {
				t.Fatalf("rate %v, want %v", r, tc.want)
			}
		})
	}
}

// TestTimeWeighting: a gauge of 0 then 600 switching mid-step gives the
// time-weighted PDP, and rows land on step boundaries.
func TestTimeWeighting(t *testing.T) {
	tiers := Tiers()
	d := newDef(munin.Gauge, "", "")
	var s state
	s.init(290, &tiers)
	rows := map[int64]float64{}
	emit := func(ti int, r row) {
		if ti == 0 {
			rows[r.idx*Step] = r.v[cfAvg]
		}
	}
	s.update(&d, DefaultHeartbeat, 300, 0, true, &tiers, emit)
	s.update(&d, DefaultHeartbeat, 400, 0, true, &tiers, emit)
	s.update(&d, DefaultHeartbeat, 600, 600, true, &tiers, emit) // 0 for 100 s, 600 for 200 s
	s.update(&d, DefaultHeartbeat, 900, 300, true, &tiers, emit)
	if rows[600] != 400 || rows[900] != 300 {
		t.Fatalf("rows %v", rows)
	}
}

func TestCodecsRoundTrip(t *testing.T) {
	b := rawBlock{start: 600}
	in := []float64{1, 1, 2.5, math.NaN(), -3, 1e300, 0}
	for i, v := range in {
		b.add(600+int64(i*10+i%3), v)
	}
	var got []float64
	rb, err := decodeRaw(600, b.data, func(_ int64, v float64) { got = append(got, v) })
	if err != nil || len(got) != len(in) || rb.prevT != b.prevT || rb.prevDelta != b.prevDelta || rb.n != b.n {
		t.Fatalf("raw round trip: %v %v", err, got)
	}
	for i := range in {
		if !sameFloat(in[i], got[i]) {
			t.Fatalf("raw %d: %v != %v", i, got[i], in[i])
		}
	}
	var s state
	tiers := Tiers()
	s.init(12345, &tiers)
	s.lastKnown, s.lastDS = true, 42
	enc := encodeState(nil, &s, &b)
	var s2 state
	start, err := decodeState(enc, &s2)
	if err != nil || start != 600 || !bytes.Equal(encodeState(nil, &s2, &b), enc) {
		t.Fatalf("state round trip: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	b := rawBlock{start: 0}
	b.add(5, 1.5)
	b.add(15, 2)
	f.Add(b.data)
	var s state
	tiers := Tiers()
	s.init(100, &tiers)
	f.Add(encodeState(nil, &s, &b))
	f.Add([]byte{0x18, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeRaw(0, data, func(int64, float64) {})
		decodeChunk(data, 48)
		var s state
		decodeState(data, &s)
		decodeExport(bytes.NewReader(data), 60)
	})
}

// FuzzApply feeds hostile metric items through the consumer's decoding
// and Apply: nothing may panic.
func FuzzApply(f *testing.F) {
	f.Add([]byte(`{"type":"metric","ts":1764000000,"graph":{"name":"load","fields":[{"name":"load","type":"GAUGE"}]},"values":[{"field":"load","value":1}]}`))
	f.Add([]byte(`{"type":"metric","ts":-5,"graph":{"name":"x","fields":[{"name":"a","type":"COUNTER","min":"U","max":"1e400"}]},"values":[{"field":"a","value":1,"time":9223372036854775807},{"field":"","value":2}]}`))
	st := openStore(f)
	c := &clock{t: time.Unix(1764000000, 0)}
	d := openDB(f, st, c)
	f.Fuzz(func(t *testing.T, data []byte) {
		var it munin.Item
		if json.Unmarshal(data, &it) != nil {
			return
		}
		d.Apply("h", it)
		d.Query(context.Background(), "h", it.Graph.Name, time.Unix(0, 0), time.Unix(1<<40, 0), 100)
	})
}
