package rrd

import (
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/watchpost/watchpost/internal/peers"
	"github.com/watchpost/watchpost/munin"
)

// upd is one update: time and value (unknown: munin's U).
type upd struct {
	t       int64
	v       float64
	unknown bool
}

// muninRRAs is the RRA set munin's UpdateWorker creates for
// graph_data_size normal.
func muninRRAs() []string {
	var out []string
	for _, t := range Tiers() {
		for _, cf := range []string{"AVERAGE", "MIN", "MAX"} {
			out = append(out, fmt.Sprintf("RRA:%s:0.5:%d:%d", cf, t.PDPs, t.Rows))
		}
	}
	return out
}

var (
	rraRe = regexp.MustCompile(`(?s)<rra>\s*<cf>\s*(\w+)\s*</cf>\s*<pdp_per_row>(\d+)</pdp_per_row>.*?<database>(.*?)</database>`)
	rowRe = regexp.MustCompile(`/ (\d+) --> <row><v>([^<]+)</v></row>`)
)

// rrdtoolRows runs the real rrdtool over the updates and returns, per
// tier and CF, row end time -> value, from rrdtool dump.
func rrdtoolRows(t *testing.T, typ munin.FieldType, min, max string, start int64, ups []upd) map[[2]int]map[int64]float64 {
	t.Helper()
	bin := peers.Require(t, "rrdtool")["rrdtool"]
	f := filepath.Join(t.TempDir(), "f.rrd")
	if min == "" {
		min = "U"
	}
	if max == "" {
		max = "U"
	}
	args := append([]string{"create", f, "--start", strconv.FormatInt(start, 10), "--step", "300",
		fmt.Sprintf("DS:x:%s:%d:%s:%s", typ, DefaultHeartbeat, min, max)}, muninRRAs()...)
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("rrdtool create: %v: %s", err, out)
	}
	for i := 0; i < len(ups); i += 200 {
		args := []string{"update", f}
		for _, u := range ups[i:min2(i+200, len(ups))] {
			v := "U"
			if !u.unknown {
				v = strconv.FormatFloat(u.v, 'f', -1, 64)
			}
			args = append(args, fmt.Sprintf("%d:%s", u.t, v))
		}
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("rrdtool update: %v: %s", err, out)
		}
	}
	out, err := exec.Command(bin, "dump", f).Output()
	if err != nil {
		t.Fatalf("rrdtool dump: %v", err)
	}
	res := map[[2]int]map[int64]float64{}
	tiers := Tiers()
	for _, m := range rraRe.FindAllStringSubmatch(string(out), -1) {
		pdps, _ := strconv.ParseInt(m[2], 10, 64)
		ti := -1
		for i, tr := range tiers {
			if tr.PDPs == pdps {
				ti = i
			}
		}
		cf := map[string]int{"AVERAGE": cfAvg, "MIN": cfMin, "MAX": cfMax}[m[1]]
		rows := map[int64]float64{}
		for _, r := range rowRe.FindAllStringSubmatch(m[3], -1) {
			ts, _ := strconv.ParseInt(r[1], 10, 64)
			v, err := strconv.ParseFloat(strings.TrimSpace(r[2]), 64)
			if err != nil {
				t.Fatalf("dump value %q: %v", r[2], err)
			}
			rows[ts] = v
		}
		res[[2]int{ti, cf}] = rows
	}
	if len(res) != 12 {
		t.Fatalf("dump has %d RRAs, want 12", len(res))
	}
	return res
}

func min2(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// ourRows runs the same updates through state.update.
func ourRows(typ munin.FieldType, min, max string, start int64, ups []upd) (map[[2]int]map[int64]float64, []float64) {
	tiers := Tiers()
	d := newDef(typ, min, max)
	var s state
	s.init(start, &tiers)
	got := map[[2]int]map[int64]float64{}
	for ti := range tiers {
		for cf := 0; cf < nCF; cf++ {
			got[[2]int{ti, cf}] = map[int64]float64{}
		}
	}
	var rates []float64
	for _, u := range ups {
		r := s.update(&d, DefaultHeartbeat, u.t, u.v, !u.unknown, &tiers, func(ti int, r row) {
			for cf := 0; cf < nCF; cf++ {
				got[[2]int{ti, cf}][r.idx*tiers[ti].Res()] = r.v[cf]
			}
		})
		rates = append(rates, r)
	}
	return got, rates
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func compareRows(t *testing.T, want, got map[[2]int]map[int64]float64) {
	t.Helper()
	bad := 0
	for k, rows := range want {
		for ts, w := range rows {
			g, ok := got[k][ts]
			if !ok {
				g = math.NaN()
			}
			if !sameFloat(w, g) {
				bad++
				if bad <= 10 {
					t.Errorf("tier %s cf %d row %d: rrdtool %v, ours %v", Tiers()[k[0]].Name, k[1], ts, w, g)
				}
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d rows differ in all", bad)
	}
}

// scenario builds updates over days: irregular times, gaps longer than the
// heartbeat, unknowns, a counter reset and (for COUNTER) a 32-bit wrap.
func scenario(typ munin.FieldType, start int64, days int) []upd {
	var ups []upd
	t := start + createOffset
	v := 1000.0
	rnd := uint64(12345)
	next := func() uint64 { rnd ^= rnd << 13; rnd ^= rnd >> 7; rnd ^= rnd << 17; return rnd }
	end := start + int64(days)*86400
	for i := 0; t < end; i++ {
		step := int64(10 + next()%290) // irregular, 10..299 s
		switch {
		case i%997 == 500:
			step = 700 + int64(next()%5000) // gap longer than the heartbeat
		case i%1999 == 1000:
			step = 3 * 86400 // a long outage
		}
		t += step
		u := upd{t: t}
		switch typ {
		case munin.Gauge:
			u.v = float64(next()%10000) / 7
			if i%301 == 7 {
				u.v = 1e6 // above max
			}
		case munin.Absolute:
			u.v = float64(next() % 100000)
		default:
			v += float64(next() % 50000)
			if i%613 == 100 {
				v = float64(next() % 1000) // counter reset
			}
			if typ == munin.Counter && i%577 == 200 {
				v = 4294967296 - 5000 // about to wrap
			}
			if typ == munin.Counter && i%577 == 201 {
				v = 20000 // wrapped past 2^32
			}
			u.v = v
		}
		if i%211 == 13 {
			u.unknown = true
		}
		ups = append(ups, u)
	}
	return ups
}

func TestAgainstRRDtool(t *testing.T) {
	const start = 1764000000 - 1764000000%86400 + 1234
	for _, tc := range []struct {
		typ      munin.FieldType
		min, max string
	}{
		{munin.Gauge, "", "5000"},
		{munin.Gauge, "0", ""},
		{munin.Counter, "", ""},
		{munin.Counter, "0", "1000"},
		{munin.Derive, "0", ""},
		{munin.Derive, "", ""},
		{munin.Absolute, "", "400"},
	} {
		t.Run(fmt.Sprintf("%s_%s_%s", tc.typ, tc.min, tc.max), func(t *testing.T) {
			ups := scenario(tc.typ, start, 40)
			want := rrdtoolRows(t, tc.typ, tc.min, tc.max, start, ups)
			got, _ := ourRows(tc.typ, tc.min, tc.max, start, ups)
			compareRows(t, want, got)
			n := 0
			for _, rows := range want {
				for _, v := range rows {
					if !math.IsNaN(v) {
						n++
					}
				}
			}
			if n < 1000 {
				t.Errorf("only %d known rows compared", n)
			}
		})
	}
}
