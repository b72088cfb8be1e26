package server

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/uptime"
)

// StatusExportMain is `watchpost status export DIR`: the public status
// page as static files (index.html, style.css, status.json, feed.atom and
// a badge per public check), to publish on another host so the page stays
// up when the loghost is down. It reads the store read-only, so it can
// run beside the loghost, from cron.
func StatusExportMain(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(env.Stderr, "usage: watchpost status export [-config FILE] [-data DIR] OUTDIR")
		return 2
	}
	fs := flag.NewFlagSet("watchpost status export", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cfgPath := fs.String("config", "", "the loghost's configuration file (its checks and status page)")
	data := fs.String("data", "", "the loghost's data folder (default: the config's storage path, else ./watchpost-data)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "usage: watchpost status export [-config FILE] [-data DIR] OUTDIR")
		return 2
	}
	out := fs.Arg(0)
	cfg := config.Default("watchpost-data")
	if *cfgPath != "" {
		c, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintln(env.Stderr, err)
			return 2
		}
		cfg = c
	}
	path := cfg.Storage.Path
	if *data != "" {
		path = filepath.Join(*data, "watchpost.db")
	}
	s, err := store.Open(ctx, store.Options{Path: path, ReadOnly: true})
	if err != nil {
		fmt.Fprintf(env.Stderr, "watchpost status export: %v\n", err)
		return 1
	}
	defer s.Close()
	if err := exportStatus(ctx, cfg, uptime.NewReader(s.ReadDB(), cfg.Location()), time.Now, out); err != nil {
		fmt.Fprintf(env.Stderr, "watchpost status export: %v\n", err)
		return 1
	}
	fmt.Fprintf(env.Stdout, "status page written to %s\n", out)
	return 0
}

// exportStatus renders the public handlers into files. Links are made
// relative, and the live-update script is left out: a static copy has no
// websocket to listen to.
func exportStatus(ctx context.Context, cfg *config.Config, rd *uptime.Reader, now func() time.Time, out string) error {
	page, api := dashboard.PublicStatus(dashboard.NewStatusCache(statusSource(func() *config.Config { return cfg }, rd, now, nil), time.Minute, nil))
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", page)
	mux.Handle("GET /api/v1/status", api)
	mux.Handle("GET /feed.atom", feedHandler(func() *config.Config { return cfg }, rd, nil))
	mux.Handle("GET /badge/{file}", badgeHandler(func() *config.Config { return cfg }, rd, now))
	// file → the URL it is the copy of
	files := map[string]string{"index.html": "/", "status.json": "/api/v1/status", "feed.atom": "/feed.atom"}
	for _, c := range cfg.Checks {
		if c.Public {
			files["badge/"+c.Name+".svg"] = "/badge/" + url.PathEscape(c.Name) + ".svg"
		}
	}
	for _, h := range cfg.Heartbeats {
		if h.Public {
			files["badge/"+h.Name+".svg"] = "/badge/" + url.PathEscape(h.Name) + ".svg"
		}
	}
	if err := os.MkdirAll(filepath.Join(out, "badge"), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	for name, target := range files {
		if strings.ContainsAny(strings.TrimPrefix(name, "badge/"), `/\`) {
			continue // a check name that is not a file name
		}
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return fmt.Errorf("%s: %d %s", name, rec.Code, strings.TrimSpace(rec.Body.String()))
		}
		body := rec.Body.String()
		if name == "index.html" {
			body = strings.NewReplacer(
				`<script src="/admin/static/status.js" defer></script>`, "",
				`href="/admin/static/style.css"`, `href="style.css"`,
				`href="/api/v1/status"`, `href="status.json"`,
				`href="/feed.atom"`, `href="feed.atom"`,
			).Replace(body)
		}
		if err := writeFileAtomic(filepath.Join(out, name), []byte(body)); err != nil {
			return err
		}
	}
	css, err := dashboard.StaticFile("style.css")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(out, "style.css"), css)
}

// writeFileAtomic replaces a file whole, so a web server publishing the
// folder never serves half a page.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
