package rrd

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/munin"
	"github.com/watchpost/watchpost/store"
)

// Raw samples are kept for RawKeep in blocks of RawBlock seconds; the
// blocks form a ring of rawSlots per series.
const (
	RawBlock = 600
	RawKeep  = 48 * 3600
	rawSlots = RawKeep/RawBlock + 1
)

// CursorName is the rrd consumer's cursor in the store.
const CursorName = "rrd"

// Options configures a DB.
type Options struct {
	// Heartbeat in seconds (default 600, munin's): a gap between two
	// values longer than this is unknown. It must exceed the collection
	// interval; munin-nodes polled every 5 min fit the default.
	Heartbeat int64
	// FlushInterval is how often dirty series are written (default 30 s).
	// Reads merge what is not yet written, so it only bounds the replay
	// after a crash.
	FlushInterval time.Duration
	// Batch is how many seqs of the stream one read spans (default 65536):
	// only the metric records among them are read.
	Batch int
	// Victoria, when set, receives every sample too (item 7 of issue 7).
	Victoria *Victoria
	// Observer, when set, sees every stored value and writes what it
	// makes of them in the flush transaction (metric thresholds).
	Observer Observer
	Now      func() time.Time
	Metrics  *metrics.Set
	Logger   *slog.Logger
}

// Observer follows the values as they are stored. Its calls are
// serialised with the store's own work: Observe as a value is applied,
// FlushTx inside the transaction that saves the store's state and cursor
// (so what the observer writes commits with the values that caused it,
// and a crash replays both), Flushed once that transaction committed.
type Observer interface {
	Observe(host string, g *munin.Graph, field string, t int64, rate float64)
	FlushTx(ctx context.Context, tx *sql.Tx) error
	Flushed()
	// Urgent says the observer holds something that should not wait for
	// the next periodic flush (an alert): the store flushes at once.
	Urgent() bool
}

type key struct{ host, graph, field string }

type series struct {
	id            int64
	k             key
	typ, min, max string
	def           def
	st            state
	raw           rawBlock
	rawDirty      bool
	closed        []rawBlock // full raw blocks not yet written
	pending       [4][]row   // consolidated rows not yet written
	dirty         bool
	defDirty      bool
	emit          func(int, row)
}

type graphMeta struct {
	g       munin.Graph
	updated int64
	dirty   bool
}

// DB is the metric store. Its methods are safe for concurrent use.
type DB struct {
	st    *store.Store
	opts  Options
	tiers [4]Tier

	mu     sync.Mutex
	series map[key]*series
	graphs map[[2]string]*graphMeta
	cursor int64

	applied, dropped, badItems, flushes *metrics.Counter
	flushBytes                          *metrics.Counter
}

// Open loads every series' state and the consumer cursor.
func Open(ctx context.Context, st *store.Store, opts Options) (*DB, error) {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 30 * time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 65536
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.NewSet()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &DB{st: st, opts: opts, tiers: Tiers(),
		series: map[key]*series{}, graphs: map[[2]string]*graphMeta{},
		applied:    opts.Metrics.GetOrCreateCounter(`watchpost_rrd_samples_total`),
		dropped:    opts.Metrics.GetOrCreateCounter(`watchpost_rrd_samples_dropped_total`),
		badItems:   opts.Metrics.GetOrCreateCounter(`watchpost_rrd_bad_items_total`),
		flushes:    opts.Metrics.GetOrCreateCounter(`watchpost_rrd_flushes_total`),
		flushBytes: opts.Metrics.GetOrCreateCounter(`watchpost_rrd_flush_bytes_total`),
	}
	if err := d.load(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *DB) load(ctx context.Context) error {
	db := d.st.ReadDB()
	cur, err := d.st.Cursor(ctx, CursorName)
	if err != nil {
		return err
	}
	d.cursor = cur
	rows, err := db.QueryContext(ctx, `SELECT s.id, s.host, s.graph, s.field, s.type, s.min, s.max, st.data
		FROM rrd_series s LEFT JOIN rrd_state st ON st.series_id = s.id`)
	if err != nil {
		return fmt.Errorf("load rrd series: %w", err)
	}
	var all []*series
	for rows.Next() {
		s := &series{}
		var data []byte
		if err := rows.Scan(&s.id, &s.k.host, &s.k.graph, &s.k.field, &s.typ, &s.min, &s.max, &data); err != nil {
			rows.Close()
			return fmt.Errorf("load rrd series: %w", err)
		}
		s.def = newDef(munin.FieldType(s.typ), s.min, s.max)
		start, err := decodeState(data, &s.st)
		if err != nil {
			// A lost state restarts the series as if new: the rows
			// already written stay readable.
			d.opts.Logger.Warn("rrd state unreadable, series restarts", "host", s.k.host, "graph", s.k.graph, "field", s.k.field)
			s.st = state{}
		}
		s.raw.start = start
		s.emit = s.addRow
		all = append(all, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load rrd series: %w", err)
	}
	for _, s := range all {
		var data []byte
		err := db.QueryRowContext(ctx, "SELECT data FROM rrd_raw WHERE slot=? AND series_id=? AND start=?",
			rawSlot(s.raw.start), s.id, s.raw.start).Scan(&data)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("load rrd raw block: %w", err)
		}
		b, err := decodeRaw(s.raw.start, data, nil)
		if err != nil {
			b = rawBlock{start: s.raw.start}
		}
		s.raw = b
		d.series[s.k] = s
	}
	grows, err := db.QueryContext(ctx, "SELECT host, graph, meta, updated FROM rrd_graphs")
	if err != nil {
		return fmt.Errorf("load rrd graphs: %w", err)
	}
	defer grows.Close()
	for grows.Next() {
		var host, graph string
		var meta []byte
		gm := &graphMeta{}
		if err := grows.Scan(&host, &graph, &meta, &gm.updated); err != nil {
			return fmt.Errorf("load rrd graphs: %w", err)
		}
		if json.Unmarshal(meta, &gm.g) != nil {
			gm.g = munin.Graph{Name: graph}
		}
		d.graphs[[2]string{host, graph}] = gm
	}
	return grows.Err()
}

func rawSlot(start int64) int64 { return (start / RawBlock) % rawSlots }

func (s *series) addRow(tier int, r row) { s.pending[tier] = append(s.pending[tier], r) }

// Apply stores one graph's values from host. Values at or before a
// series' last update are dropped, as rrdtool refuses them.
func (d *DB) Apply(host string, it munin.Item) {
	d.mu.Lock()
	d.apply(host, &it)
	d.mu.Unlock()
}

func (d *DB) apply(host string, it *munin.Item) {
	if it.Graph.Name == "" {
		d.badItems.Inc()
		return
	}
	gk := [2]string{host, it.Graph.Name}
	gm := d.graphs[gk]
	if gm == nil {
		gm = &graphMeta{}
		d.graphs[gk] = gm
	}
	if !gm.dirty && !reflect.DeepEqual(&gm.g, &it.Graph) {
		gm.g = it.Graph
		gm.dirty = true
	}
	gm.updated = it.Time
	for i := range it.Values {
		v := &it.Values[i]
		t := it.Time
		if v.Time != 0 {
			t = v.Time
		}
		s := d.lookup(host, &it.Graph, v.Field, t)
		if s == nil || t <= s.st.lastUp {
			d.dropped.Inc()
			continue
		}
		rate := s.st.update(&s.def, d.opts.Heartbeat, t, v.Value, !v.Unknown, &d.tiers, s.emit)
		if bs := t - t%RawBlock; bs != s.raw.start {
			if s.raw.n > 0 {
				s.closed = append(s.closed, s.raw)
			}
			s.raw = rawBlock{start: bs}
		}
		s.raw.add(t, rate)
		s.rawDirty, s.dirty = true, true
		d.applied.Inc()
		if d.opts.Victoria != nil {
			d.opts.Victoria.Add(host, it.Graph.Name, v.Field, t, rate)
		}
		if d.opts.Observer != nil {
			d.opts.Observer.Observe(host, &it.Graph, v.Field, t, rate)
		}
	}
}

// lookup finds or creates the series of a field, following changes of
// its type or bounds.
func (d *DB) lookup(host string, g *munin.Graph, field string, t int64) *series {
	var f *munin.Field
	for i := range g.Fields {
		if g.Fields[i].Name == field {
			f = &g.Fields[i]
			break
		}
	}
	typ, min, max := string(munin.Gauge), "", ""
	if f != nil {
		if f.Type != "" {
			typ = string(f.Type)
		}
		min, max = f.Min, f.Max
	}
	k := key{host, g.Name, field}
	s := d.series[k]
	if s == nil {
		if field == "" {
			return nil
		}
		s = &series{k: k, typ: typ, min: min, max: max, def: newDef(munin.FieldType(typ), min, max), defDirty: true}
		s.emit = s.addRow
		s.st.init(t-createOffset, &d.tiers)
		d.series[k] = s
		return s
	}
	if s.st.lastUp == 0 {
		s.st.init(t-createOffset, &d.tiers)
	}
	if s.typ != typ || s.min != min || s.max != max {
		// munin keeps the RRD and its old definition; we follow the
		// plugin, and a type change must not diff across types.
		if s.typ != typ {
			s.st.lastKnown = false
		}
		s.typ, s.min, s.max = typ, min, max
		s.def = newDef(munin.FieldType(typ), min, max)
		s.defDirty, s.dirty = true, true
	}
	return s
}

// Run consumes the store's metric records from the cursor on until ctx
// ends, writing every FlushInterval and once more on the way out.
func (d *DB) Run(ctx context.Context) error {
	lastFlush := time.Now()
	for {
		if ctx.Err() != nil {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := d.Flush(fctx); err != nil {
				return err
			}
			return ctx.Err()
		}
		d.mu.Lock()
		cur := d.cursor
		d.mu.Unlock()
		wctx, cancel := context.WithTimeout(ctx, d.opts.FlushInterval)
		err := d.st.Wait(wctx, cur)
		cancel()
		if err == nil {
			if err := d.step(ctx, cur); err != nil {
				if ctx.Err() != nil {
					continue
				}
				return err
			}
		}
		if time.Since(lastFlush) >= d.opts.FlushInterval || (d.opts.Observer != nil && d.urgent()) {
			if err := d.Flush(ctx); err != nil {
				if ctx.Err() != nil {
					continue
				}
				return err
			}
			lastFlush = time.Now()
		}
	}
}

// step reads and applies the metric records of one window after cur.
// Log lines, the bulk of the stream, are never read: blocks hold one
// kind of record each.
func (d *DB) step(ctx context.Context, cur int64) error {
	recs, through, err := d.st.ReadAfterKind(ctx, cur, d.opts.Batch, store.KindMetric)
	if err != nil {
		return err
	}
	var it munin.Item
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range recs {
		r := &recs[i]
		it = munin.Item{}
		if err := json.Unmarshal(r.Data, &it); err != nil {
			d.badItems.Inc()
			continue
		}
		d.apply(r.Host, &it)
	}
	if through > d.cursor {
		d.cursor = through
	}
	return nil
}

func (d *DB) urgent() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opts.Observer.Urgent()
}

// ApplyUpTo applies records as Run does; tests and tools use it to
// consume synchronously up to the store's last record.
func (d *DB) ApplyUpTo(ctx context.Context, last int64) error {
	for {
		d.mu.Lock()
		cur := d.cursor
		d.mu.Unlock()
		if cur >= last {
			return nil
		}
		if err := d.step(ctx, cur); err != nil {
			return err
		}
		d.mu.Lock()
		moved := d.cursor != cur
		d.mu.Unlock()
		if !moved {
			return nil
		}
	}
}
