// Package grep is `watchpost grep`: search parsed logs from a terminal,
// against a remote loghost's API or a local data folder (read-only, while
// the loghost runs), and follow them live.
package grep

import (
	"bufio"
	"cmp"
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
	"github.com/watchpost/watchpost/vlogs"
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
	// PageSize is how many matches one API answer holds (tests make it
	// small); 0: the API's maximum.
	PageSize int
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
	output := fs.String("o", "text", "output: text (each line as rsyslog writes it, or as its file has it) or json (one event object a line, every field)")
	count := fs.Bool("c", false, "print only the number of matching lines")
	by := fs.String("by", "", "print the values of `FIELD` among the matches with their counts, most frequent first (the top -n of them; default 20)")
	fs.Usage = func() { usage(env.Stderr, fs) }
	words, err := parseInterleaved(fs, args)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(env.Stderr, "watchpost grep: %v\n", err)
		}
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
	q, err := query.ParseArgs(words)
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
	p := &printer{w: bufio.NewWriterSize(env.Stdout, 64<<10), json: *output == "json", terminal: env.Terminal, hostPinned: pinned, loc: env.Location}
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
		matched, err = remote(ctx, c, q, sinceT, untilT, *n, *ctxN, *follow, p, env.Stderr, pageSize(env))
	} else {
		if s, err := store.Open(ctx, store.Options{Path: filepath.Join(*data, "watchpost.db"), ReadOnly: true}); err == nil {
			if vlogs.Mode(ctx, s.ReadDB()) == "primary" {
				fmt.Fprintf(env.Stderr, "watchpost grep: this loghost keeps its lines in VictoriaLogs and only recent ones here; search them all with -server\n")
			}
			s.Close()
		}
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

func pageSize(env Env) int {
	if env.PageSize > 0 {
		return env.PageSize
	}
	return logapi.MaxLimit
}

func remote(ctx context.Context, c *logapi.Client, q *query.Query, since, until time.Time, n, ctxN int, follow bool, p *printer, stderr io.Writer, page int) (bool, error) {
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
			if err := p.event(e); err != nil {
				return err
			}
			// A follower shows each line as it comes, not once 64 KiB
			// have gathered.
			return p.w.Flush()
		})
		return matched, err
	}
	if ctxN > 0 {
		params.Set("context", strconv.Itoa(ctxN))
	}
	if n > 0 {
		params.Set("limit", strconv.Itoa(n))
		err := c.Search(ctx, params, func(e logapi.Event) error {
			matched = matched || !e.Context
			return p.event(e)
		})
		return matched, err
	}
	// All matches: one answer holds at most a page, so ask for the oldest
	// page and then again from the time of its last match, skipping what
	// the previous page already printed (records sharing that time).
	params.Set("limit", strconv.Itoa(page))
	params.Set("order", "oldest")
	var prev map[int64]bool
	groupBase := 0
	for pages := 0; ; pages++ {
		seen := map[int64]bool{}
		var last time.Time
		matches, fresh, maxGroup := 0, 0, 0
		err := c.Search(ctx, params, func(e logapi.Event) error {
			seen[e.Seq] = true
			if !e.Context {
				matches++
				last = e.Time
			}
			if prev[e.Seq] {
				return nil
			}
			fresh++
			if e.Group != 0 {
				maxGroup = max(maxGroup, e.Group)
				e.Group += groupBase
			}
			matched = matched || !e.Context
			return p.event(e)
		})
		if err != nil {
			return matched, err
		}
		if matches < page {
			return matched, nil
		}
		if fresh == 0 {
			p.w.Flush()
			fmt.Fprintf(stderr, "watchpost grep: more than %d matches share the time %s; the output stops there: narrow the query or use -data on the loghost\n",
				page, last.Format(time.RFC3339Nano))
			return matched, nil
		}
		prev, groupBase = seen, groupBase+maxGroup
		params.Set("since", last.Format(time.RFC3339Nano))
	}
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
	terminal   bool
	hostPinned bool // the query names one host: no line needs it said
	loc        *time.Location
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
	line, named := TextLine(e, p.loc)
	// One rule, searching or following: a line that names its host
	// (syslog and the journal, shown as rsyslog writes them) is printed
	// as it is; any other (a file's line) is prefixed with "host:",
	// unless the query names the one host they all come from.
	if !named && !p.hostPinned {
		p.w.WriteString(escapeText(e.Host, p.terminal))
		p.w.WriteString(":")
	}
	p.w.WriteString(escapeText(line, p.terminal))
	return p.w.WriteByte('\n')
}

// TextLine is how grep shows an event as text: a syslog message or a
// journal entry as rsyslog writes it to /var/log/syslog
// ("Dec  7 07:17:54 web1 sshd[23103]: Failed password ...", the time in
// loc, the host the loghost filed it under), any other line as it was
// written. named reports that the line names its host.
func TextLine(e logapi.Event, loc *time.Location) (line string, named bool) {
	if (e.Format != "syslog" && e.Format != "journal") || e.Message == "" {
		return e.Raw(), false
	}
	if loc == nil {
		loc = time.Local
	}
	var b strings.Builder
	b.Grow(32 + len(e.Host) + len(e.Program) + len(e.Message))
	b.WriteString(e.Time.In(loc).Format(time.Stamp))
	b.WriteByte(' ')
	b.WriteString(cmp.Or(e.Host, "-"))
	b.WriteByte(' ')
	if e.Program != "" {
		b.WriteString(e.Program)
		if e.PID != "" {
			b.WriteString("[" + e.PID + "]")
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String(), true
}

// escapeText makes a line safe to print: CR and LF always (piped into a
// file or another program, a line holding a newline would forge a second
// line, "web2:..." for instance), every other control character and the
// bidirectional overrides on a terminal.
func escapeText(s string, terminal bool) string {
	if terminal {
		return query.EscapeControl(s)
	}
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", `\x0d`, "\n", `\x0a`).Replace(s)
}

// Main is the entry point from the command line.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	term := false
	if f, ok := stdout.(*os.File); ok {
		term = isTerminal(f)
	}
	return Run(ctx, args, Env{Stdout: stdout, Stderr: stderr, Terminal: term, Now: time.Now, Location: time.Local})
}
