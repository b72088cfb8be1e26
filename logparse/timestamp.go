package logparse

import "time"

const day = 24 * time.Hour

// maxFuture is how far ahead of the receive time a year-less timestamp may
// lie before it is taken to belong to the previous year. Clocks of senders
// drift and queues replay, but a month of skew is already generous.
const maxFuture = 31 * day

// parseRFC3339 reads "YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)" at s[i:] and
// returns the index after it. With lenient set it also takes the ISO 8601
// shapes found in log files: a space instead of 'T', ',' as decimal mark,
// "±hhmm" and "±hh" offsets, and no zone at all (then the time is in loc).
func parseRFC3339(s string, i int, loc *time.Location, lenient bool) (time.Time, int, bool) {
	year, ok1 := atoiN(s, i, 4)
	mon, ok2 := atoiN(s, i+5, 2)
	dd, ok3 := atoiN(s, i+8, 2)
	if !ok1 || !ok2 || !ok3 || s[i+4] != '-' || s[i+7] != '-' || i+10 >= len(s) {
		return time.Time{}, 0, false
	}
	switch s[i+10] {
	case 'T', 't':
	case ' ':
		if !lenient {
			return time.Time{}, 0, false
		}
	default:
		return time.Time{}, 0, false
	}
	i += 11
	hh, ok1 := atoiN(s, i, 2)
	mm, ok2 := atoiN(s, i+3, 2)
	ss, ok3 := atoiN(s, i+6, 2)
	if !ok1 || !ok2 || !ok3 || s[i+2] != ':' || s[i+5] != ':' {
		return time.Time{}, 0, false
	}
	if mon < 1 || mon > 12 || dd < 1 || dd > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, 0, false
	}
	i += 8
	nsec := 0
	if i < len(s) && (s[i] == '.' || (lenient && s[i] == ',')) {
		nsec, i = parseFrac(s, i+1)
		if i < 0 {
			return time.Time{}, 0, false
		}
	}
	if i >= len(s) {
		if !lenient {
			return time.Time{}, 0, false
		}
		return time.Date(year, time.Month(mon), dd, hh, mm, ss, nsec, loc), i, true
	}
	switch c := s[i]; c {
	case 'Z', 'z':
		return time.Date(year, time.Month(mon), dd, hh, mm, ss, nsec, time.UTC), i + 1, true
	case '+', '-':
		oh, ok := atoiN(s, i+1, 2)
		if !ok || oh > 23 {
			return time.Time{}, 0, false
		}
		om := 0
		n := 3
		if om2, ok := atoiN(s, i+4, 2); ok && i+3 < len(s) && s[i+3] == ':' {
			om, n = om2, 6
		} else if om2, ok := atoiN(s, i+3, 2); ok && lenient {
			om, n = om2, 5
		} else if !lenient {
			return time.Time{}, 0, false
		}
		if om > 59 {
			return time.Time{}, 0, false
		}
		off := oh*3600 + om*60
		if c == '-' {
			off = -off
		}
		return zoned(year, mon, dd, hh, mm, ss, nsec, off, loc), i + n, true
	default:
		if !lenient {
			return time.Time{}, 0, false
		}
		return time.Date(year, time.Month(mon), dd, hh, mm, ss, nsec, loc), i, true
	}
}

// zoned builds a time at a fixed UTC offset. It reuses loc or UTC when they
// have that offset at that instant, because time.FixedZone allocates and
// most lines are written in the loghost's own zone.
func zoned(year, mon, dd, hh, mm, ss, nsec, off int, loc *time.Location) time.Time {
	t := time.Date(year, time.Month(mon), dd, hh, mm, ss, nsec, time.UTC).Add(-time.Duration(off) * time.Second)
	if off == 0 {
		return t
	}
	if lt := t.In(loc); offsetOf(lt) == off {
		return lt
	}
	return t.In(time.FixedZone("", off))
}

func offsetOf(t time.Time) int {
	_, off := t.Zone()
	return off
}

// parseFrac reads the digits of a fraction of a second starting at s[i] and
// returns nanoseconds and the index after the digits, or -1 when there are
// none. Digits past the ninth are consumed and ignored.
func parseFrac(s string, i int) (int, int) {
	start := i
	nsec, scale := 0, 100000000
	for i < len(s) && isDigit(s[i]) {
		nsec += int(s[i]-'0') * scale
		scale /= 10
		i++
	}
	if i == start {
		return 0, -1
	}
	return nsec, i
}

// monthOf maps a three-letter month name (any case) to its number.
func monthOf(s string, i int) time.Month {
	if i+3 > len(s) {
		return 0
	}
	k := uint32(s[i]|0x20)<<16 | uint32(s[i+1]|0x20)<<8 | uint32(s[i+2]|0x20)
	switch k {
	case 'j'<<16 | 'a'<<8 | 'n':
		return time.January
	case 'f'<<16 | 'e'<<8 | 'b':
		return time.February
	case 'm'<<16 | 'a'<<8 | 'r':
		return time.March
	case 'a'<<16 | 'p'<<8 | 'r':
		return time.April
	case 'm'<<16 | 'a'<<8 | 'y':
		return time.May
	case 'j'<<16 | 'u'<<8 | 'n':
		return time.June
	case 'j'<<16 | 'u'<<8 | 'l':
		return time.July
	case 'a'<<16 | 'u'<<8 | 'g':
		return time.August
	case 's'<<16 | 'e'<<8 | 'p':
		return time.September
	case 'o'<<16 | 'c'<<8 | 't':
		return time.October
	case 'n'<<16 | 'o'<<8 | 'v':
		return time.November
	case 'd'<<16 | 'e'<<8 | 'c':
		return time.December
	}
	return 0
}

// parseBSDTime reads "Mmm dd hh:mm:ss" at s[i:] (day space- or
// zero-padded or bare, optional fraction, optional Cisco-style year before
// the time) and returns the index after it. Without a year in the line the
// year comes from now, see inferYear.
func parseBSDTime(s string, i int, now time.Time, loc *time.Location) (time.Time, int, bool) {
	mon := monthOf(s, i)
	if mon == 0 {
		return time.Time{}, 0, false
	}
	i += 3
	if i >= len(s) || s[i] != ' ' {
		return time.Time{}, 0, false
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	dd := 0
	start := i
	for i < len(s) && i-start < 2 && isDigit(s[i]) {
		dd = dd*10 + int(s[i]-'0')
		i++
	}
	if i == start || dd < 1 || dd > 31 || i >= len(s) || s[i] != ' ' {
		return time.Time{}, 0, false
	}
	i++
	year := 0
	if y, ok := atoiN(s, i, 4); ok && i+4 < len(s) && s[i+4] == ' ' {
		year = y
		i += 5
	}
	hh, ok1 := atoiN(s, i, 2)
	mm, ok2 := atoiN(s, i+3, 2)
	ss, ok3 := atoiN(s, i+6, 2)
	if !ok1 || !ok2 || !ok3 || s[i+2] != ':' || s[i+5] != ':' || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, 0, false
	}
	i += 8
	nsec := 0
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		nsec, i = parseFrac(s, i+1)
	}
	if year != 0 {
		return time.Date(year, mon, dd, hh, mm, ss, nsec, loc), i, true
	}
	return inferYear(mon, dd, hh, mm, ss, nsec, now, loc), i, true
}

// inferYear picks the latest year that does not put the time more than
// maxFuture after now. Around New Year this is the year nearest to now:
// a "Dec 31" line received on Jan 1 is from last year, a "Jan 1" line
// received on Dec 31 (sender clock slightly ahead) is from next year.
func inferYear(mon time.Month, dd, hh, mm, ss, nsec int, now time.Time, loc *time.Location) time.Time {
	y := now.In(loc).Year()
	limit := now.Add(maxFuture)
	leapDay := mon == time.February && dd == 29
	if !leapDay {
		t := time.Date(y, mon, dd, hh, mm, ss, nsec, loc)
		// Fast path: the same date next year would be too far ahead and
		// this year's is not, so this year is the answer.
		if !t.After(limit) && t.After(limit.Add(-365*day)) {
			return t
		}
	}
	for _, cy := range [...]int{y + 1, y, y - 1} {
		if leapDay && !isLeap(cy) {
			continue
		}
		t := time.Date(cy, mon, dd, hh, mm, ss, nsec, loc)
		if !t.After(limit) {
			return t
		}
	}
	// Feb 29 with no leap year among the candidates: go back to the
	// latest leap year; time.Date would otherwise roll it over to Mar 1.
	for cy := y - 2; cy > y-9; cy-- {
		if isLeap(cy) {
			return time.Date(cy, mon, dd, hh, mm, ss, nsec, loc)
		}
	}
	return time.Date(y-1, mon, dd, hh, mm, ss, nsec, loc)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }
