package vlogs

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
)

// decodeRow rebuilds the record a JSON row of /select/logsql/query holds
// (every value is a string there).
func decodeRow(v *fastjson.Value) (store.Record, error) {
	o, err := v.Object()
	if err != nil {
		return store.Record{}, fmt.Errorf("row: %w", err)
	}
	r := store.Record{Kind: store.KindLog, Event: logparse.NewEvent(), Offset: -1}
	var b64, exact, msgAt string
	msgSeen := false
	var seqOK bool
	o.Visit(func(k []byte, val *fastjson.Value) {
		if err != nil {
			return
		}
		s := string(val.GetStringBytes())
		switch key := string(k); key {
		case "_time":
			r.Time, err = time.Parse(time.RFC3339Nano, s)
		case "_msg":
			r.Raw = s
		case "_stream", "_stream_id":
		case fieldSeq:
			r.Seq, err = strconv.ParseInt(s, 10, 64)
			seqOK = err == nil
		case "host":
			r.Host = s
		case "program":
			r.Program = s
		case "pid":
			r.PID = s
		case "file":
			r.File = s
		case "source":
			r.Source = s
		case "site":
			r.Site = s
		case "format":
			r.Format = s
		case "message":
			r.Message, msgSeen = s, true
		case fieldMsgAt:
			msgAt = s
		case "severity":
			r.Severity = indexOf(logparse.SeverityNames[:], s)
		case "facility":
			r.Facility = indexOf(logparse.FacilityNames[:], s)
		case fieldReceived:
			var ns int64
			ns, err = strconv.ParseInt(s, 10, 64)
			r.Received = time.Unix(0, ns).UTC()
		case fieldLower:
		case fieldRawB64:
			b64 = s
		case fieldExact:
			exact = s
		case fieldTruncated:
		default:
			if strings.HasPrefix(key, "_") || strings.HasPrefix(key, "wp_") && !strings.HasPrefix(key, parserPrefix) {
				return
			}
			r.Fields = append(r.Fields, logparse.Field{Key: strings.TrimPrefix(key, parserPrefix), Value: s})
		}
	})
	if err != nil {
		return r, fmt.Errorf("row: %w", err)
	}
	if !seqOK {
		return r, fmt.Errorf("row without %s: not shipped by a loghost", fieldSeq)
	}
	if b64 != "" {
		if raw, err := base64.StdEncoding.DecodeString(b64); err == nil {
			r.Raw = string(raw)
		}
	}
	if exact != "" {
		msgSeen = restoreExact(&r, exact) || msgSeen
	}
	if !msgSeen {
		// The message is the end of the line, or all of it.
		r.Message = r.Raw
		if n, err := strconv.Atoi(msgAt); err == nil && n >= 0 && n <= len(r.Raw) {
			r.Message = r.Raw[n:]
		}
	}
	if r.Received.IsZero() {
		r.Received = r.Time
	}
	sort.Slice(r.Fields, func(i, j int) bool { return r.Fields[i].Key < r.Fields[j].Key })
	return r, nil
}

// restoreExact puts back the values VictoriaLogs changed or dropped and
// reports whether the message was among them.
func restoreExact(r *store.Record, blob string) (message bool) {
	v, err := fastjson.Parse(blob)
	if err != nil {
		return false
	}
	o, err := v.Object()
	if err != nil {
		return false
	}
	o.Visit(func(k []byte, val *fastjson.Value) {
		key, s := string(k), string(val.GetStringBytes())
		if p := standardField(r, key); p != nil {
			*p = s
			message = message || key == "message"
			return
		}
		name := strings.TrimPrefix(key, parserPrefix)
		for i := range r.Fields {
			if r.Fields[i].Key == name {
				r.Fields[i].Value = s
				return
			}
		}
		r.Fields = append(r.Fields, logparse.Field{Key: name, Value: s})
	})
	return message
}

// standardField points at the record's field of a wp_exact key.
func standardField(r *store.Record, key string) *string {
	switch key {
	case "_msg":
		return &r.Raw
	case "message":
		return &r.Message
	case "host":
		return &r.Host
	case "program":
		return &r.Program
	case "pid":
		return &r.PID
	case "file":
		return &r.File
	case "source":
		return &r.Source
	case "site":
		return &r.Site
	case "format":
		return &r.Format
	}
	return nil
}

func indexOf(names []string, s string) int {
	for i, n := range names {
		if n == s {
			return i
		}
	}
	return logparse.Unknown
}
