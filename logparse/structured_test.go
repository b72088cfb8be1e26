package logparse

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestStructuredTime(t *testing.T) {
	loc := berlin(t)
	want := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for _, line := range []string{
		`{"ts":1795338000}`, `{"ts":1795338000000}`, `{"ts":1795338000000000}`, `{"ts":1795338000000000000}`,
		`{"ts":"1795338000"}`, `{"time":"2026-11-22T10:00:00+01:00"}`, `{"@timestamp":"2026-11-22T09:00:00Z"}`,
		`ts=1795338000 a=b`, `time=2026-11-22T09:00:00Z a=b`,
	} {
		if ev := Parse("", []byte(line), testNow, loc); !ev.Time.Equal(want) {
			t.Errorf("%s: time %v, want %v", line, ev.Time, want)
		}
	}
}

func TestJSONAgreesWithEncodingJSON(t *testing.T) {
	line := `{"a":"x\u0041\n\"","b":{"c":[1,{"d":2}],"e":-0.5e+2},"f":null}`
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	ev := Parse("json", []byte(line), testNow, time.UTC)
	if v, _ := ev.Field("a"); v != m["a"] {
		t.Errorf("a = %q, want %q", v, m["a"])
	}
	if v, _ := ev.Field("b.c"); v != `[1,{"d":2}]` {
		t.Errorf("b.c = %q", v)
	}
	if v, _ := ev.Field("b.e"); v != "-0.5e+2" {
		t.Errorf("b.e = %q", v)
	}
}

func TestJSONDepth(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	ev := Parse("json", []byte(deep), testNow, time.UTC)
	if len(ev.Fields) != 1 || !strings.HasPrefix(ev.Fields[0].Key, "a.a.a") || !strings.HasPrefix(ev.Fields[0].Value, `{"a":`) {
		t.Fatalf("deep object: %+v", ev.Fields)
	}
	if ev := Parse("json", []byte(strings.Repeat("[", 100000)), testNow, time.UTC); len(ev.Fields) != 0 {
		t.Fatal("unterminated arrays accepted")
	}
}

func TestLogfmtDetection(t *testing.T) {
	for line, want := range map[string]bool{
		`level=info msg=x`:         true,
		`a=1 b="two words"`:        true,
		`a=b`:                      false, // one pair: too little evidence
		`retry a=1 b=2`:            false, // a bare word: prose
		`the value x=1 was wrong`:  false,
		`a=1 b="unterminated`:      false,
		`msg="x" level=warn extra`: false,
	} {
		ev := Parse("", []byte(line), testNow, time.UTC)
		if got := ev.Message != line || len(ev.Fields) > 0; got != want {
			t.Errorf("%q: detected %v, want %v (%+v)", line, got, want, ev)
		}
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, l := range goldenLines(f, "json") {
		f.Add(l)
	}
	for _, l := range []string{`{"a":"\u`, `{"a":"\ud83d\u"}`, `{"a":[`, `{"a":{"b":`, `{"":1}`, `{"time":"2026-11-22T10:00:00+99:00"}`,
		`{"ts":99999999999999999999}`, `{"ts":1.99999999999}`, `{"level":99}`} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ev, err := parseJSON(line, testNow, time.UTC)
		if err != nil {
			// Every JSON object encoding/json accepts must be accepted.
			var m map[string]json.RawMessage
			if strings.HasPrefix(strings.TrimLeft(line, " \t\r\n"), "{") && json.Unmarshal([]byte(line), &m) == nil && strings.Count(line, "[")+strings.Count(line, "{") < 60 {
				t.Fatalf("%q: valid JSON object rejected: %v", line, err)
			}
			return
		}
		if ev.Message == "" && strings.TrimSpace(line) != "" {
			t.Fatalf("%q: empty message", line)
		}
	})
}

func FuzzParseLogfmt(f *testing.F) {
	for _, l := range goldenLines(f, "logfmt") {
		f.Add(l)
	}
	for _, l := range []string{`a="\`, `a="\"`, `=`, `a= b=`, `"`, `a=1 ts=9999999999999999999`} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, strict := range []bool{false, true} {
			ev, err := logfmt(line, time.UTC, strict)
			if err != nil {
				continue
			}
			for _, fl := range ev.Fields {
				if fl.Key == "" || strings.ContainsAny(fl.Key, " =\"") {
					t.Fatalf("%q: bad key %q", line, fl.Key)
				}
			}
		}
	})
}
