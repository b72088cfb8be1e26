package checker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/watchpost/watchpost/config"
)

// The file prober checks that backups arrive: the files matching a glob
// (target), how many there are, how old the newest is, its size, and its
// size against the one before it, so that "newest_age < 26h",
// "newest_size > 1000000" and "size_change_pct > -40" (not 40% smaller
// than the previous run) read as the admin would say them.

func compileFile(p *Probe, c config.Check) error {
	if strings.HasPrefix(c.Target, "s3://") {
		return compileS3(p, c)
	}
	if !filepath.IsAbs(c.Target) {
		return fmt.Errorf("file target %q: want an absolute path or glob", c.Target)
	}
	if _, err := filepath.Match(c.Target, ""); err != nil {
		return fmt.Errorf("file target %q: %w", c.Target, err)
	}
	p.addr = c.Target
	return nil
}

// arrival is one backup file or object.
type arrival struct {
	mod  time.Time
	size int64
}

func runFile(ctx context.Context, p *Probe, v map[string]any) error {
	start := time.Now()
	if p.bucket != nil {
		files, err := p.bucket.list(ctx)
		if err != nil {
			return err
		}
		putArrivals(p, v, files)
		v["response_time"] = time.Since(start)
		return nil
	}
	paths, err := filepath.Glob(p.addr)
	if err != nil {
		return err
	}
	type file = arrival
	var files []file
	for _, path := range paths {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		files = append(files, file{fi.ModTime(), fi.Size()})
	}
	putArrivals(p, v, files)
	v["response_time"] = time.Since(start)
	return nil
}

// putArrivals sets the placeholders from the files or objects found.
func putArrivals(p *Probe, v map[string]any, files []arrival) {
	sort.Slice(files, func(i, j int) bool { return files[i].mod.After(files[j].mod) })
	v["count"] = int64(len(files))
	if len(files) > 0 {
		v["newest_age"] = p.opts.now().Sub(files[0].mod)
		v["newest_size"] = files[0].size
	}
	if len(files) > 1 && files[1].size > 0 {
		v["size_change_pct"] = float64(files[0].size-files[1].size) * 100 / float64(files[1].size)
	}
}
