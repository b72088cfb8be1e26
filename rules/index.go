package rules

// ctxIndex finds the contexts a line may belong to without trying every
// context's regex: logsurfer offers each line to every open context, which
// with tens of thousands of contexts costs minutes. Each context whose regex
// needs a literal of at least 4 bytes is filed under the rarest 8-byte (or
// 4-byte) gram of that literal; a line then looks up each of its own grams.
// Contexts without such a literal are tried on every line.
type ctxIndex struct {
	g8   map[uint64][]*lcontext
	g4   map[uint32][]*lcontext
	scan []*lcontext
	// bloom has a bit set for every filed gram (set bits are never
	// cleared): most of a line's grams are rejected without a map probe.
	bloom []uint64
	adds  int // grams set since the bloom was last rebuilt
}

// rebuildBloom clears the bits of grams no longer filed, so that churn
// (contexts come and go all day) does not fill the filter.
func (x *ctxIndex) rebuildBloom() {
	clear(x.bloom)
	for k := range x.g8 {
		x.bloomSet(k)
	}
	for k := range x.g4 {
		x.bloomSet(uint64(k) | 1<<63)
	}
	x.adds = len(x.g8) + len(x.g4)
}

const bloomBits = 1 << 20

func bloomHash(k uint64) uint32 { return uint32((k * 0x9E3779B97F4A7C15) >> 44) }

func (x *ctxIndex) bloomSet(k uint64) { h := bloomHash(k); x.bloom[h>>6] |= 1 << (h & 63) }

func (x *ctxIndex) bloomHas(k uint64) bool {
	h := bloomHash(k)
	return x.bloom[h>>6]&(1<<(h&63)) != 0
}

// indexSlot records where a context is filed, for O(1) removal.
type indexSlot struct {
	tier int8 // 0 scan, 4, 8
	k8   uint64
	k4   uint32
	pos  int
}

func newCtxIndex() *ctxIndex {
	return &ctxIndex{g8: map[uint64][]*lcontext{}, g4: map[uint32][]*lcontext{}, bloom: make([]uint64, bloomBits/64)}
}

func key8(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

func key4(s string, i int) uint32 {
	_ = s[i+3]
	return uint32(s[i]) | uint32(s[i+1])<<8 | uint32(s[i+2])<<16 | uint32(s[i+3])<<24
}

func (x *ctxIndex) add(c *lcontext) {
	x.adds++
	if x.adds > 2*(len(x.g8)+len(x.g4))+bloomBits/16 {
		x.rebuildBloom()
	}
	lit := ""
	if c.re.isLit {
		lit = c.re.lit
	} else if len(c.re.need) > 0 {
		lit = c.re.need[0]
	}
	switch {
	case len(lit) >= 8:
		best, bestN := uint64(0), -1
		for i := 0; i+8 <= len(lit); i++ {
			k := key8(lit, i)
			if n := len(x.g8[k]); bestN < 0 || n <= bestN {
				best, bestN = k, n
			}
		}
		c.slot = indexSlot{tier: 8, k8: best, pos: len(x.g8[best])}
		x.g8[best] = append(x.g8[best], c)
		x.bloomSet(best)
	case len(lit) >= 4:
		best, bestN := uint32(0), -1
		for i := 0; i+4 <= len(lit); i++ {
			k := key4(lit, i)
			if n := len(x.g4[k]); bestN < 0 || n <= bestN {
				best, bestN = k, n
			}
		}
		c.slot = indexSlot{tier: 4, k4: best, pos: len(x.g4[best])}
		x.g4[best] = append(x.g4[best], c)
		x.bloomSet(uint64(best) | 1<<63)
	default:
		c.slot = indexSlot{tier: 0, pos: len(x.scan)}
		x.scan = append(x.scan, c)
	}
}

func (x *ctxIndex) remove(c *lcontext) {
	var list []*lcontext
	switch c.slot.tier {
	case 8:
		list = x.g8[c.slot.k8]
	case 4:
		list = x.g4[c.slot.k4]
	default:
		list = x.scan
	}
	i := c.slot.pos
	if i >= len(list) || list[i] != c {
		return
	}
	last := len(list) - 1
	list[i] = list[last]
	list[i].slot.pos = i
	list[last] = nil
	list = list[:last]
	switch c.slot.tier {
	case 8:
		if len(list) == 0 {
			delete(x.g8, c.slot.k8)
		} else {
			x.g8[c.slot.k8] = list
		}
	case 4:
		if len(list) == 0 {
			delete(x.g4, c.slot.k4)
		} else {
			x.g4[c.slot.k4] = list
		}
	default:
		x.scan = list
	}
}

// candidates calls fn for every context that may match line; a context may
// be offered more than once (fn deduplicates with the line serial).
func (x *ctxIndex) candidates(line string, fn func(*lcontext)) {
	for _, c := range x.scan {
		fn(c)
	}
	if len(x.g8) > 0 {
		for i := 0; i+8 <= len(line); i++ {
			k := key8(line, i)
			if !x.bloomHas(k) {
				continue
			}
			for _, c := range x.g8[k] {
				fn(c)
			}
		}
	}
	if len(x.g4) > 0 {
		for i := 0; i+4 <= len(line); i++ {
			k := key4(line, i)
			if !x.bloomHas(uint64(k) | 1<<63) {
				continue
			}
			for _, c := range x.g4[k] {
				fn(c)
			}
		}
	}
}
