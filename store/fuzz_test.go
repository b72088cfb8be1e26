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
