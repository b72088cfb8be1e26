package server

import (
	"strings"
	"testing"

	"github.com/watchpost/watchpost/config"
)

// The banner's hints call the program as it was started: after `go run`
// there is no "watchpost" to call.
func TestSelfCommand(t *testing.T) {
	for argv0, want := range map[string]string{
		"./watchpost":                          "./watchpost",
		"/usr/local/bin/watchpost":             "/usr/local/bin/watchpost",
		"watchpost":                            "watchpost",
		"/tmp/go-build2807/b001/exe/watchpost": "go run ./cmd/watchpost",
		"":                                     "watchpost",
	} {
		if got := selfCommand(argv0); got != want {
			t.Errorf("%q: %q, want %q", argv0, got, want)
		}
	}
}

// The image's health check asks the port the loghost listens on.
func TestHealthURL(t *testing.T) {
	for listen, want := range map[string]string{
		"":             "http://127.0.0.1:8080/healthz",
		"0.0.0.0:9000": "http://127.0.0.1:9000/healthz",
		"[::]:8443":    "http://127.0.0.1:8443/healthz",
		"bogus":        "http://127.0.0.1:8080/healthz",
	} {
		if got := healthURL(listen); got != want {
			t.Errorf("%q: %s, want %s", listen, got, want)
		}
	}
}

// A reload names exactly the changed keys it cannot apply.
func TestNeedRestart(t *testing.T) {
	parse := func(y string) *config.Config {
		c, err := config.Parse("x.yml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := parse("server: {listen: 127.0.0.1:1}\nstorage: {retention: 30d}\nchecks: [{name: a, type: tcp, target: 'x:1'}]\n")
	cfg := parse("server: {listen: 127.0.0.1:2}\nstorage: {retention: 60d}\nchecks: [{name: b, type: tcp, target: 'x:1'}]\ntimezone: UTC\n")
	got := strings.Join(needRestart(old, cfg), ",")
	if got != "timezone,server.listen,storage" {
		t.Fatalf("needRestart: %s", got)
	}
	if keys := needRestart(old, old); len(keys) != 0 {
		t.Fatalf("no change: %v", keys)
	}
}
