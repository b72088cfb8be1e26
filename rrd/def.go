package rrd

import (
	"math"
	"strconv"

	"github.com/watchpost/watchpost/munin"
)

// newDef parses a field's type and munin min/max ("" or "U": unset).
func newDef(typ munin.FieldType, min, max string) def {
	switch typ {
	case munin.Counter, munin.Derive, munin.Absolute:
	default:
		typ = munin.Gauge
	}
	return def{typ: typ, min: parseBound(min), max: parseBound(max)}
}

func parseBound(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}
