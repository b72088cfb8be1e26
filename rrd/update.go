// Package rrd stores munin-style metrics in the loghost's SQLite file the
// way munin's RRD files hold them: primary data points every 300 s built
// from irregular updates exactly as rrdtool builds them (time weighting
// across step boundaries, heartbeat, COUNTER/DERIVE/ABSOLUTE/GAUGE rates,
// min/max), consolidated into munin's four tiers (AVERAGE, MIN and MAX
// with xff 0.5), plus the raw rates of the last 48 hours packed in blocks.
//
// Each series' hot state lives in memory; the consumer applies the event
// stream to it and writes the dirty series together with its cursor in
// one transaction, so a crash replays the stream into the restored state.
package rrd

import (
	"math"

	"github.com/watchpost/watchpost/munin"
)

// Step is the primary data point step, munin's update rate.
const Step = 300

// DefaultHeartbeat is munin's: twice the step. A gap between two updates
// longer than the heartbeat makes the time in between unknown.
const DefaultHeartbeat = 600

// createOffset mirrors how munin creates an RRD: with --start ten seconds
// before the first value, so a first GAUGE value covers ten seconds.
const createOffset = 10

// xff is munin's RRA xfiles factor: a consolidated point is unknown when
// more than half of its primary points are.
const xff = 0.5

// Tier is one consolidation level: pdps primary points per row, rows rows
// kept (a ring), chunk rows stored per database row.
type Tier struct {
	Name  string
	PDPs  int64
	Rows  int64
	Chunk int64
}

// Res is the tier's resolution in seconds.
func (t Tier) Res() int64 { return t.PDPs * Step }

// slots is how many chunks the ring needs: rows/chunk plus the partly
// overwritten oldest chunk.
func (t Tier) slots() int64 { return t.Rows/t.Chunk + 1 }

// Tiers returns munin's RRA set ("graph_data_size normal"): 5 min for 2
// days, 30 min for 9 days, 2 h for 45 days, 1 day for 450 days.
func Tiers() [4]Tier {
	return [4]Tier{
		{"5m", 1, 576, 48},
		{"30m", 6, 432, 48},
		{"2h", 24, 540, 45},
		{"1d", 288, 450, 45},
	}
}

// Consolidation functions, in the order rows hold them.
const (
	cfAvg = iota
	cfMin
	cfMax
	nCF
)

// row is one consolidated row waiting to be written.
type row struct {
	idx int64 // row end time / tier resolution
	v   [nCF]float64
}

type cdpState struct {
	val  [nCF]float64 // rrdtool's CDP_val per CF
	unkn int64        // CDP_unkn_pdp_cnt (the same for every CF)
	last int64        // index of the newest row written (0: none)
}

// state is one data source as rrdtool keeps it in an RRD file.
type state struct {
	lastUp    int64
	lastDS    float64
	lastKnown bool
	pdpVal    float64
	unknSec   int64
	cdp       [4]cdpState
}

// def is what decides how a series turns values into rates.
type def struct {
	typ      munin.FieldType
	min, max float64 // NaN: unset
}

// init is rrdtool create --start start.
func (s *state) init(start int64, tiers *[4]Tier) {
	*s = state{lastUp: start, pdpVal: 0, unknSec: start % Step}
	for i, t := range tiers {
		c := &s.cdp[i]
		c.val = [nCF]float64{math.NaN(), math.NaN(), math.NaN()}
		c.unkn = ((start - s.unknSec) % (Step * t.PDPs)) / Step
	}
}

// update is rrdtool update at time t (t > lastUp) with value v (known
// false: "U"). It returns the rate of this update (NaN when unknown) and
// hands each consolidated row to emit.
func (s *state) update(d *def, hb int64, t int64, v float64, known bool, tiers *[4]Tier, emit func(tier int, r row)) float64 {
	interval := float64(t - s.lastUp)
	procSt := s.lastUp - s.lastUp%Step
	occuAge := t % Step
	occuSt := t - occuAge
	var pre, post float64
	if occuSt > procSt {
		pre = float64(occuSt - s.lastUp)
		post = float64(occuAge)
	} else {
		pre = interval
	}
	procCnt := procSt / Step
	elapsed := (occuSt - procSt) / Step

	// update_pdp_prep
	if float64(hb) < interval {
		s.lastKnown = false
	}
	pdpNew, rate := math.NaN(), math.NaN()
	if known && float64(hb) >= interval {
		switch d.typ {
		case munin.Counter, munin.Derive:
			if s.lastKnown {
				diff := v - s.lastDS
				if d.typ == munin.Counter {
					// rrdtool's "simple overflow catcher" for 32 and 64 bit
					// counters, with its 2^32-1 (not 2^32) as 1.7 has it.
					if diff < 0 {
						diff += 4294967295.0
					}
					if diff < 0 {
						diff += 18446744069414584320.0
					}
				}
				pdpNew = diff
				rate = diff / interval
			}
		case munin.Absolute:
			pdpNew = v
			rate = v / interval
		default:
			pdpNew = v * interval
			rate = v
		}
		if !math.IsNaN(rate) && ((!math.IsNaN(d.max) && rate > d.max) || (!math.IsNaN(d.min) && rate < d.min)) {
			pdpNew = math.NaN()
		}
	}
	s.lastDS, s.lastKnown = v, known

	if elapsed == 0 {
		// simple_update
		switch {
		case math.IsNaN(pdpNew):
			s.unknSec += int64(math.Floor(interval))
		case math.IsNaN(s.pdpVal):
			s.pdpVal = pdpNew
		default:
			s.pdpVal += pdpNew
		}
	} else {
		if elapsed > 1 {
			// rrdtool 1.5+ closes the PDP the last update left open on
			// its own (the "JKammler bugfix"), with this update's share
			// of it, before the PDPs this update spans.
			if so := int64(pre) % Step; so > 0 {
				open := math.NaN()
				if !math.IsNaN(pdpNew) && interval > 0 {
					open = pdpNew * float64(so) / interval
					pdpNew -= open
				}
				p := s.processPDP(float64(so), float64(so), 0, 1, open, hb)
				for i := range tiers {
					s.consolidate(i, &tiers[i], p, 1, procCnt, emit)
				}
				interval -= float64(so)
				pre -= float64(so)
				elapsed--
				procCnt++
			}
		}
		p := s.processPDP(interval, pre, post, elapsed, pdpNew, hb)
		for i := range tiers {
			s.consolidate(i, &tiers[i], p, elapsed, procCnt, emit)
		}
	}
	s.lastUp = t
	if math.IsNaN(pdpNew) {
		return math.NaN()
	}
	return rate
}

// processPDP is rrdtool's process_pdp_st: it closes the PDPs an update
// spans and returns their value (all of them get the same).
func (s *state) processPDP(interval, pre, post float64, elapsed int64, pdpNew float64, hb int64) float64 {
	preUnknown := 0.0
	if math.IsNaN(pdpNew) {
		preUnknown = pre
	} else {
		if math.IsNaN(s.pdpVal) {
			s.pdpVal = 0
		}
		s.pdpVal += pdpNew / interval * pre
	}
	p := math.NaN()
	if !(interval > float64(hb) || Step/2.0 < float64(s.unknSec)) {
		p = s.pdpVal / (float64(elapsed*Step-s.unknSec) - preUnknown)
	}
	if math.IsNaN(pdpNew) {
		s.unknSec = int64(math.Floor(post))
		s.pdpVal = math.NaN()
	} else {
		s.unknSec = 0
		s.pdpVal = pdpNew / interval * post
	}
	return p
}

// consolidate is rrdtool's update_cdp for one RRA triple (AVERAGE, MIN,
// MAX of the same pdp count), after elapsed primary points of value p.
func (s *state) consolidate(i int, t *Tier, p float64, elapsed, procCnt int64, emit func(int, row)) {
	c := &s.cdp[i]
	n := t.PDPs
	startOff := n - procCnt%n
	var stepCnt int64
	if startOff <= elapsed {
		stepCnt = (elapsed-startOff)/n + 1
	}
	nan := math.IsNaN(p)
	if stepCnt == 0 {
		if nan {
			c.unkn += elapsed
			return
		}
		e := float64(elapsed)
		if math.IsNaN(c.val[cfAvg]) {
			c.val[cfAvg] = p * e
		} else {
			c.val[cfAvg] += p * e
		}
		if math.IsNaN(c.val[cfMin]) || p < c.val[cfMin] {
			c.val[cfMin] = p
		}
		if math.IsNaN(c.val[cfMax]) || p > c.val[cfMax] {
			c.val[cfMax] = p
		}
		return
	}
	var prim row
	if nan {
		c.unkn += startOff
	}
	if float64(c.unkn) > float64(n)*xff {
		prim.v = [nCF]float64{math.NaN(), math.NaN(), math.NaN()}
	} else {
		cur := ifNaN(p, 0)
		prim.v[cfAvg] = (ifNaN(c.val[cfAvg], 0) + cur*float64(startOff)) / float64(n-c.unkn)
		cum, cur := ifNaN(c.val[cfMin], math.Inf(1)), ifNaN(p, math.Inf(1))
		prim.v[cfMin] = cum
		if cur < cum {
			prim.v[cfMin] = cur
		}
		cum, cur = ifNaN(c.val[cfMax], math.Inf(-1)), ifNaN(p, math.Inf(-1))
		prim.v[cfMax] = cum
		if cur > cum {
			prim.v[cfMax] = cur
		}
	}
	into := (elapsed - startOff) % n
	if into == 0 || nan {
		c.val = [nCF]float64{0, math.Inf(1), math.Inf(-1)}
	} else {
		c.val = [nCF]float64{p * float64(into), p, p}
	}
	if nan {
		c.unkn = into
	} else {
		c.unkn = 0
	}
	prim.idx = (procCnt + startOff) / n
	if n == 1 {
		// One PDP per row: every row is the PDP itself.
		prim.v = [nCF]float64{p, p, p}
	}
	emit(i, prim)
	last := prim.idx + stepCnt - 1
	if !nan {
		// Rows after the first repeat the PDP (rrdtool's secondary
		// value); unknown ones need no write, an unwritten row reads
		// unknown. Only the ring's worth can still matter.
		from := max(prim.idx+1, last-t.Rows+1)
		for k := from; k <= last; k++ {
			emit(i, row{idx: k, v: [nCF]float64{p, p, p}})
		}
	}
	c.last = last
}

func ifNaN(v, alt float64) float64 {
	if math.IsNaN(v) {
		return alt
	}
	return v
}
