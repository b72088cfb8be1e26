package server

import (
	"os"
	"strings"
	"testing"
)

// docs/CONFIG.md marks exactly the keys a reload cannot apply.
func TestConfigDocMarksRestartKeys(t *testing.T) {
	b, err := os.ReadFile("../docs/CONFIG.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	loghost := doc[strings.Index(doc, "## Loghost"):strings.Index(doc, "## Collector")]
	isRestart := func(key string) bool {
		for _, k := range restartKeys {
			if key == k.key || strings.HasPrefix(key, k.key+".") {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	for _, row := range strings.Split(loghost, "\n") {
		if !strings.HasPrefix(row, "| `") {
			continue
		}
		cell := strings.Split(row, " | ")[0]
		parts := strings.Split(cell, "`")
		marked := strings.Contains(row, "*restart*")
		for i := 1; i < len(parts); i += 2 {
			key := parts[i]
			if marked != isRestart(key) {
				t.Errorf("%s: marked *restart* %v, but a reload applies it: %v", key, marked, !isRestart(key))
			}
			for _, k := range restartKeys {
				if key == k.key || strings.HasPrefix(key, k.key+".") {
					seen[k.key] = true
				}
			}
		}
	}
	for _, k := range restartKeys {
		if !seen[k.key] {
			t.Errorf("%s needs a restart but has no row in docs/CONFIG.md", k.key)
		}
	}
}
