// Command benchdata fills a Watchpost store with generated syslog lines
// and writes the same lines to a plain log file, so that `watchpost grep`
// and grep(1) can be timed side by side over the same data
// (bench/grep-side-by-side.sh).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/watchpost/watchpost/fixtures"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
)

func main() {
	n := flag.Int("n", 10_000_000, "lines")
	dir := flag.String("dir", "benchdata", "output folder: DIR/watchpost.db and DIR/raw.log")
	upgrade := flag.Bool("upgrade", false, "only open an existing store (migrating it) and give every block its stats")
	flag.Parse()
	if *upgrade {
		if err := upgradeStore(*dir); err != nil {
			fmt.Fprintln(os.Stderr, "benchdata:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*n, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "benchdata:", err)
		os.Exit(1)
	}
}

func run(n int, dir string) error {
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s, err := store.Open(ctx, store.Options{Path: filepath.Join(dir, "watchpost.db"), Now: func() time.Time { return start.Add(30 * 24 * time.Hour) }})
	if err != nil {
		return err
	}
	defer s.Close()
	f, err := os.Create(filepath.Join(dir, "raw.log"))
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	g := fixtures.NewGenerator(42, start, 86*time.Millisecond)
	byHost := map[string][]store.Record{}
	began := time.Now()
	var raw int64
	for i := 0; i < n; i++ {
		l := g.Next()
		if i == n/2 {
			// the one line the rare-word search finds
			l.Program, l.Message = "app", "a quokka was seen near the datacenter"
			l.Text = l.Time.Format(time.Stamp) + " " + l.Host + " app[1]: " + l.Message
		}
		ev := logparse.NewEvent()
		ev.Time, ev.Host, ev.Program, ev.PID, ev.Message, ev.Severity, ev.Facility = l.Time, l.Host, l.Program, strconv.Itoa(l.PID), l.Message, 6, 3
		r := store.Record{Kind: store.KindLog, Event: ev, Raw: l.Text, Source: "file:/var/log/syslog", Gen: "g1", Offset: int64(i) * 120, File: "/var/log/syslog"}
		byHost[l.Host] = append(byHost[l.Host], r)
		w.WriteString(l.Text)
		w.WriteByte('\n')
		raw += int64(len(l.Text) + 1)
		if len(byHost[l.Host]) == 2000 {
			if _, err := s.Append(ctx, l.Host, byHost[l.Host]); err != nil {
				return err
			}
			byHost[l.Host] = nil
		}
		if i%500000 == 0 && i > 0 {
			el := time.Since(began)
			fmt.Fprintf(os.Stderr, "\r%d/%d lines (%.0f lines/s)", i, n, float64(i)/el.Seconds())
		}
	}
	for h, recs := range byHost {
		if len(recs) > 0 {
			if _, err := s.Append(ctx, h, recs); err != nil {
				return err
			}
		}
	}
	el := time.Since(began)
	fmt.Fprintf(os.Stderr, "\r%d lines appended in %s (%.0f lines/s, generation included)\n", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
	if err := w.Flush(); err != nil {
		return err
	}
	merged, err := s.Compact(ctx, 0)
	if err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		if err := s.Vacuum(ctx); err != nil {
			return err
		}
	}
	var blocks, size, sig int64
	s.ReadDB().QueryRow("SELECT COUNT(*), SUM(size) FROM blocks").Scan(&blocks, &size)
	s.ReadDB().QueryRow("SELECT SUM(length(bits)) FROM block_sig").Scan(&sig)
	fi, err := os.Stat(filepath.Join(dir, "watchpost.db"))
	if err != nil {
		return err
	}
	fmt.Printf("lines=%d raw_bytes=%d blocks=%d (merged %d) block_bytes=%d (signatures %d) file_bytes=%d bytes_per_line=%.1f file/raw=%.3f\n",
		n, raw, blocks, merged, size, sig, fi.Size(), float64(fi.Size())/float64(n), float64(fi.Size())/float64(raw))
	return nil
}

// upgradeStore migrates a store built by an older binary and backfills
// its block stats, as a loghost's maintenance would over its first hours.
func upgradeStore(dir string) error {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Path: filepath.Join(dir, "watchpost.db")})
	if err != nil {
		return err
	}
	defer s.Close()
	total := 0
	for {
		n, err := s.BackfillStats(ctx, 500)
		total += n
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	fmt.Printf("block stats written for %d blocks\n", total)
	return nil
}
