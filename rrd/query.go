package rrd

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/watchpost/watchpost/munin"
)

// Point is one value of a series: T is the end of the interval it
// covers (Unix seconds); NaN is unknown. Raw samples have Avg=Min=Max.
type Point struct {
	T             int64
	Avg, Min, Max float64
}

// Series is one field's data over a queried range, in rates per second
// (the dashboard applies graph_period and cdef).
type Series struct {
	Field  string
	Tier   string // "raw", "5m", "30m", "2h", "1d"
	Step   int64  // seconds between points (raw: the last collection interval)
	Points []Point
}

// Hosts returns the hosts that have graphs, sorted.
func (d *DB) Hosts(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for k := range d.graphs {
		if !seen[k[0]] {
			seen[k[0]] = true
			out = append(out, k[0])
		}
	}
	sort.Strings(out)
	return out, nil
}

// Graphs returns a host's graphs with their latest metadata, sorted by
// category then name as munin lists them.
func (d *DB) Graphs(ctx context.Context, host string) ([]munin.Graph, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []munin.Graph
	for k, g := range d.graphs {
		if k[0] == host {
			gg := g.g
			if gg.Name == "" {
				gg.Name = k[1]
			}
			if gg.Category == "" {
				gg.Category = "other"
			}
			out = append(out, gg)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Category != out[j].Category {
			return out[i].Category < out[j].Category
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// snapshot is what a query needs from memory, copied under the lock.
type snapshot struct {
	field   string
	id      int64
	lastUp  int64
	last    [4]int64
	pending [4][]row
	raw     []rawBlock
	step    int64
}

// Query returns each field of a graph over [from, to], from the finest
// resolution that still holds from and gives at most maxPoints points
// (0: no bound), as rrdtool fetch picks an RRA.
func (d *DB) Query(ctx context.Context, host, graph string, from, to time.Time, maxPoints int) ([]Series, error) {
	f, t := from.Unix(), to.Unix()
	if t < f {
		return nil, fmt.Errorf("rrd query: to before from")
	}
	var snaps []snapshot
	d.mu.Lock()
	for k, s := range d.series {
		if k.host != host || k.graph != graph {
			continue
		}
		sn := snapshot{field: k.field, id: s.id, lastUp: s.st.lastUp, step: s.raw.prevDelta}
		for i := range s.pending {
			sn.last[i] = s.st.cdp[i].last
			sn.pending[i] = append([]row(nil), s.pending[i]...)
		}
		for _, b := range s.closed {
			sn.raw = append(sn.raw, rawBlock{start: b.start, data: append([]byte(nil), b.data...)})
		}
		if s.raw.n > 0 {
			sn.raw = append(sn.raw, rawBlock{start: s.raw.start, data: append([]byte(nil), s.raw.data...)})
		}
		snaps = append(snaps, sn)
	}
	now := d.opts.Now().Unix()
	d.mu.Unlock()
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].field < snaps[j].field })
	db := d.st.ReadDB()
	out := make([]Series, 0, len(snaps))
	for i := range snaps {
		s, err := d.querySeries(ctx, db, &snaps[i], f, t, now, maxPoints)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (d *DB) querySeries(ctx context.Context, db *sql.DB, sn *snapshot, f, t, now int64, maxPoints int) (Series, error) {
	step := sn.step
	if step <= 0 {
		step = 60
	}
	if f >= now-RawKeep && (maxPoints <= 0 || (t-f)/step <= int64(maxPoints)) {
		return d.queryRaw(ctx, db, sn, f, min(t, now+RawBlock), step)
	}
	ti := len(d.tiers) - 1
	for i, tr := range d.tiers {
		first := (sn.last[i] - tr.Rows + 1) * tr.Res()
		if first <= f && (maxPoints <= 0 || (t-f)/tr.Res() <= int64(maxPoints)) {
			ti = i
			break
		}
	}
	return d.queryTier(ctx, db, sn, ti, f, t)
}

func (d *DB) queryRaw(ctx context.Context, db *sql.DB, sn *snapshot, f, t, step int64) (Series, error) {
	out := Series{Field: sn.field, Tier: "raw", Step: step}
	seen := map[int64]bool{}
	add := func(start int64, data []byte) error {
		_, err := decodeRaw(start, data, func(ts int64, v float64) {
			if ts >= f && ts <= t {
				out.Points = append(out.Points, Point{T: ts, Avg: v, Min: v, Max: v})
			}
		})
		return err
	}
	for _, b := range sn.raw {
		seen[b.start] = true
		if b.start+RawBlock > f && b.start <= t {
			if err := add(b.start, b.data); err != nil {
				return out, fmt.Errorf("rrd query: %w", err)
			}
		}
	}
	if sn.id != 0 {
		for bs := f - f%RawBlock; bs <= t; bs += RawBlock {
			if seen[bs] {
				continue
			}
			var data []byte
			err := db.QueryRowContext(ctx, "SELECT data FROM rrd_raw WHERE slot=? AND series_id=? AND start=?", rawSlot(bs), sn.id, bs).Scan(&data)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return out, fmt.Errorf("rrd query: %w", err)
			}
			if err := add(bs, data); err != nil {
				return out, fmt.Errorf("rrd query: %w", err)
			}
		}
	}
	sort.Slice(out.Points, func(i, j int) bool { return out.Points[i].T < out.Points[j].T })
	return out, nil
}

func (d *DB) queryTier(ctx context.Context, db *sql.DB, sn *snapshot, ti int, f, t int64) (Series, error) {
	tr := d.tiers[ti]
	res := tr.Res()
	out := Series{Field: sn.field, Tier: tr.Name, Step: res}
	lo := max((f+res-1)/res, sn.last[ti]-tr.Rows+1)
	hi := min(t/res, sn.last[ti])
	if hi < lo {
		return out, nil
	}
	out.Points = make([]Point, 0, hi-lo+1)
	pend := map[int64][nCF]float64{}
	for _, r := range sn.pending[ti] {
		pend[r.idx] = r.v
	}
	var chunk [nCF][]float64
	loaded := int64(-1)
	for idx := lo; idx <= hi; idx++ {
		v, ok := pend[idx]
		if !ok {
			if k := idx / tr.Chunk; k != loaded {
				loaded = k
				var err error
				if chunk, err = d.readChunk(ctx, db, sn.id, ti, k); err != nil {
					return out, err
				}
			}
			j := idx % tr.Chunk
			v = [nCF]float64{chunk[cfAvg][j], chunk[cfMin][j], chunk[cfMax][j]}
		}
		out.Points = append(out.Points, Point{T: idx * res, Avg: v[cfAvg], Min: v[cfMin], Max: v[cfMax]})
	}
	return out, nil
}

func (d *DB) readChunk(ctx context.Context, db *sql.DB, id int64, ti int, k int64) ([nCF][]float64, error) {
	tr := d.tiers[ti]
	var chunk int64
	var data []byte
	if id != 0 {
		err := db.QueryRowContext(ctx, "SELECT chunk, data FROM rrd_cdp WHERE tier=? AND slot=? AND series_id=?", ti, k%tr.slots(), id).Scan(&chunk, &data)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return [nCF][]float64{}, fmt.Errorf("rrd query: %w", err)
		}
		if chunk != k {
			data = nil
		}
	}
	c, err := decodeChunk(data, tr.Chunk)
	if err != nil {
		return decodeChunk(nil, tr.Chunk)
	}
	return c, nil
}

// LastUpdate is when host last sent a sample of any graph (zero when it
// has none): the host list's "last sample".
func (d *DB) LastUpdate(host string) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	var last int64
	for k, g := range d.graphs {
		if k[0] == host && g.updated > last {
			last = g.updated
		}
	}
	if last == 0 {
		return time.Time{}
	}
	return time.Unix(last, 0).UTC()
}
