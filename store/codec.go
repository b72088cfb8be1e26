package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/klauspost/compress/zstd"
	"github.com/watchpost/watchpost/logparse"
)

const blockVersion = 1

var errCorrupt = errors.New("corrupt block")

// codec compresses blocks; zstd encoders and decoders are safe for
// concurrent EncodeAll/DecodeAll.
type codec struct {
	enc *zstd.Encoder // ingest: fastest, the writer must keep up
	// encSmall packs compacted blocks, which are written in the
	// background and kept for months: smaller is worth the CPU there.
	encSmall *zstd.Encoder
	dec      *zstd.Decoder
}

func newCodec() (*codec, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	encSmall, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	return &codec{enc: enc, encSmall: encSmall, dec: dec}, nil
}

// encodeRecords appends the encoding of recs (all of one host) to dst.
func encodeRecords(dst []byte, recs []Record) []byte {
	dst = append(dst, blockVersion)
	dst = binary.AppendUvarint(dst, uint64(len(recs)))
	baseSeq := recs[0].Seq
	baseTime := recs[0].Received.UnixNano()
	dst = binary.AppendVarint(dst, baseSeq)
	dst = binary.AppendVarint(dst, baseTime)
	var body []byte
	for i := range recs {
		r := &recs[i]
		// Each record is length-prefixed with its raw line first, so a
		// scan can test the line and skip the rest of a record that
		// cannot match without decoding it.
		body = appendString(body[:0], r.Raw)
		body = append(body, byte(r.Kind))
		body = binary.AppendUvarint(body, uint64(r.Seq-baseSeq))
		recv := r.Received.UnixNano()
		body = binary.AppendVarint(body, recv-baseTime)
		body = binary.AppendVarint(body, r.Time.UnixNano()-recv)
		body = append(body, byte(r.Severity+1), byte(r.Facility+1))
		body = binary.AppendVarint(body, r.Offset)
		for _, s := range [...]string{r.Source, r.Gen, r.File, r.Format, r.Site, r.Program, r.PID} {
			body = appendString(body, s)
		}
		switch {
		case r.Message == r.Raw:
			body = append(body, 0)
		case len(r.Message) < len(r.Raw) && r.Raw[len(r.Raw)-len(r.Message):] == r.Message:
			body = append(body, 1)
			body = binary.AppendUvarint(body, uint64(len(r.Raw)-len(r.Message)))
		default:
			body = append(body, 2)
			body = appendString(body, r.Message)
		}
		body = binary.AppendUvarint(body, uint64(len(r.Fields)))
		for _, f := range r.Fields {
			body = appendString(body, f.Key)
			body = appendString(body, f.Value)
		}
		body = appendString(body, unsafe.String(unsafe.SliceData(r.Data), len(r.Data)))
		dst = binary.AppendUvarint(dst, uint64(len(body)))
		dst = append(dst, body...)
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder walks an encoded block. The strings of the records it yields
// point into the block's buffer: callers that keep a record past the next
// call must Clone it.
type decoder struct {
	buf      []byte
	n        int
	i        int
	baseSeq  int64
	baseTime int64
	host     string
	rec      []byte // the rest of the record nextRaw opened
}

func newDecoder(buf []byte, host string) (*decoder, error) {
	if len(buf) < 1 || buf[0] != blockVersion {
		return nil, errCorrupt
	}
	d := &decoder{buf: buf[1:], host: host}
	n, ok := d.uvarint()
	if !ok || n > uint64(len(buf)) {
		return nil, errCorrupt
	}
	d.n = int(n)
	var ok1, ok2 bool
	d.baseSeq, ok1 = d.varint()
	d.baseTime, ok2 = d.varint()
	if !ok1 || !ok2 {
		return nil, errCorrupt
	}
	return d, nil
}

func (d *decoder) uvarint() (uint64, bool) {
	v, k := binary.Uvarint(d.buf)
	if k <= 0 {
		return 0, false
	}
	d.buf = d.buf[k:]
	return v, true
}

func (d *decoder) varint() (int64, bool) {
	v, k := binary.Varint(d.buf)
	if k <= 0 {
		return 0, false
	}
	d.buf = d.buf[k:]
	return v, true
}

func (d *decoder) str() (string, bool) {
	n, ok := d.uvarint()
	if !ok || n > uint64(len(d.buf)) {
		return "", false
	}
	s := unsafe.String(unsafe.SliceData(d.buf), int(n))
	if n == 0 {
		s = ""
	}
	d.buf = d.buf[n:]
	return s, true
}

// nextRaw returns the next record's raw line and leaves the decoder at
// the rest of that record, for rest or skip.
func (d *decoder) nextRaw() (raw string, ok bool, err error) {
	if d.i >= d.n {
		return "", false, nil
	}
	d.i++
	n, ok := d.uvarint()
	if !ok || n > uint64(len(d.buf)) {
		return "", false, errCorrupt
	}
	d.rec, d.buf = d.buf[:n], d.buf[n:]
	body := d.buf
	d.buf = d.rec
	raw, ok = d.str()
	d.rec, d.buf = d.buf, body
	if !ok {
		return "", false, errCorrupt
	}
	return raw, true, nil
}

// peekTime reads the event time (Unix ns) of the record nextRaw opened
// without decoding the rest of it.
func (d *decoder) peekTime() (int64, bool) {
	b := d.rec
	if len(b) < 1 {
		return 0, false
	}
	b = b[1:] // kind
	_, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, false
	}
	b = b[k:]
	rd, k := binary.Varint(b)
	if k <= 0 {
		return 0, false
	}
	b = b[k:]
	td, k := binary.Varint(b)
	if k <= 0 {
		return 0, false
	}
	return d.baseTime + rd + td, true
}

// rest decodes the remainder of the record nextRaw opened into r.
func (d *decoder) rest(r *Record, raw string) error {
	body := d.buf
	d.buf = d.rec
	err := d.fields(r, raw)
	d.buf = body
	return err
}

// next decodes the next record into r, reusing r.Fields' storage.
func (d *decoder) next(r *Record) (bool, error) {
	raw, ok, err := d.nextRaw()
	if !ok || err != nil {
		return false, err
	}
	return true, d.rest(r, raw)
}

func (d *decoder) fields(r *Record, raw string) error {
	r.Raw = raw
	if len(d.buf) < 1 {
		return errCorrupt
	}
	r.Kind = Kind(d.buf[0])
	d.buf = d.buf[1:]
	seq, ok := d.uvarint()
	if !ok {
		return errCorrupt
	}
	r.Seq = d.baseSeq + int64(seq)
	rd, ok1 := d.varint()
	td, ok2 := d.varint()
	if !ok1 || !ok2 || len(d.buf) < 2 {
		return errCorrupt
	}
	recv := d.baseTime + rd
	r.Received = time.Unix(0, recv)
	r.Time = time.Unix(0, recv+td)
	r.Severity, r.Facility = int(d.buf[0])-1, int(d.buf[1])-1
	d.buf = d.buf[2:]
	if r.Offset, ok = d.varint(); !ok {
		return errCorrupt
	}
	for _, p := range [...]*string{&r.Source, &r.Gen, &r.File, &r.Format, &r.Site, &r.Program, &r.PID} {
		if *p, ok = d.str(); !ok {
			return errCorrupt
		}
	}
	if len(d.buf) < 1 {
		return errCorrupt
	}
	tag := d.buf[0]
	d.buf = d.buf[1:]
	switch tag {
	case 0:
		r.Message = r.Raw
	case 1:
		k, ok := d.uvarint()
		if !ok || k > uint64(len(r.Raw)) {
			return errCorrupt
		}
		r.Message = r.Raw[k:]
	case 2:
		if r.Message, ok = d.str(); !ok {
			return errCorrupt
		}
	default:
		return errCorrupt
	}
	nf, ok := d.uvarint()
	if !ok || nf > uint64(len(d.buf)) {
		return errCorrupt
	}
	r.Fields = r.Fields[:0]
	for j := uint64(0); j < nf; j++ {
		k, ok1 := d.str()
		v, ok2 := d.str()
		if !ok1 || !ok2 {
			return errCorrupt
		}
		r.Fields = append(r.Fields, logparse.Field{Key: k, Value: v})
	}
	data, ok := d.str()
	if !ok {
		return errCorrupt
	}
	if data == "" {
		r.Data = nil
	} else {
		r.Data = unsafe.Slice(unsafe.StringData(data), len(data))
	}
	r.Host = d.host
	return nil
}

// Clone returns a copy of r that shares no memory with a block buffer.
func (r *Record) Clone() Record {
	c := *r
	buf := make([]byte, 0, r.size())
	cp := func(s string) string {
		if s == "" {
			return ""
		}
		start := len(buf)
		buf = append(buf, s...)
		return unsafe.String(&buf[start], len(s))
	}
	c.Host = cp(r.Host)
	c.Source, c.Gen, c.File, c.Format, c.Site = cp(r.Source), cp(r.Gen), cp(r.File), cp(r.Format), cp(r.Site)
	c.Program, c.PID = cp(r.Program), cp(r.PID)
	c.Raw = cp(r.Raw)
	if len(r.Message) <= len(r.Raw) && r.Message == r.Raw[len(r.Raw)-len(r.Message):] {
		c.Message = c.Raw[len(c.Raw)-len(r.Message):]
	} else {
		c.Message = cp(r.Message)
	}
	if len(r.Fields) > 0 {
		c.Fields = make([]logparse.Field, len(r.Fields))
		for i, f := range r.Fields {
			c.Fields[i] = logparse.Field{Key: cp(f.Key), Value: cp(f.Value)}
		}
	} else {
		c.Fields = nil
	}
	if len(r.Data) > 0 {
		c.Data = append([]byte(nil), r.Data...)
	}
	return c
}

func (r *Record) size() int {
	n := len(r.Host) + len(r.Source) + len(r.Gen) + len(r.File) + len(r.Format) + len(r.Site) + len(r.Program) + len(r.PID) + len(r.Raw) + len(r.Message)
	for _, f := range r.Fields {
		n += len(f.Key) + len(f.Value)
	}
	return n
}
