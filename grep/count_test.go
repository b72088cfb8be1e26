package grep

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
)

// TestCountAndBy: -c prints the number of matches and -by a field's
// values by count, from a data folder, as the example (the
// addresses failing sshd logins) asks.
func TestCountAndBy(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Path: filepath.Join(dir, "watchpost.db")})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var recs []store.Record
	for i := 0; i < 60; i++ {
		ev := logparse.NewEvent()
		ev.Program, ev.Time = "sshd", t0.Add(time.Duration(i)*time.Minute)
		client := fmt.Sprintf("203.0.113.%d", i%4*i%3)
		ev.Message = "Failed password for root from " + client + " port 22 ssh2"
		ev.Fields = []logparse.Field{{Key: "client", Value: client}}
		recs = append(recs, store.Record{Kind: store.KindLog, Event: ev, Raw: ev.Message, Offset: -1})
	}
	if _, err := s.Append(ctx, "web1", recs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	run := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := Run(ctx, append([]string{"-data", dir}, args...), Env{Stdout: &out, Stderr: &errb, Now: func() time.Time { return t0.Add(time.Hour) }, Location: time.UTC})
		return out.String() + errb.String(), code
	}
	if out, code := run("-c", "failed", "password"); out != "60\n" || code != 0 {
		t.Fatalf("-c: %q %d", out, code)
	}
	if out, code := run("-c", "-since", "30m", "program=sshd"); out != "30\n" || code != 0 {
		t.Fatalf("-c -since: %q %d", out, code)
	}
	if out, code := run("-c", "nothing"); out != "0\n" || code != 1 {
		t.Fatalf("-c no match: %q %d", out, code)
	}
	out, code := run("-by", "client", "-n", "2", "program=sshd")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasSuffix(lines[0], " 203.0.113.0") || !strings.Contains(lines[2], "(other values)") {
		t.Fatalf("-by: %q %d", out, code)
	}
	if out, code := run("-by", "client", "-o", "json", "program=sshd"); code != 0 || !strings.HasPrefix(out, `{"count":60,"fields":[{"name":"client"`) {
		t.Fatalf("-by json: %q", out)
	}
	if out, code := run("-c", "-f", "x"); code != 2 || !strings.Contains(out, "neither -f nor -C") {
		t.Fatalf("-c -f: %q %d", out, code)
	}
}
