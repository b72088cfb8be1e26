package store

import "math/bits"

// The signature of a block is a bloom filter over the lowercased trigrams
// of its lines and over a few exact field values (program, severity...),
// split into bands by hash so that a query reads only the bands its keys
// fall in: a three-word query touches at most a handful of sixteen bands.
const (
	sigBands      = 16
	sigBitsPerKey = 10
	sigMinBits    = 64
)

// sigBuilder collects the distinct keys of one block. It keeps a 2 MiB
// bitmap of every possible trigram so that deduplication costs one bit
// test per trigram, not a map insert; only the writer goroutine uses it.
type sigBuilder struct {
	seen  []uint64 // 1<<24 bits
	keys  []uint32 // distinct trigrams in insertion order
	extra map[uint64]struct{}
}

func newSigBuilder() *sigBuilder {
	return &sigBuilder{seen: make([]uint64, 1<<24/64), extra: map[uint64]struct{}{}}
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

// addLine adds the trigrams of s.
func (b *sigBuilder) addLine(s string) {
	if len(s) < 3 {
		return
	}
	t := uint32(lowerASCII(s[0]))<<8 | uint32(lowerASCII(s[1]))
	for i := 2; i < len(s); i++ {
		t = (t<<8 | uint32(lowerASCII(s[i]))) & 0xFFFFFF
		w, m := t>>6, uint64(1)<<(t&63)
		if b.seen[w]&m == 0 {
			b.seen[w] |= m
			b.keys = append(b.keys, t)
		}
	}
}

// addField adds the exact value of a field.
func (b *sigBuilder) addField(name, value string) {
	b.extra[fieldKey(name, value)] = struct{}{}
}

func fieldKey(name, value string) uint64 {
	// FNV-1a over name, a separator no name holds, and the value.
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	h = (h ^ 0xFF) * 1099511628211
	for i := 0; i < len(value); i++ {
		h = (h ^ uint64(value[i])) * 1099511628211
	}
	return h | 1<<63 // never equal to a trigram key
}

func mix(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// build returns the bands of the signature and resets the builder.
func (b *sigBuilder) build() [sigBands][]byte {
	var counts [sigBands]int
	hashes := make([]uint64, 0, len(b.keys)+len(b.extra))
	for _, t := range b.keys {
		hashes = append(hashes, mix(uint64(t)))
		b.seen[t>>6] = 0 // reset by word: cheaper than a 2 MiB clear
	}
	for k := range b.extra {
		hashes = append(hashes, mix(k))
		delete(b.extra, k)
	}
	b.keys = b.keys[:0]
	for _, h := range hashes {
		counts[h%sigBands]++
	}
	var out [sigBands][]byte
	for i := range out {
		nbits := sigMinBits
		if want := counts[i] * sigBitsPerKey; want > nbits {
			nbits = 1 << bits.Len(uint(want-1))
		}
		out[i] = make([]byte, nbits/8)
	}
	for _, h := range hashes {
		band := out[h%sigBands]
		mask := uint64(len(band)*8 - 1)
		p1, p2 := (h>>8)&mask, (h>>36)&mask
		band[p1>>3] |= 1 << (p1 & 7)
		band[p2>>3] |= 1 << (p2 & 7)
	}
	return out
}

// sigProbe is a key a query requires, ready to test against bands.
type sigProbe struct {
	band int
	h    uint64
}

func probeFor(k uint64) sigProbe {
	h := mix(k)
	return sigProbe{band: int(h % sigBands), h: h}
}

func (p sigProbe) in(band []byte) bool {
	if len(band) == 0 {
		return true // no signature: cannot exclude
	}
	mask := uint64(len(band)*8 - 1)
	p1, p2 := (p.h>>8)&mask, (p.h>>36)&mask
	return band[p1>>3]&(1<<(p1&7)) != 0 && band[p2>>3]&(1<<(p2&7)) != 0
}

// trigramProbes returns the probes for a lowercased needle. Trigrams with
// non-ASCII bytes are left out: their case folding is not the index's.
func trigramProbes(needle string, dst []sigProbe) []sigProbe {
	for i := 0; i+3 <= len(needle); i++ {
		a, b, c := needle[i], needle[i+1], needle[i+2]
		if a >= 0x80 || b >= 0x80 || c >= 0x80 {
			continue
		}
		t := uint32(lowerASCII(a))<<16 | uint32(lowerASCII(b))<<8 | uint32(lowerASCII(c))
		dst = append(dst, probeFor(uint64(t)))
	}
	return dst
}
