package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestJoiner(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		lines []string
		max   int
		want  []string // completed events, then the flushed one
	}{
		{"stack trace", []string{"Exception in main", "  at a.b(C.java:1)", "  at d.e(F.java:2)", "next"}, 1024,
			[]string{"Exception in main\n  at a.b(C.java:1)\n  at d.e(F.java:2)", "next"}},
		{"continuation first", []string{"  orphan", "start"}, 1024, []string{"  orphan", "start"}},
		{"size bound", []string{"start", " 1234567890", " 1234567890"}, 20, []string{"start\n 1234567890", " 1234567890"}},
		{"over-long start", []string{"x123456789012345", "y"}, 8, []string{"x1234567", "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &joiner{start: regexp.MustCompile(`^\S`), max: tt.max, timeout: time.Second}
			var got []string
			off := int64(0)
			for _, l := range tt.lines {
				end := off + int64(len(l)) + 1
				if ev, ok := j.add([]byte(l), off, end, t0); ok {
					got = append(got, string(ev.text))
				}
				off = end
			}
			if !j.due(t0.Add(time.Second)) || j.due(t0) {
				t.Error("timeout not honoured")
			}
			if ev, ok := j.flush(); ok {
				got = append(got, string(ev.text))
				if ev.end != off {
					t.Errorf("last event ends at %d, want %d", ev.end, off)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzJoiner: any sequence of lines comes out as events that, joined,
// give back every byte (up to the size bound), with offsets in order.
func FuzzJoiner(f *testing.F) {
	f.Add([]byte("Exception\n  at x\n  at y\nnext\n"), uint8(16))
	f.Add([]byte("\n\n \n"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, max uint8) {
		j := &joiner{start: regexp.MustCompile(`^\S`), max: int(max) + 1, timeout: time.Second}
		var evs []event
		off := int64(0)
		for _, l := range bytes.Split(data, []byte{'\n'}) {
			end := off + int64(len(l)) + 1
			if ev, ok := j.add(l, off, end, time.Time{}); ok {
				evs = append(evs, ev)
			}
			off = end
		}
		if ev, ok := j.flush(); ok {
			evs = append(evs, ev)
		}
		last := int64(0)
		for _, ev := range evs {
			if ev.from < last || ev.end <= ev.from || len(ev.text) > int(max)+1 {
				t.Fatalf("bad event %+v after %d", ev, last)
			}
			last = ev.end
		}
		if len(evs) > 0 && last != off {
			t.Fatalf("events end at %d, input at %d", last, off)
		}
	})
}

func TestSpool(t *testing.T) {
	dir := t.TempDir()
	s, err := openSpool(dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.put([]byte("first-body-over-bound")); err != nil {
		t.Fatalf("an empty spool takes one body of any size: %v", err)
	}
	if err := s.put([]byte("x")); !errors.Is(err, ErrSpoolFull) {
		t.Fatalf("err = %v, want ErrSpoolFull", err)
	}
	// Reopened (after kill -9), the spool has the same content in order.
	s2, err := openSpool(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	s2.put([]byte("second"))
	seq, body, ok, err := s2.oldest()
	if !ok || err != nil || string(body) != "first-body-over-bound" {
		t.Fatalf("oldest = %q %v %v", body, ok, err)
	}
	s2.remove(seq)
	_, body, _, _ = s2.oldest()
	if string(body) != "second" {
		t.Fatalf("then %q", body)
	}
	if n, size := s2.stats(); n != 1 || size != 6 {
		t.Errorf("stats %d %d", n, size)
	}
}

func TestEncodeBatch(t *testing.T) {
	lines := []Line{
		{Source: "file:/var/log/a", Gen: "g", Offset: 7, Text: []byte("plain <b> & text"), Priority: -1, Facility: -1},
		{Source: "journal", Gen: "j", Offset: 1, Text: []byte{0xff, 'x'}, Program: "sshd", PID: "42", Priority: 3, Facility: 4,
			Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)},
	}
	var enc batchEncoder
	enc.encode(lines) // a second use must not carry anything over
	body, err := enc.encode(lines, map[string]any{"type": "report"})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	rows := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	var a, b map[string]any
	json.Unmarshal([]byte(rows[0]), &a)
	json.Unmarshal([]byte(rows[1]), &b)
	if a["line"] != "plain <b> & text" || a["offset"] != 7.0 || a["severity"] != nil {
		t.Errorf("row 0: %s", rows[0])
	}
	if b["line_b64"] != "/3g=" || b["severity"] != 3.0 || b["program"] != "sshd" || b["time"] != "2026-11-25T10:00:00Z" {
		t.Errorf("row 1: %s", rows[1])
	}
	if rows[2] != `{"type":"report"}` {
		t.Errorf("row 2: %s", rows[2])
	}
}

func TestFileFlag(t *testing.T) {
	var ff fileFlags
	if err := ff.Set("/var/log/nginx/*.log,format=combined,site=wiki.example.org"); err != nil {
		t.Fatal(err)
	}
	if ff[0].Path != "/var/log/nginx/*.log" || ff[0].Format != "combined" || ff[0].Site != "wiki.example.org" {
		t.Errorf("%+v", ff[0])
	}
	if err := ff.Set("/x,colour=blue"); err == nil {
		t.Error("unknown option accepted")
	}
}

// FuzzWireLine: the hand-written encoder gives JSON that decodes to the
// line's own values, whatever bytes they hold.
func FuzzWireLine(f *testing.F) {
	f.Add([]byte("plain \"quoted\" \\ tab\t nul\x00 \u2028 ünï"), "file:/var/log/a b", int64(7), "combined")
	f.Add([]byte{0xff, 0xfe, 'x'}, "file:/\xff", int64(0), "")
	f.Fuzz(func(t *testing.T, text []byte, source string, offset int64, format string) {
		l := Line{Source: source, Gen: "g", Offset: offset, Text: text, Format: format, Priority: -1, Facility: 3}
		b := appendWireLine(nil, &l)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if utf8.Valid(text) {
			if m["line"] != string(text) {
				t.Fatalf("line %q, want %q", m["line"], text)
			}
		} else if got, _ := base64.StdEncoding.DecodeString(m["line_b64"].(string)); string(got) != string(text) {
			t.Fatalf("line_b64 decodes to %q, want %q", got, text)
		}
		if utf8.ValidString(source) && m["source"] != source {
			t.Fatalf("source %q, want %q", m["source"], source)
		}
		if m["offset"] != float64(offset) && (offset < 1<<53 && offset > -(1<<53)) {
			t.Fatalf("offset %v, want %d", m["offset"], offset)
		}
		if _, ok := m["severity"]; ok || m["facility"] != 3.0 {
			t.Fatalf("severity/facility wrong: %s", b)
		}
	})
}
