package report

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/store"
)

// Main is `watchpost report monthly`.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr, time.Now)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) int {
	if len(args) == 0 || args[0] != "monthly" {
		fmt.Fprintln(stderr, "usage: watchpost report monthly [-config FILE] [-data DIR] [-month YYYY-MM] [-format text|html] [-send]")
		return 2
	}
	fs := flag.NewFlagSet("watchpost report monthly", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the loghost's configuration file (its checks, heartbeats and time zone)")
	data := fs.String("data", "", "the loghost's data folder (default: the config's storage path, else ./watchpost-data)")
	monthS := fs.String("month", "", "the month, YYYY-MM in the configured time zone (default: last month)")
	format := fs.String("format", "text", "output: text or html")
	send := fs.Bool("send", false, "queue the report in the outbox; the running loghost sends it to its receivers")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "watchpost report monthly: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *format != "text" && *format != "html" {
		fmt.Fprintf(stderr, "watchpost report monthly: -format %q: want text or html\n", *format)
		return 2
	}
	var cfg *config.Config
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			fmt.Fprintf(stderr, "watchpost report monthly: %v\n", err)
			return 1
		}
	} else {
		cfg = config.Default("watchpost-data")
	}
	path := cfg.Storage.Path
	if *data != "" {
		path = filepath.Join(*data, "watchpost.db")
	} else if path == "" {
		path = filepath.Join("watchpost-data", "watchpost.db")
	}
	t := now()
	month := MonthOf(t, cfg.Location()).AddDate(0, -1, 0)
	if *monthS != "" {
		var err error
		if month, err = ParseMonth(*monthS, cfg.Location()); err != nil {
			fmt.Fprintf(stderr, "watchpost report monthly: %v\n", err)
			return 2
		}
	}
	// Read-only: the loghost may be running and owns the writer.
	s, err := store.Open(ctx, store.Options{Path: path, ReadOnly: true})
	if err != nil {
		fmt.Fprintf(stderr, "watchpost report monthly: %v\n", err)
		return 1
	}
	defer s.Close()
	r, err := Build(ctx, s.ReadDB(), cfg, month, t)
	if err != nil {
		fmt.Fprintf(stderr, "watchpost report monthly: %v\n", err)
		return 1
	}
	if r.NotWatched {
		fmt.Fprintf(stderr, "watchpost report monthly: the store has no data for %s: %s\n", r.Month.Format("2006-01"), r.Coverage())
	}
	if *send {
		id, err := queueFile(ctx, path, r, t)
		if err != nil {
			fmt.Fprintf(stderr, "watchpost report monthly: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "queued as outbox #%d; the loghost sends it to its receivers (route source=report)\n", id)
		return 0
	}
	out := r.Text()
	if *format == "html" {
		out = r.HTML()
	}
	if _, err := io.WriteString(stdout, out); err != nil {
		return 1
	}
	return 0
}

// queueFile writes the one outbox row through its own short-lived
// connection rather than a writable store.Open, which would start a
// second writer (compaction, retention) beside the running loghost's.
func queueFile(ctx context.Context, path string, r *Report, now time.Time) (int64, error) {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return 0, fmt.Errorf("open store: %w", err)
	}
	defer db.Close()
	return Queue(ctx, db, r, now, false)
}
