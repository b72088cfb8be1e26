package collector

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestGenerationNamedByBirth: two collectors that meet the same file (the
// second with its state folder lost) name its generation alike, so the
// loghost drops the second one's lines as replays; a new file on the same
// path is another generation.
func TestGenerationNamedByBirth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(path, []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gen := func(now time.Time) string {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		st, err := statOf(fi)
		if err != nil {
			t.Fatal(err)
		}
		return newGeneration(nil, "file:"+path, st.id, path, 0, 0, now, birthOf(f, now)).cp.Gen
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	first, second := gen(t0), gen(t0.Add(time.Hour))
	probe, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	hasBirth := !birthOf(probe, t0).Equal(t0)
	probe.Close()
	switch {
	case hasBirth && first != second:
		t.Fatalf("the same file named %s, then %s", first, second)
	case !hasBirth && first == second:
		// Without a birth time the first sight names it, which differs.
		t.Fatalf("no birth time, yet two sights named it alike: %s", first)
	}
	time.Sleep(10 * time.Millisecond)
	os.Remove(path)
	os.WriteFile(path, []byte("two\n"), 0o644)
	if third := gen(t0); third == first {
		t.Fatalf("a new file on the same path took the old one's generation %s", third)
	}
}
