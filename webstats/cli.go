package webstats

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/watchpost/watchpost/logparse"
	"golang.org/x/term"
)

const usage = `usage: watchpost stats [-site S] [-format text|json|html] [-o FILE] [-tz ZONE]
                       [-log-format combined|common|vhost_combined|auto] [-geoip FILE.mmdb]
                       [-privacy truncate|hash [-privacy-key-file FILE]]
                       [-visit-timeout 1h] [-split-visits-at-midnight=true] [-hit-codes 200,304]
                       LOG...
       watchpost stats -server URL -token-file F [-site S] [-month YYYY-MM|all]
                       [-format text|json|html] [-o FILE]

Reads access logs (plain or gzipped, several at once, in any order) and
writes AWStats-style monthly statistics per site. A file given twice (same
content) is read once. The definitions default to AWStats 7.8's.

With -server, writes the months a loghost keeps instead (its admin API):
each site's newest month, the one -month names, or all of them.
`

var monthArg = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// cliArgs are the parsed command line of "watchpost stats".
type cliArgs struct {
	site, format, out, logFormat, geo string
	opts                              Options
	logs                              []string
	// server, token and month: read the loghost's stored months.
	server, token, month string
}

// parseArgs reads the command line; code is the exit code when ok is false.
func parseArgs(args []string, stderr io.Writer) (c cliArgs, code int, ok bool) {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	fs.StringVar(&c.site, "site", "", "site name (default: the vhost field, else \"default\")")
	fs.StringVar(&c.format, "format", "text", "output: text, json or html")
	fs.StringVar(&c.out, "o", "", "write the report to `FILE` instead of standard output")
	tz := fs.String("tz", "UTC", "time `ZONE` of days and hours (IANA name or Local)")
	fs.StringVar(&c.logFormat, "log-format", "combined", "access log format")
	fs.StringVar(&c.geo, "geoip", "", "MaxMind country database (`FILE.mmdb`)")
	priv := fs.String("privacy", "", "store client addresses truncated (truncate) or keyed-hashed (hash)")
	keyFile := fs.String("privacy-key-file", "", "the hash key (at least 16 characters) for -privacy hash")
	timeout := fs.Duration("visit-timeout", time.Hour, "a visit ends after this long without a page")
	split := fs.Bool("split-visits-at-midnight", true, "a visit also ends at midnight (AWStats)")
	codes := fs.String("hit-codes", "200,304", "status `CODES` whose requests are hits, comma-separated")
	fs.StringVar(&c.server, "server", "", "read the months a loghost keeps (`URL`, https://loghost:8443) instead of log files")
	tokenFile := fs.String("token-file", "", "file holding the loghost's admin token (with -server)")
	fs.StringVar(&c.month, "month", "", "with -server: `YYYY-MM`, or all (default: each site's newest)")
	fail := func(format string, a ...any) (cliArgs, int, bool) {
		fmt.Fprintf(stderr, "stats: "+format+"\n", a...)
		return c, 2, false
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, 0, false
		}
		return c, 2, false
	}
	c.logs = fs.Args()
	switch {
	case c.server != "" && len(c.logs) > 0:
		return fail("give log files or -server, not both")
	case c.server != "":
		if c.month != "" && c.month != "all" && !monthArg.MatchString(c.month) {
			return fail("-month %q: want YYYY-MM or all", c.month)
		}
		if *tokenFile == "" {
			return fail("-server needs -token-file (the admin token)")
		}
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fail("read token: %v", err)
		}
		c.token = strings.TrimSpace(string(b))
	case c.month != "":
		return fail("-month needs -server: log files give every month they hold")
	case len(c.logs) == 0:
		fmt.Fprintln(stderr, "stats: no log file given")
		fs.Usage()
		return c, 2, false
	}
	if c.format != "text" && c.format != "json" && c.format != "html" {
		return fail("unknown -format %q", c.format)
	}
	switch c.logFormat {
	case "combined", "common", "vhost_combined", "auto":
	default:
		return fail("unknown -log-format %q", c.logFormat)
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return fail("-tz: %v", err)
	}
	c.opts = Options{Location: loc, Privacy: Privacy{Mode: *priv}}
	if *keyFile != "" {
		key, err := os.ReadFile(*keyFile)
		if err != nil {
			return fail("-privacy-key-file: %v", err)
		}
		c.opts.Privacy.Key = bytes.TrimSpace(key)
	}
	if err := c.opts.Privacy.Validate(); err != nil {
		return fail("-privacy: %v", err)
	}
	c.opts.Definitions = Definitions{VisitTimeout: *timeout, SplitAtMidnight: split}
	for f := range strings.SplitSeq(*codes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fail("-hit-codes: %q is not a status code", f)
		}
		c.opts.Definitions.HitCodes = append(c.opts.Definitions.HitCodes, n)
	}
	if err := c.opts.Definitions.Validate(); err != nil {
		return fail("%v", err)
	}
	return c, 0, true
}

// Main implements "watchpost stats". It returns 0, 1 on a read or write
// error, or 2 on a usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, code, ok := parseArgs(args, stderr)
	if !ok {
		return code
	}
	if c.server != "" {
		rs, err := remoteReports(ctx, &http.Client{Timeout: time.Minute}, c.server, c.token, c.site, c.month)
		if err != nil {
			fmt.Fprintf(stderr, "stats: %v\n", err)
			return 1
		}
		return write(c, rs, stdout, stderr)
	}
	opts := c.opts
	if c.geo != "" {
		g, err := OpenMaxMind(c.geo)
		if err != nil {
			fmt.Fprintf(stderr, "stats: %v\n", err)
			return 1
		}
		defer g.Close()
		opts.GeoIP = g
	}
	var prog *progress
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		prog = &progress{w: stderr, start: time.Now()}
	}
	agg := New(opts)
	if err := readLogs(ctx, agg, c.site, c.logFormat, c.logs, prog, stderr); err != nil {
		fmt.Fprintf(stderr, "stats: %v\n", err)
		return 1
	}
	var reports []*Report
	for _, k := range agg.Months() {
		reports = append(reports, agg.Report(k.Site, k.Year, k.Month))
	}
	return write(c, reports, stdout, stderr)
}

// write renders the reports in the chosen format to -o or stdout.
func write(c cliArgs, reports []*Report, stdout, stderr io.Writer) int {
	var buf bytes.Buffer
	var err error
	switch c.format {
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		err = enc.Encode(reports)
	case "html":
		err = WriteHTML(&buf, reports)
	default:
		err = WriteText(&buf, reports)
	}
	if err != nil {
		fmt.Fprintf(stderr, "stats: render: %v\n", err)
		return 1
	}
	if c.out != "" {
		if err := os.WriteFile(c.out, buf.Bytes(), 0o644); err != nil {
			fmt.Fprintf(stderr, "stats: %v\n", err)
			return 1
		}
		return 0
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return 1
	}
	return 0
}

// progress shows bytes read and lines per second on a terminal.
type progress struct {
	w     io.Writer
	start time.Time
	total int64
	read  atomic.Int64
	lines atomic.Int64
	last  time.Time
	mu    sync.Mutex
}

func (p *progress) tick(final bool) {
	if p == nil || p.total < 8<<20 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !final && now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	fmt.Fprintf(p.w, "\r%3d%%  %d lines  %.0f lines/s ", 100*p.read.Load()/max(p.total, 1), p.lines.Load(), float64(p.lines.Load())/max(el, 1e-3))
	if final {
		fmt.Fprintln(p.w)
	}
}

type countingReader struct {
	r io.Reader
	p *progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if c.p != nil {
		c.p.read.Add(int64(n))
		c.p.tick(false)
	}
	return n, err
}

// readLogs parses the files and adds their requests to agg. Files with the
// same content as an earlier one are skipped (with a note on warn), so a
// log given twice, or a rotated copy under another name, counts once.
func readLogs(ctx context.Context, agg *Aggregator, site, format string, paths []string, prog *progress, warn io.Writer) error {
	seen := map[[32]byte]string{}
	var files []string
	for _, p := range paths {
		sum, size, err := hashFile(p)
		if err != nil {
			return err
		}
		if first, dup := seen[sum]; dup {
			fmt.Fprintf(warn, "stats: %s has the same content as %s: read once\n", p, first)
			continue
		}
		seen[sum] = p
		files = append(files, p)
		if prog != nil {
			prog.total += size
		}
	}
	var requests int64
	for _, p := range files {
		t, err := readLog(ctx, agg, site, format, p, prog)
		if err != nil {
			return err
		}
		requests += t.requests
		if t.skipped > 0 {
			fmt.Fprintf(warn, "stats: %s: %d of %d lines are not access-log requests (-log-format %s), such as %q\n",
				p, t.skipped, t.requests+t.skipped, format, clean(t.sample))
		}
	}
	prog.tick(true)
	if requests == 0 {
		return fmt.Errorf("no access-log requests in %d file(s): is -log-format %s right?", len(files), format)
	}
	return nil
}

// tally counts what a file held: requests, and lines that were not one
// with the first of them as an example.
type tally struct {
	requests, skipped int64
	sample            string
}

func (t *tally) add(o tally) {
	t.requests += o.requests
	if o.skipped > 0 && t.skipped == 0 {
		t.sample = o.sample
	}
	t.skipped += o.skipped
}

func hashFile(path string) ([32]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return [32]byte{}, 0, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return [32]byte{}, 0, fmt.Errorf("read %s: %w", path, err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum, n, nil
}

const chunkSize = 1 << 20

// readLog splits the file into chunks of whole lines, parses them on every
// core and feeds one aggregator: since the result does not depend on
// order, the batches need no reordering.
func readLog(ctx context.Context, agg *Aggregator, site, format, path string, prog *progress) (tally, error) {
	var total tally
	f, err := os.Open(path)
	if err != nil {
		return total, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	var r io.Reader = countingReader{f, prog}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return total, fmt.Errorf("gunzip %s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	workers := max(runtime.GOMAXPROCS(0), 1)
	chunks := make(chan []byte, workers)
	type batch struct {
		reqs []Request
		tally
	}
	batches := make(chan batch, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				var b batch
				b.reqs, b.tally = parseChunk(c, format)
				batches <- b
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		for b := range batches {
			for i := range b.reqs {
				agg.AddRequest(site, &b.reqs[i])
			}
			total.add(b.tally)
			if prog != nil {
				prog.lines.Add(int64(len(b.reqs)))
			}
		}
		close(done)
	}()
	var readErr error
	carry := []byte(nil)
	for {
		if err := ctx.Err(); err != nil {
			readErr = err
			break
		}
		buf := make([]byte, len(carry), len(carry)+chunkSize)
		copy(buf, carry)
		n, err := io.ReadFull(r, buf[len(carry):cap(buf)])
		buf = buf[:len(carry)+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			if len(buf) > 0 {
				chunks <- buf
			}
			break
		}
		if err != nil {
			readErr = fmt.Errorf("read %s: %w", path, err)
			break
		}
		cut := bytes.LastIndexByte(buf, '\n')
		if cut < 0 { // one line longer than a chunk: keep reading it
			carry = buf
			continue
		}
		carry = append([]byte(nil), buf[cut+1:]...)
		chunks <- buf[:cut+1]
	}
	close(chunks)
	wg.Wait()
	close(batches)
	<-done
	return total, readErr
}

// parseChunk parses whole lines; lines that are not requests are counted.
func parseChunk(c []byte, format string) ([]Request, tally) {
	var t tally
	out := make([]Request, 0, len(c)/200)
	for len(c) > 0 {
		line := c
		if i := bytes.IndexByte(c, '\n'); i >= 0 {
			line, c = c[:i], c[i+1:]
		} else {
			c = nil
		}
		if len(line) == 0 {
			continue
		}
		// The zone only matters for lines without an offset; CLF has one.
		ev := logparse.Parse(format, line, time.Time{}, time.UTC)
		if r, ok := RequestOf(&ev); ok {
			out = append(out, r)
			continue
		}
		if t.skipped == 0 {
			t.sample = string(line[:min(len(line), 100)])
		}
		t.skipped++
	}
	t.requests = int64(len(out))
	return out, t
}
