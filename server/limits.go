package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/watchpost/watchpost/internal/connguard"
)

// httpLimits are the HTTP listener's connection bounds: the configured
// ones, or 2048 in all below the open-file limit, with a reserve of an
// eighth (at most 256) for ingest, /healthz and pings.
func (st settings) httpLimits() connguard.Config {
	n := st.maxConns
	if n == 0 {
		// The store, the files the loghost follows and syslog's
		// connections take their files first.
		n = connguard.DefaultMax(st.nofile, st.syslogMaxConns+512)
	}
	return connguard.Config{Max: n, PerAddress: st.perAddress, Reserve: min(max(n/8, 1), 256)}
}

// httpDeadlines fit each endpoint's body and answer; the rest gets the
// configured body timeout and a minute to take its answer.
func (st settings) httpDeadlines() []connguard.Rule {
	return []connguard.Rule{
		// Batches of up to 16 MiB from collectors on slow links.
		{Prefix: "/api/v1/ingest", Read: max(st.bodyTimeout, 2*time.Minute), Write: time.Minute},
		// Websockets (the log tail, the live status page, the console's
		// live list) set their own deadlines; Guard sees them by their
		// Upgrade header.
		// Large searches for grep -server.
		{Prefix: "/api/v1/logs", Read: st.bodyTimeout, Write: 10 * time.Minute},
	}
}

// priorityRequest is what a connection on the reserve may ask: what must
// get through while a flood holds the rest.
func priorityRequest(r *http.Request) bool {
	switch {
	case r.URL.Path == "/healthz":
		return true
	case r.URL.Path == "/api/v1/ingest":
		return r.Header.Get("Authorization") != ""
	case strings.HasPrefix(r.URL.Path, "/ping/"):
		return true
	}
	return false
}
