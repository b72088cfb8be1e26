package rrd

import (
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
)

var errCorrupt = errors.New("rrd: corrupt block")

// appendXOR appends v XOR-encoded against prev (Gorilla's idea, byte
// aligned for speed): 0 for a repeat, else a header byte holding the
// count of leading zero bytes and of meaningful bytes, then those bytes.
func appendXOR(dst []byte, prev, v uint64) []byte {
	x := v ^ prev
	if x == 0 {
		return append(dst, 0)
	}
	lz := bits.LeadingZeros64(x) / 8
	tz := bits.TrailingZeros64(x) / 8
	n := 8 - lz - tz
	dst = append(dst, byte(lz<<4|n))
	x >>= uint(tz * 8)
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(x>>(uint(i)*8)))
	}
	return dst
}

// readXOR decodes one value encoded by appendXOR.
func readXOR(b []byte, prev uint64) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, errCorrupt
	}
	h := b[0]
	if h == 0 {
		return prev, 1, nil
	}
	lz, n := int(h>>4), int(h&15)
	if n == 0 || n > 8 || lz+n > 8 || len(b) < 1+n {
		return 0, 0, errCorrupt
	}
	var x uint64
	for i := 0; i < n; i++ {
		x = x<<8 | uint64(b[1+i])
	}
	x <<= uint((8 - lz - n) * 8)
	return prev ^ x, 1 + n, nil
}

// rawBlock is an open block of raw samples: times delta-of-delta varint
// encoded, values XOR encoded. The encoder state lets it grow in place.
type rawBlock struct {
	start     int64 // block start (aligned to RawBlock)
	data      []byte
	n         int
	prevT     int64
	prevDelta int64
	prevBits  uint64
}

func (b *rawBlock) add(t int64, v float64) {
	if b.n == 0 {
		b.data = binary.AppendUvarint(b.data, uint64(t-b.start))
	} else {
		d := t - b.prevT
		b.data = binary.AppendVarint(b.data, d-b.prevDelta)
		b.prevDelta = d
	}
	vb := math.Float64bits(v)
	b.data = appendXOR(b.data, b.prevBits, vb)
	b.prevT, b.prevBits = t, vb
	b.n++
}

// decodeRaw calls fn for each sample of a block; it also restores an
// encoder state so an open block loaded from disk can grow.
func decodeRaw(start int64, data []byte, fn func(t int64, v float64)) (rawBlock, error) {
	b := rawBlock{start: start}
	for p := 0; p < len(data); {
		var t int64
		if b.n == 0 {
			u, k := binary.Uvarint(data[p:])
			if k <= 0 {
				return b, errCorrupt
			}
			p += k
			t = start + int64(u)
		} else {
			dd, k := binary.Varint(data[p:])
			if k <= 0 {
				return b, errCorrupt
			}
			p += k
			b.prevDelta += dd
			t = b.prevT + b.prevDelta
		}
		vb, k, err := readXOR(data[p:], b.prevBits)
		if err != nil {
			return b, err
		}
		p += k
		b.prevT, b.prevBits = t, vb
		b.n++
		if fn != nil {
			fn(t, math.Float64frombits(vb))
		}
	}
	b.data = append([]byte(nil), data...)
	return b, nil
}

// encodeChunk packs a tier chunk: per CF column, rows XOR encoded.
func encodeChunk(dst []byte, c *[nCF][]float64) []byte {
	var prev uint64
	for cf := 0; cf < nCF; cf++ {
		for _, v := range c[cf] {
			vb := math.Float64bits(v)
			dst = appendXOR(dst, prev, vb)
			prev = vb
		}
	}
	return dst
}

// decodeChunk unpacks a chunk of rows rows; a missing or short chunk
// reads as unknown.
func decodeChunk(data []byte, rows int64) ([nCF][]float64, error) {
	var c [nCF][]float64
	var prev uint64
	p := 0
	for cf := 0; cf < nCF; cf++ {
		c[cf] = make([]float64, rows)
		for i := range c[cf] {
			if p >= len(data) {
				c[cf][i] = math.NaN()
				continue
			}
			vb, k, err := readXOR(data[p:], prev)
			if err != nil {
				return c, err
			}
			p += k
			prev = vb
			c[cf][i] = math.Float64frombits(vb)
		}
	}
	return c, nil
}

// stateVersion guards the layout of encodeState.
const stateVersion = 1

// encodeState serialises a series' hot state and its raw encoder.
func encodeState(dst []byte, s *state, b *rawBlock) []byte {
	f := func(v float64) { dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v)) }
	i := func(v int64) { dst = binary.AppendVarint(dst, v) }
	dst = append(dst, stateVersion)
	i(s.lastUp)
	f(s.lastDS)
	if s.lastKnown {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	f(s.pdpVal)
	i(s.unknSec)
	for _, c := range s.cdp {
		for _, v := range c.val {
			f(v)
		}
		i(c.unkn)
		i(c.last)
	}
	i(b.start)
	return dst
}

// decodeState reverses encodeState; it returns the open raw block's start.
func decodeState(data []byte, s *state) (int64, error) {
	p := 0
	bad := false
	f := func() float64 {
		if p+8 > len(data) {
			bad = true
			return math.NaN()
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(data[p:]))
		p += 8
		return v
	}
	i := func() int64 {
		if p >= len(data) {
			bad = true
			return 0
		}
		v, k := binary.Varint(data[p:])
		if k <= 0 {
			bad = true
			return 0
		}
		p += k
		return v
	}
	if len(data) < 1 || data[0] != stateVersion {
		return 0, errCorrupt
	}
	p = 1
	s.lastUp = i()
	s.lastDS = f()
	if p < len(data) {
		s.lastKnown = data[p] == 1
		p++
	} else {
		bad = true
	}
	s.pdpVal = f()
	s.unknSec = i()
	for k := range s.cdp {
		for cf := range s.cdp[k].val {
			s.cdp[k].val[cf] = f()
		}
		s.cdp[k].unkn = i()
		s.cdp[k].last = i()
	}
	start := i()
	if bad {
		return 0, errCorrupt
	}
	return start, nil
}
