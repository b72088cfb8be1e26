package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// A block's stats are what the histogram and the field counts of the
// logs explorer need without decompressing it: its lines counted per
// minute and severity, and the most frequent values of the standard
// fields. They are written with the block (one small row in block_stats),
// so a month's histogram reads a few kilobytes per block instead of
// every line; blocks written before block_stats existed get theirs from
// maintenance (BackfillStats), and until then are scanned.

// statsFields are the standard fields whose values block stats count.
// host is a column of the block itself; severity is in the minute counts.
var statsFields = [...]string{"program", "facility", "file", "site", "format", "source"}

const (
	statsVersion = 1
	// statsTopValues is how many values per field a block keeps; the
	// rest are counted together in Other.
	statsTopValues = 48
	// statsMaxValueLen leaves out long values (a file path, rarely longer).
	statsMaxValueLen = 256
)

// minuteCount is the lines of one minute and severity (0-7; 8 none).
type minuteCount struct {
	Minute int64 // Unix minute
	Sev    uint8
	N      uint32
}

// ValueCount is one value of a field with how many lines have it.
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// fieldStats are a field's most frequent values in a set of lines.
type fieldStats struct {
	Name   string
	Values []ValueCount // most frequent first
	// Other counts lines whose value was not kept; Missing, lines
	// without the field.
	Other, Missing int64
}

// blockStats summarizes one block.
type blockStats struct {
	Minutes []minuteCount // by minute, then severity
	Fields  []fieldStats  // statsFields order
}

// statsBuilder counts one block's lines; reused by the writer.
type statsBuilder struct {
	minutes map[int64]uint32 // minute<<4 | severity
	fields  [len(statsFields)]map[string]int64
	missing [len(statsFields)]int64
}

func newStatsBuilder() *statsBuilder {
	b := &statsBuilder{minutes: map[int64]uint32{}}
	for i := range b.fields {
		b.fields[i] = map[string]int64{}
	}
	return b
}

func sevIndex(sev int) uint8 {
	if sev < 0 || sev > 7 {
		return 8
	}
	return uint8(sev)
}

// add counts one record.
func (b *statsBuilder) add(r *Record) {
	m := r.Time.Unix()
	if m < 0 {
		m -= 59
	}
	m /= 60
	b.minutes[m<<4|int64(sevIndex(r.Severity))]++
	for i, f := range statsFields {
		v := statsFieldValue(r, f)
		if v == "" {
			b.missing[i]++
			continue
		}
		if len(v) > statsMaxValueLen {
			v = v[:statsMaxValueLen]
		}
		b.fields[i][v]++
	}
}

func statsFieldValue(r *Record, f string) string {
	switch f {
	case "program":
		return r.Program
	case "facility":
		v, _ := r.Get("facility")
		return v
	case "file":
		return r.File
	case "site":
		return r.Site
	case "format":
		return r.Format
	case "source":
		return r.Source
	}
	return ""
}

// build encodes the counts and resets the builder.
func (b *statsBuilder) build(dst []byte) []byte {
	keys := make([]int64, 0, len(b.minutes))
	for k := range b.minutes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, statsVersion)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	var prev int64
	for i, k := range keys {
		m := k >> 4
		if i == 0 {
			dst = binary.AppendVarint(dst, m)
		} else {
			dst = binary.AppendUvarint(dst, uint64(m-prev))
		}
		prev = m
		dst = append(dst, byte(k&15))
		dst = binary.AppendUvarint(dst, uint64(b.minutes[k]))
		delete(b.minutes, k)
	}
	dst = binary.AppendUvarint(dst, uint64(len(statsFields)))
	for i, f := range statsFields {
		vals := make([]ValueCount, 0, len(b.fields[i]))
		for v, n := range b.fields[i] {
			vals = append(vals, ValueCount{v, n})
			delete(b.fields[i], v)
		}
		sortValues(vals)
		var other int64
		if len(vals) > statsTopValues {
			for _, v := range vals[statsTopValues:] {
				other += v.Count
			}
			vals = vals[:statsTopValues]
		}
		dst = appendString(dst, f)
		dst = binary.AppendUvarint(dst, uint64(other))
		dst = binary.AppendUvarint(dst, uint64(b.missing[i]))
		b.missing[i] = 0
		dst = binary.AppendUvarint(dst, uint64(len(vals)))
		for _, v := range vals {
			dst = appendString(dst, v.Value)
			dst = binary.AppendUvarint(dst, uint64(v.Count))
		}
	}
	return dst
}

// sortValues orders by count, most first, then by value.
func sortValues(vals []ValueCount) {
	slices.SortFunc(vals, func(a, b ValueCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
}

// decodeBlockStats reads what build wrote; ok is false for bytes it
// does not understand (the block is then scanned).
func decodeBlockStats(buf []byte) (st blockStats, ok bool) {
	d := decoder{buf: buf}
	if len(d.buf) < 1 || d.buf[0] != statsVersion {
		return st, false
	}
	d.buf = d.buf[1:]
	n, ok := d.uvarint()
	if !ok || n > uint64(len(d.buf)) {
		return st, false
	}
	st.Minutes = make([]minuteCount, 0, n)
	var m int64
	for i := uint64(0); i < n; i++ {
		if i == 0 {
			v, ok := d.varint()
			if !ok {
				return st, false
			}
			m = v
		} else {
			dm, ok := d.uvarint()
			if !ok {
				return st, false
			}
			m += int64(dm)
		}
		if len(d.buf) < 1 {
			return st, false
		}
		sev := d.buf[0]
		d.buf = d.buf[1:]
		c, ok := d.uvarint()
		if !ok || sev > 8 {
			return st, false
		}
		st.Minutes = append(st.Minutes, minuteCount{Minute: m, Sev: sev, N: uint32(c)})
	}
	nf, ok := d.uvarint()
	if !ok || nf > 64 {
		return st, false
	}
	for i := uint64(0); i < nf; i++ {
		var f fieldStats
		name, ok1 := d.str()
		other, ok2 := d.uvarint()
		missing, ok3 := d.uvarint()
		nv, ok4 := d.uvarint()
		if !ok1 || !ok2 || !ok3 || !ok4 || nv > uint64(len(d.buf)) {
			return st, false
		}
		f.Name, f.Other, f.Missing = string(name), int64(other), int64(missing)
		for j := uint64(0); j < nv; j++ {
			v, ok1 := d.str()
			c, ok2 := d.uvarint()
			if !ok1 || !ok2 {
				return st, false
			}
			f.Values = append(f.Values, ValueCount{Value: string(v), Count: int64(c)})
		}
		st.Fields = append(st.Fields, f)
	}
	return st, true
}

// minuteOf is the Unix minute of t (floor).
func minuteOf(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		s -= 59
	}
	return s / 60
}

// BackfillStats writes the stats of up to max log blocks that have none
// (blocks stored before block stats existed) and returns how many it
// wrote. Until a block has stats, the explorer scans it instead.
func (s *Store) BackfillStats(ctx context.Context, max int) (int, error) {
	if s.wdb == nil || s.statsDone.Load() {
		return 0, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT b.id FROM blocks b LEFT JOIN block_stats s ON s.block_id = b.id
		WHERE b.kind = 1 AND s.block_id IS NULL ORDER BY b.id DESC LIMIT ?`, max)
	if err != nil {
		return 0, fmt.Errorf("block stats: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("block stats: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("block stats: %w", err)
	}
	if len(ids) == 0 {
		// Every block is written with its stats from now on.
		s.statsDone.Store(true)
		return 0, nil
	}
	c, err := s.readCodec()
	if err != nil {
		return 0, err
	}
	b := newStatsBuilder()
	done := 0
	for _, id := range ids {
		var data []byte
		err := s.rdb.QueryRowContext(ctx, "SELECT data FROM blocks WHERE id = ?", id).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			continue // retention or compaction got there first
		}
		if err != nil {
			return done, fmt.Errorf("block stats: %w", err)
		}
		// Its own buffer, not the scans' pool: the counts keep strings
		// of the block until build.
		raw, err := c.dec.DecodeAll(data, nil)
		if err != nil {
			return done, fmt.Errorf("block stats: block %d: %w", id, err)
		}
		d, err := newDecoder(raw, "")
		if err != nil {
			return done, fmt.Errorf("block stats: block %d: %w", id, err)
		}
		var r Record
		for {
			ok, err := d.next(&r)
			if err != nil {
				return done, fmt.Errorf("block stats: block %d: %w", id, err)
			}
			if !ok {
				break
			}
			b.add(&r)
		}
		// INSERT ... SELECT: a block deleted meanwhile gets no orphan row.
		if _, err := s.wdb.ExecContext(ctx, "INSERT OR IGNORE INTO block_stats(block_id, data) SELECT id, ? FROM blocks WHERE id = ?", b.build(nil), id); err != nil {
			return done, fmt.Errorf("block stats: %w", err)
		}
		done++
	}
	return done, nil
}
