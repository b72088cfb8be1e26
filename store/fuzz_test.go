package store

import (
	"testing"
	"time"
)

func FuzzDecodeBlock(f *testing.F) {
	recs := genRecords(3, 1, time.Unix(1700000000, 0))
	recs[1].Source, recs[1].Offset = "file:x", 42
	f.Add(encodeRecords(nil, recs))
	f.Add([]byte{blockVersion, 1, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := newDecoder(data, "h")
		if err != nil {
			return
		}
		var r Record
		for i := 0; i < 100000; i++ {
			ok, err := d.next(&r)
			if err != nil || !ok {
				return
			}
			_ = r.Clone()
		}
	})
}

// FuzzBlockStats: stats bytes from the database never panic the reader,
// and what the builder writes reads back.
func FuzzBlockStats(f *testing.F) {
	b := newStatsBuilder()
	for _, r := range genRecords(20, 2, time.Unix(1700000000, 0)) {
		b.add(&r)
	}
	f.Add(b.build(nil))
	f.Add([]byte{statsVersion, 1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, ok := decodeBlockStats(data)
		if !ok {
			return
		}
		c := newCounter(&SummaryOptions{Fields: []string{"*"}}, 0, 0)
		c.addStats(&st, "h", nil, true)
	})
}

// FuzzScanRaw: the range-skipping scan of a block never panics.
func FuzzScanRaw(f *testing.F) {
	recs := genRecords(5, 3, time.Unix(1700000000, 0))
	f.Add(encodeRecords(nil, recs), int64(1700000001e9), int64(1700000003e9))
	f.Fuzz(func(t *testing.T, data []byte, lo, hi int64) {
		scanRaw(data, "h", lo, hi, func(string) bool { return true }, func(r *Record) bool { _ = r.Clone(); return true })
	})
}

// FuzzWordNum: a word-number probe of any part of a line is among the
// line's keys (else a block holding a match could be passed over).
func FuzzWordNum(f *testing.F) {
	f.Add("Killed process 42421 (php)", 7, 19)
	f.Add("port 22 ssh2 from 10.0.0.1", 0, 8)
	f.Add("Failed password for root from 10.1.132.38 port 39107", 27, 39)
	f.Fuzz(func(t *testing.T, line string, i, j int) {
		if i < 0 || j > len(line) || i > j {
			return
		}
		keys := map[uint64]bool{}
		wordNumKeys(line, func(k uint64) { keys[mix(k)] = true })
		dottedKeys(line, func(k uint64) { keys[mix(k)] = true })
		lit := lowerString(line[i:j])
		for _, p := range dottedProbes(lit, wordNumProbes(lit, nil)) {
			if !keys[p.h] {
				t.Fatalf("probe of %q not among the keys of %q", lit, line)
			}
		}
	})
}
