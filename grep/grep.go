// Package grep is `watchpost grep`: search parsed logs from a terminal,
// against a remote loghost's API or a local data folder (read-only, while
// the loghost runs), and follow them live.
package grep

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/watchpost/watchpost/logapi"
	"github.com/watchpost/watchpost/query"
	"github.com/watchpost/watchpost/store"
)

// Env is what grep needs from its surroundings.
type Env struct {
	Stdout, Stderr io.Writer
	// Terminal tells whether stdout is a terminal: control characters in
	// log lines are then escaped.
	Terminal bool
	Now      func() time.Time
	Location *time.Location
	HTTP     *http.Client
}

// Run runs `watchpost grep` and returns the exit status: 0 when something
// matched, 1 when nothing did, 2 on errors (as grep(1)).
func Run(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("watchpost grep", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	server := fs.String("server", "", "loghost base URL (https://loghost:8443); without it, read -data locally")
	tokenFile := fs.String("token-file", "", "file holding the admin token (with -server)")
	token := fs.String("token", "", "admin token (shows in the process list: prefer -token-file)")
	data := fs.String("data", "watchpost-data", "local data folder (without -server)")
	since := fs.String("since", "", "from this time: a duration back (2h, 3d) or a time (2026-11-22 14:00, RFC 3339)")
	until := fs.String("until", "", "up to this time (same forms as -since)")
	n := fs.Int("n", 0, "only the newest N matches (printed oldest first); 0: all")
	ctxN := fs.Int("C", 0, "N lines of context from the same source around each match")
	follow := fs.Bool("f", false, "follow: print matching lines as they arrive")
	output := fs.String("o", "text", "output: text (the raw lines) or json (one event object a line)")
	count := fs.Bool("c", false, "print only the number of matching lines")
	by := fs.String("by", "", "print the values of `FIELD` among the matches with their counts, most frequent first (the newest -n of them; default 20)")
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: watchpost grep [-server URL -token-file F | -data DIR] [-since DUR|TIME] [-until ..] [-n N] [-C N] [-f] [-c | -by FIELD] [-o text|json] QUERY...\n\n")
		fmt.Fprintf(env.Stderr, "QUERY: bare words (case-insensitive substrings), \"phrases\", field=value, field!=value, field~regex, field>N, field<N\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *output != "text" && *output != "json" {
		fmt.Fprintf(env.Stderr, "watchpost grep: -o must be text or json\n")
		return 2
	}
	if *n < 0 || *ctxN < 0 || *ctxN > logapi.MaxContext {
		fmt.Fprintf(env.Stderr, "watchpost grep: -n must be ≥ 0 and -C from 0 to %d\n", logapi.MaxContext)
		return 2
	}
	q, err := query.ParseArgs(fs.Args())
	if err != nil {
		fmt.Fprintf(env.Stderr, "watchpost grep: %v\n", err)
		return 2
	}
	now := env.Now()
	sinceT, err1 := logapi.ParseTime(*since, now, env.Location)
	untilT, err2 := logapi.ParseTime(*until, now, env.Location)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintf(env.Stderr, "watchpost grep: %v\n", err)
		return 2
	}
	if *count || *by != "" {
		return countMain(ctx, env, countOpts{query: q, since: sinceT, until: untilT, by: *by, top: *n, json: *output == "json",
			server: *server, token: *token, tokenFile: *tokenFile, data: *data, follow: *follow, ctxN: *ctxN})
	}
	_, pinned := q.FieldEquals("host")
	p := &printer{w: bufio.NewWriterSize(env.Stdout, 64<<10), json: *output == "json", escape: env.Terminal, hostPrefix: !pinned}
	defer p.w.Flush()

	var matched bool
	if *server != "" {
		tok := *token
		if *tokenFile != "" {
			b, err := os.ReadFile(*tokenFile)
			if err != nil {
				fmt.Fprintf(env.Stderr, "watchpost grep: read token: %v\n", err)
				return 2
			}
			tok = strings.TrimSpace(string(b))
		}
		if tok == "" {
			fmt.Fprintf(env.Stderr, "watchpost grep: -server needs -token-file (the admin token)\n")
			return 2
		}
		c := &logapi.Client{Server: *server, Token: tok, HTTP: env.HTTP}
		matched, err = remote(ctx, c, q, sinceT, untilT, *n, *ctxN, *follow, p)
	} else {
		matched, err = local(ctx, filepath.Join(*data, "watchpost.db"), q, store.SearchOptions{Query: q, Since: sinceT, Until: untilT, Limit: *n, Context: *ctxN}, *follow, p)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		p.w.Flush()
		fmt.Fprintf(env.Stderr, "watchpost grep: %v\n", err)
		return 2
	}
	if matched {
		return 0
	}
	return 1
}

func remote(ctx context.Context, c *logapi.Client, q *query.Query, since, until time.Time, n, ctxN int, follow bool, p *printer) (bool, error) {
	params := url.Values{"q": {q.String()}}
	if !since.IsZero() {
		params.Set("since", since.Format(time.RFC3339Nano))
	}
	if !until.IsZero() {
		params.Set("until", until.Format(time.RFC3339Nano))
	}
	matched := false
	if follow {
		if n > 0 {
			params.Set("n", strconv.Itoa(n))
		}
		err := c.Tail(ctx, params, func(e logapi.Event) error {
			matched = matched || e.Missed == 0
			return p.event(e)
		})
		return matched, err
	}
	if n > 0 {
		params.Set("limit", strconv.Itoa(n))
	} else {
		params.Set("limit", strconv.Itoa(logapi.MaxLimit))
	}
	if ctxN > 0 {
		params.Set("context", strconv.Itoa(ctxN))
	}
	var events []logapi.Event
	err := c.Search(ctx, params, func(e logapi.Event) error {
		events = append(events, e)
		return nil
	})
	if err != nil {
		return false, err
	}
	p.hostPrefix = p.hostPrefix && manyHosts(events)
	for _, e := range events {
		matched = matched || !e.Context
		if err := p.event(e); err != nil {
			return matched, err
		}
	}
	return matched, nil
}

func manyHosts(events []logapi.Event) bool {
	for i := 1; i < len(events); i++ {
		if events[i].Host != events[0].Host {
			return true
		}
	}
	return false
}

func local(ctx context.Context, path string, q *query.Query, opts store.SearchOptions, follow bool, p *printer) (bool, error) {
	s, err := store.Open(ctx, store.Options{Path: path, ReadOnly: true})
	if err != nil {
		return false, err
	}
	defer s.Close()
	matched := false
	if follow {
		// Follow by ingest order from the newest record on.
		cur := s.LastSeq()
		if opts.Limit > 0 {
			o := opts
			o.Context = 0
			hits, _, err := s.Search(ctx, o)
			if err != nil {
				return false, err
			}
			for i := range hits {
				matched = true
				if err := p.event(logapi.FromRecord(&hits[i].Record)); err != nil {
					return matched, err
				}
			}
		}
		p.w.Flush()
		for {
			if err := s.Wait(ctx, cur); err != nil {
				return matched, err
			}
			recs, err := s.ReadAfter(ctx, cur, 5000)
			if err != nil {
				return matched, err
			}
			for i := range recs {
				cur = recs[i].Seq
				if recs[i].Kind == store.KindLog && q.Match(&recs[i]) {
					matched = true
					if err := p.event(logapi.FromRecord(&recs[i])); err != nil {
						return matched, err
					}
				}
			}
			p.w.Flush()
		}
	}
	hits, _, err := s.Search(ctx, opts)
	if err != nil {
		return false, err
	}
	if p.hostPrefix {
		p.hostPrefix = false
		for i := 1; i < len(hits); i++ {
			if hits[i].Host != hits[0].Host {
				p.hostPrefix = true
				break
			}
		}
	}
	for i := range hits {
		matched = matched || hits[i].Match
		e := logapi.FromRecord(&hits[i].Record)
		if opts.Context > 0 {
			e.Context, e.Group = !hits[i].Match, hits[i].Group
		}
		if err := p.event(e); err != nil {
			return matched, err
		}
	}
	return matched, nil
}

type printer struct {
	w          *bufio.Writer
	json       bool
	escape     bool
	hostPrefix bool
	lastGroup  int
	printed    bool
}

func (p *printer) event(e logapi.Event) error {
	if p.json {
		b, err := jsonLine(e)
		if err != nil {
			return err
		}
		_, err = p.w.Write(b)
		return err
	}
	if e.Missed > 0 {
		fmt.Fprintf(p.w, "watchpost: %d lines not shown: this terminal fell behind\n", e.Missed)
		return nil
	}
	if e.Group != 0 {
		if p.printed && e.Group != p.lastGroup {
			p.w.WriteString("--\n")
		}
		p.lastGroup = e.Group
	}
	p.printed = true
	line := e.Raw()
	if p.escape {
		line = query.EscapeControl(line)
	}
	if p.hostPrefix {
		host := e.Host
		if p.escape {
			host = query.EscapeControl(host)
		}
		p.w.WriteString(host)
		p.w.WriteString(":")
	}
	p.w.WriteString(line)
	return p.w.WriteByte('\n')
}

// Main is the entry point from the command line.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	term := false
	if f, ok := stdout.(*os.File); ok {
		term = isTerminal(f)
	}
	return Run(ctx, args, Env{Stdout: stdout, Stderr: stderr, Terminal: term, Now: time.Now, Location: time.Local})
}
