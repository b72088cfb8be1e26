package wire

import (
	"strings"
	"testing"
)

func TestDecodeLines(t *testing.T) {
	body := `{"id":"r1","check":"web","time":"2026-03-29T01:30:00Z","duration_ms":12.5,"ok":true}

not json
{"id":"has space","check":"web","time":"2026-03-29T01:30:00Z","ok":true}
{"id":"r2","check":"web","time":"2026-03-29T01:30:00Z","ok":true,"error":"refused"}
{"id":"r3","canary":true,"time":"2026-03-29T01:30:00Z","canaries":[{"target":"loghost","ok":true}]}
{"id":"r4","check":"web","time":"0001-01-01T00:00:00Z","ok":false}
{"id":"r5","check":"web","time":"2026-03-29T01:30:00Z","ok":false,"duration_ms":-1}
{"id":"r6","canary":true,"time":"2026-03-29T01:30:00Z"}
{"id":"r7","check":"` + strings.Repeat("x", 300) + `","time":"2026-03-29T01:30:00Z"}
{"id":"r8","check":"web","time":"2026-03-29T01:30:00Z","error":"` + strings.Repeat("é", 3000) + `"}`
	lines, rejected, err := DecodeLines([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range lines {
		ids = append(ids, l.ID)
	}
	if strings.Join(ids, " ") != "r1 r3 r8" {
		t.Errorf("taken %v", ids)
	}
	var nums []int
	for _, r := range rejected {
		nums = append(nums, r.Line)
	}
	if len(nums) != 7 || nums[0] != 3 || nums[6] != 10 {
		t.Errorf("rejected %+v", rejected)
	}
	if e := lines[2].Error; len(e) > MaxError || !strings.HasPrefix(e, "éé") {
		t.Errorf("error not cut to its bound: %d bytes", len(e))
	}
	if _, _, err := DecodeLines([]byte(strings.Repeat("{}\n", MaxLines+1))); err == nil {
		t.Error("no bound on lines")
	}
}

func FuzzDecodeLines(f *testing.F) {
	f.Add([]byte(`{"id":"r1","check":"web","time":"2026-03-29T01:30:00Z","duration_ms":12.5,"ok":true}`))
	f.Add([]byte(`{"id":"r3","canary":true,"time":"2026-03-29T01:30:00Z","canaries":[{"target":"loghost","ok":true,"duration_ms":1e308}]}`))
	f.Add([]byte("{\"id\":\"x\",\"check\":\"\xff\",\"time\":\"2026-03-29T01:30:00Z\",\"conditions\":[{\"condition\":\"a\",\"detail\":\"\xfe\"}]}\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, rejected, err := DecodeLines(b)
		if err != nil {
			return
		}
		for _, l := range lines {
			if l.ID == "" || len(l.ID) > maxID || len(l.Error) > MaxError || l.Time.IsZero() {
				t.Fatalf("bad line taken: %+v", l)
			}
			if !l.Canary && (l.Check == "" || len(l.Check) > MaxName) {
				t.Fatalf("bad check taken: %+v", l)
			}
			if l.OK && l.Error != "" {
				t.Fatalf("ok with an error: %+v", l)
			}
		}
		for _, r := range rejected {
			if r.Line < 1 {
				t.Fatalf("rejected line %d", r.Line)
			}
		}
	})
}
