package vlogs

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/watchpost/watchpost/internal/jsonstr"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
)

// The fields a log line becomes in VictoriaLogs. The standard fields keep
// the names the query language uses (host=, program=, severity= ...), so a
// LogsQL query typed into VictoriaLogs' own UI reads like a Watchpost one.
// Fields only Watchpost needs to rebuild the record start with "wp_".
const (
	fieldSeq       = "seq"          // the loghost's ingest sequence: unique, the key of exactly-once shipping
	fieldReceived  = "wp_received"  // Unix nanoseconds
	fieldLower     = "wp_lc"        // the line with ASCII letters lowered: bare words search it
	fieldRawB64    = "wp_line_b64"  // the line's bytes when they are not valid UTF-8
	fieldTruncated = "wp_truncated" // the original length in bytes of a line cut before sending
	// fieldExact holds, as a JSON object, the parser fields (and pid) that
	// VictoriaLogs would not give back as sent: it stores "1.0" as the
	// number 1, "0.6" as 0.6000000000000001, "1_000" as 1000, and drops
	// empty values.
	fieldExact = "wp_exact"
	// fieldMsgAt, when the message is the end of the line (a syslog
	// line's text after its header), is where it begins, instead of a
	// second copy in "message". Neither: the message is the whole line.
	fieldMsgAt = "wp_moff"
	// parser fields whose names clash with the ones above go under this
	// prefix.
	parserPrefix = "wp_f."
)

// standardFields are the record's own fields; a parser field of one of
// these names is stored under parserPrefix.
var standardFields = map[string]bool{
	"host": true, "program": true, "pid": true, "severity": true, "facility": true, "file": true,
	"site": true, "format": true, "source": true, "message": true, fieldSeq: true,
}

// storedName is the VictoriaLogs field name of parser field name.
func storedName(name string) string {
	if standardFields[name] || strings.HasPrefix(name, "_") || strings.HasPrefix(name, "wp_") {
		return parserPrefix + name
	}
	return name
}

// Limits of what one line may become. VictoriaLogs skips a JSON line over
// 256 KiB (-insert.maxLineSizeBytes) and, in the versions measured, drops
// the rest of that request with it while answering 200: a line must never
// get near that size.
const (
	// DefaultMaxLineBytes is the default cut of the line and message.
	DefaultMaxLineBytes = 32 << 10
	// maxValueBytes cuts any other field value.
	maxValueBytes = 8 << 10
	// maxFields bounds the parser fields of one line (VictoriaLogs: 2000).
	maxFields = 500
	// maxFieldName: VictoriaLogs rejects longer field names.
	maxFieldName = 128
	// maxEncoded is the hard cap on one encoded line.
	maxEncoded = 200 << 10
)

// appendRecord appends r as one JSON line (with its newline) and reports
// whether anything was cut.
func appendRecord(dst []byte, r *store.Record, maxLine int) ([]byte, bool) {
	start := len(dst)
	dst, cut := appendRecordOnce(dst, r, maxLine, maxValueBytes, maxFields)
	if len(dst)-start > maxEncoded {
		// Escaping can grow a value six-fold: cut harder.
		dst, _ = appendRecordOnce(dst[:start], r, min(maxLine, 16<<10), 512, 50)
		cut = true
	}
	return dst, cut
}

func appendRecordOnce(dst []byte, r *store.Record, maxLine, maxValue, nFields int) ([]byte, bool) {
	raw, msg := r.Raw, r.Message
	cut := false
	if len(raw) > maxLine {
		raw, cut = cutUTF8(raw, maxLine), true
	}
	if len(msg) > maxLine {
		msg, cut = cutUTF8(msg, maxLine), true
	}
	dst = append(dst, `{"_time":"`...)
	dst = r.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","_msg":`...)
	dst = jsonstr.Append(dst, raw)
	dst = append(dst, `,"`+fieldLower+`":`...)
	dst = appendJSONLower(dst, raw)
	dst = appendField(dst, fieldSeq, strconv.FormatInt(r.Seq, 10))
	dst = appendField(dst, "host", r.Host)
	var exact []byte
	for _, f := range [...]struct{ k, v string }{
		{"_msg", raw}, {"message", msg}, {"host", r.Host}, {"program", r.Program}, {"pid", r.PID}, {"file", r.File},
		{"source", r.Source}, {"site", r.Site}, {"format", r.Format},
	} {
		if mangled(f.v) {
			exact = appendExact(exact, f.k, f.v)
		}
	}
	for _, f := range [...]struct{ k, v string }{
		{"program", r.Program}, {"pid", r.PID}, {"file", r.File}, {"source", r.Source},
		{"site", r.Site}, {"format", r.Format},
	} {
		if f.v != "" {
			dst = appendField(dst, f.k, cutValue(f.v, maxValue, &cut))
		}
	}
	if r.Severity >= 0 && r.Severity < len(logparse.SeverityNames) {
		dst = appendField(dst, "severity", logparse.SeverityNames[r.Severity])
	}
	if r.Facility >= 0 && r.Facility < len(logparse.FacilityNames) {
		dst = appendField(dst, "facility", logparse.FacilityNames[r.Facility])
	}
	switch {
	case msg == raw:
	case strings.HasSuffix(raw, msg) && utf8.ValidString(raw):
		dst = appendField(dst, fieldMsgAt, strconv.Itoa(len(raw)-len(msg)))
	case msg != "":
		dst = appendField(dst, "message", msg)
	default:
		// An empty message of a line that does not end "empty": only
		// wp_exact can say so.
		exact = appendExact(exact, "message", "")
	}
	if !r.Received.IsZero() {
		dst = appendField(dst, fieldReceived, strconv.FormatInt(r.Received.UnixNano(), 10))
	}
	if !cut && !utf8.ValidString(r.Raw) {
		dst = appendField(dst, fieldRawB64, base64.StdEncoding.EncodeToString([]byte(r.Raw)))
	}
	for i, f := range r.Fields {
		if i >= nFields {
			cut = true
			break
		}
		name := storedName(f.Key)
		if len(name) > maxFieldName {
			cut = true
			continue
		}
		v := cutValue(f.Value, maxValue, &cut)
		if v == "" || mangled(v) {
			exact = appendExact(exact, name, v)
		}
		if v != "" {
			dst = appendField(dst, name, v)
		}
	}
	if exact != nil {
		dst = appendField(dst, fieldExact, string(append(exact, '}')))
	}
	if cut {
		dst = appendField(dst, fieldTruncated, strconv.Itoa(len(r.Raw)))
	}
	dst = append(dst, '}', '\n')
	return dst, cut
}

func appendExact(dst []byte, k, v string) []byte {
	if dst == nil {
		dst = append(dst, '{')
	} else {
		dst = append(dst, ',')
	}
	dst = jsonstr.Append(dst, k)
	dst = append(dst, ':')
	return jsonstr.Append(dst, v)
}

// numeric reports whether VictoriaLogs may store v as a number: digits
// (with _ between them), an optional minus and fraction. Such values are
// compared as numbers there (1.0 equals 1).
func numeric(v string) bool {
	v = strings.TrimPrefix(v, "-")
	int, frac, dot := strings.Cut(v, ".")
	if int == "" || dot && frac == "" {
		return false
	}
	for _, part := range []string{int, frac} {
		for i := 0; i < len(part); i++ {
			if (part[i] < '0' || part[i] > '9') && part[i] != '_' {
				return false
			}
		}
	}
	return true
}

// mangled reports whether VictoriaLogs may give v back in another form:
// a number it would store as one that is not a plain unsigned integer
// without leading zeros.
func mangled(v string) bool {
	if !numeric(v) {
		return false
	}
	return strings.ContainsAny(v, "._-") || len(v) > 1 && v[0] == '0' || len(v) > 15
}

func cutValue(v string, max int, cut *bool) string {
	if len(v) <= max {
		return v
	}
	*cut = true
	return cutUTF8(v, max)
}

// cutUTF8 cuts s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

func appendField(dst []byte, k, v string) []byte {
	dst = append(dst, ',')
	dst = jsonstr.Append(dst, k)
	dst = append(dst, ':')
	return jsonstr.Append(dst, v)
}

// appendJSONLower is jsonstr.Append of s with ASCII letters lowered.
func appendJSONLower(dst []byte, s string) []byte {
	start := len(dst)
	dst = jsonstr.Append(dst, s)
	for i := start; i < len(dst); i++ {
		if c := dst[i]; c >= 'A' && c <= 'Z' {
			// Escapes are \n, \uXXXX with lower-case hex digits: no
			// letter of them is upper case.
			dst[i] = c + 'a' - 'A'
		}
	}
	return dst
}
