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
	// wordNumBands hold the word-number keys, after the trigram bands.
	// Blocks written before them have no rows there and are never
	// excluded by those keys.
	wordNumBands = 2
	// dottedBands hold the dotted keys, after the word-number bands;
	// blocks written before them are likewise never excluded by them.
	dottedBands = 2
	allBands    = sigBands + wordNumBands + dottedBands
)

// Word-number keys. Trigrams say little about numbers: every block of
// logs holds every digit trigram, so "process 4242" or "port 4711"
// excluded no block. A word-number key is the three letters before a
// space and the number after it ("ess 4242", "ort 22$"): its first four
// digits, or all of a shorter number with "$", so a query can require
// one whatever digits follow.
func wordNumKeys(s string, add func(k uint64)) {
	for i := 3; i+1 < len(s); i++ {
		if !wordThenNumber(s, i) {
			continue
		}
		j := i + 1
		for j < len(s) && j-i-1 < 4 && isDigit(s[j]) {
			j++
		}
		full := j-i-1 < 4 || j == len(s) || !isDigit(s[j])
		if j-i-1 == 4 {
			full = false // four digits or more: the prefix key
		}
		add(wordNumKey(s[i-3:i], s[i+1:j], full))
	}
}

// wordNumKey hashes letters (lowered), a space, the digits, and "$" when
// the number ends there.
func wordNumKey(letters, digits string, end bool) uint64 {
	h := letterKey([4]byte{0, 'w', 'n', 0xFF}, letters, digits)
	if end {
		h = (h ^ '$') * 1099511628211
	}
	return h | 1<<63
}

// letterKey is FNV-1a (as fieldKey) over a name no field has, three
// letters (lowered), a space and what follows them, without building
// the string. The top bit, set by the callers, keeps the keys apart from
// trigrams.
func letterKey(name [4]byte, letters, tail string) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range name {
		h = (h ^ uint64(c)) * 1099511628211
	}
	for k := 0; k < 3; k++ {
		h = (h ^ uint64(lowerASCII(letters[k]))) * 1099511628211
	}
	h = (h ^ ' ') * 1099511628211
	for k := 0; k < len(tail); k++ {
		h = (h ^ uint64(tail[k])) * 1099511628211
	}
	return h
}

// wordThenNumber tells whether s[i] is a space with three ASCII letters
// before it and a digit after it: where both kinds of key start.
func wordThenNumber(s string, i int) bool {
	return i >= 3 && i+1 < len(s) && s[i] == ' ' && isDigit(s[i+1]) &&
		isLetterASCII(s[i-1]) && isLetterASCII(s[i-2]) && isLetterASCII(s[i-3])
}

// wordNumProbes returns the word-number keys every line holding the
// lowered literal has.
func wordNumProbes(lit string, dst []sigProbe) []sigProbe {
	for i := 3; i+1 < len(lit); i++ {
		if !wordThenNumber(lit, i) {
			continue
		}
		j := i + 1
		for j < len(lit) && isDigit(lit[j]) {
			j++
		}
		n := j - i - 1
		switch {
		case n >= 4:
			dst = append(dst, wordNumProbe(wordNumKey(lit[i-3:i], lit[i+1:i+5], false)))
		case j < len(lit):
			// a whole short number: the literal goes on after it
			dst = append(dst, wordNumProbe(wordNumKey(lit[i-3:i], lit[i+1:j], true)))
		}
	}
	return dst
}

func wordNumProbe(k uint64) sigProbe {
	h := mix(k)
	return sigProbe{band: sigBands + int(h%wordNumBands), h: h}
}

// Dotted keys. An address prefix ("from 10.1.") is among the commonest
// searches of an on-call engineer, and neither trigrams nor word-number
// keys narrow it: a block of sshd lines holds every digit trigram and
// "rom 10$". A dotted key is the three letters before a space and the
// first two groups of digits after it with their dots ("rom 10.1."), so
// a literal holding that much excludes the blocks without the prefix.
func dottedKeys(s string, add func(k uint64)) {
	for i := 3; i+4 < len(s); i++ {
		if !wordThenNumber(s, i) {
			continue
		}
		if end := dottedPrefix(s, i+1); end > 0 {
			add(dottedKey(s[i-3:i], s[i+1:end]))
		}
	}
}

// dottedPrefix returns the end of "D.D." at s[at:] (D: one to three
// digits), or 0.
func dottedPrefix(s string, at int) int {
	j := at
	for g := 0; g < 2; g++ {
		k := j
		for k < len(s) && k-j < 4 && isDigit(s[k]) {
			k++
		}
		if k == j || k-j > 3 || k == len(s) || s[k] != '.' {
			return 0
		}
		j = k + 1
	}
	return j
}

// dottedKey hashes letters (lowered), a space and the prefix.
func dottedKey(letters, prefix string) uint64 {
	return letterKey([4]byte{0, 'd', 't', 0xFF}, letters, prefix) | 1<<63
}

// dottedProbes returns the dotted keys every line holding the lowered
// literal has.
func dottedProbes(lit string, dst []sigProbe) []sigProbe {
	dottedKeys(lit, func(k uint64) {
		h := mix(k)
		dst = append(dst, sigProbe{band: sigBands + wordNumBands + int(h%dottedBands), h: h})
	})
	return dst
}

func isDigit(c byte) bool       { return c >= '0' && c <= '9' }
func isLetterASCII(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// sigBuilder collects the distinct keys of one block. It keeps a 2 MiB
// bitmap of every possible trigram so that deduplication costs one bit
// test per trigram, not a map insert; only the writer goroutine uses it.
type sigBuilder struct {
	seen    []uint64 // 1<<24 bits
	keys    []uint32 // distinct trigrams in insertion order
	extra   map[uint64]struct{}
	wordNum map[uint64]struct{}
	dotted  map[uint64]struct{}
}

func newSigBuilder() *sigBuilder {
	return &sigBuilder{seen: make([]uint64, 1<<24/64), extra: map[uint64]struct{}{}, wordNum: map[uint64]struct{}{},
		dotted: map[uint64]struct{}{}}
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

// addLine adds the trigrams and word-number keys of s.
func (b *sigBuilder) addLine(s string) {
	if len(s) < 3 {
		return
	}
	wordNumKeys(s, func(k uint64) { b.wordNum[k] = struct{}{} })
	dottedKeys(s, func(k uint64) { b.dotted[k] = struct{}{} })
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
func (b *sigBuilder) build() [allBands][]byte {
	var counts [allBands]int
	hashes := make([]uint64, 0, len(b.keys)+len(b.extra))
	var wn []uint64
	for k := range b.wordNum {
		wn = append(wn, mix(k))
		delete(b.wordNum, k)
	}
	var dt []uint64
	for k := range b.dotted {
		dt = append(dt, mix(k))
		delete(b.dotted, k)
	}
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
	for _, h := range wn {
		counts[sigBands+h%wordNumBands]++
	}
	for _, h := range dt {
		counts[sigBands+wordNumBands+h%dottedBands]++
	}
	var out [allBands][]byte
	for i := range out {
		nbits := sigMinBits
		if want := counts[i] * sigBitsPerKey; want > nbits {
			nbits = 1 << bits.Len(uint(want-1))
		}
		out[i] = make([]byte, nbits/8)
	}
	set := func(band []byte, h uint64) {
		mask := uint64(len(band)*8 - 1)
		p1, p2 := (h>>8)&mask, (h>>36)&mask
		band[p1>>3] |= 1 << (p1 & 7)
		band[p2>>3] |= 1 << (p2 & 7)
	}
	for _, h := range hashes {
		set(out[h%sigBands], h)
	}
	for _, h := range wn {
		set(out[sigBands+h%wordNumBands], h)
	}
	for _, h := range dt {
		set(out[sigBands+wordNumBands+h%dottedBands], h)
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
