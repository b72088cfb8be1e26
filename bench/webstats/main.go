// Command webstats writes the synthetic access log of
// bench/webstats-side-by-side.sh (and runs webstats.Main, as
// "watchpost stats" does, for profiling without the rest of the binary):
//
//	webstats gen -lines N -o FILE   # synthetic combined log
//	webstats stats [flags] LOG...   # same as "watchpost stats"
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	webstatsfixture "github.com/watchpost/watchpost/fixtures/webstats"
	"github.com/watchpost/watchpost/webstats"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: webstats gen|stats ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "stats":
		os.Exit(webstats.Main(ctx, os.Args[2:], os.Stdout, os.Stderr))
	case "gen":
		fs := flag.NewFlagSet("gen", flag.ExitOnError)
		lines := fs.Int("lines", 200_000, "lines to write")
		out := fs.String("o", "", "output file")
		days := fs.Int("days", 10, "days the log spans")
		seed := fs.Uint64("seed", 1, "random seed")
		fs.Parse(os.Args[2:])
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cfg := webstatsfixture.Config{Lines: *lines, Start: time.Date(2026, 9, 25, 0, 0, 0, 0, time.UTC),
			Span: time.Duration(*days) * 24 * time.Hour, Seed: *seed, Visitors: 2000}
		if err := webstatsfixture.Generate(f, cfg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: webstats gen|stats ...")
		os.Exit(2)
	}
}
