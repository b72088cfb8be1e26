package report

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// sizeRE finds the size a backup job reported in its ping body:
// "size=123456", "bytes: 1.5 GB", "Total size: 800 MiB", restic's
// "Added to the repository: 1.234 GiB". The first match wins.
var sizeRE = regexp.MustCompile(`(?i)\b(?:backup[ _]size|archive[ _]size|total[ _]size|size|bytes|added to the repository)\s*[:=]\s*([0-9]+(?:[.,][0-9]+)?)\s*([kmgtp]i?b|[kmgtp]|b|bytes)?\b`)

var units = map[string]float64{
	"": 1, "b": 1, "bytes": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12, "p": 1e15, "pb": 1e15,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50,
}

// ParseSize reads the size (in bytes) a ping body reports, if it does.
func ParseSize(body string) (int64, bool) {
	if len(body) > 64<<10 {
		body = body[:64<<10]
	}
	m := sizeRE.FindStringSubmatch(body)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", "."), 64)
	if err != nil {
		return 0, false
	}
	mul, ok := units[strings.ToLower(m[2])]
	if !ok {
		return 0, false
	}
	v *= mul
	if v < 0 || v > math.MaxInt64/2 || math.IsNaN(v) {
		return 0, false
	}
	return int64(v), true
}

// FormatSize prints bytes in binary units, as backup tools do.
func FormatSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		v /= 1024
		if v < 1024 {
			return strconv.FormatFloat(v, 'f', 1, 64) + " " + u
		}
	}
	return strconv.FormatFloat(v/1024, 'f', 1, 64) + " PiB"
}
