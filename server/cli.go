package server

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/internal/clock"
	"github.com/watchpost/watchpost/store"
)

// Env is the process's standard streams.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// serveEnv names the environment variables `watchpost serve` reads when
// the flag is not given (flags win, then these, then the file): a
// container sets them once (Dockerfile) and `docker run -e` changes them.
var serveEnv = map[string]string{
	"config":        "WATCHPOST_CONFIG",
	"data":          "WATCHPOST_DATA",
	"listen":        "WATCHPOST_LISTEN",
	"syslog-listen": "WATCHPOST_SYSLOG_LISTEN",
}

// ServeMain is `watchpost serve`.
func ServeMain(ctx context.Context, args []string, env Env, hup <-chan os.Signal) int {
	return serveMain(ctx, args, env, hup, os.LookupEnv)
}

func serveMain(ctx context.Context, args []string, env Env, hup <-chan os.Signal, getenv func(string) (string, bool)) int {
	fs := flag.NewFlagSet("watchpost serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cfgPath := fs.String("config", "", "configuration file (default: none, run on the embedded defaults; env WATCHPOST_CONFIG)")
	data := fs.String("data", "", "data folder (default ./watchpost-data; wins over the config file; env WATCHPOST_DATA)")
	listen := fs.String("listen", "", "HTTP listen address (default 127.0.0.1:8080; wins over the config file; env WATCHPOST_LISTEN)")
	syslogListen := fs.String("syslog-listen", "", "syslog UDP and TCP listen address (default 127.0.0.1:5514; \"off\" turns it off; wins over the config file; env WATCHPOST_SYSLOG_LISTEN)")
	logFormat := fs.String("log-format", "text", "log format on stderr: text or json")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "watchpost serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, v := range serveEnv {
		if val, ok := getenv(v); ok && !given[name] && val != "" {
			fs.Set(name, val)
			given[name] = true
		}
	}
	var h slog.Handler = slog.NewTextHandler(env.Stderr, nil)
	if *logFormat == "json" {
		h = slog.NewJSONHandler(env.Stderr, nil)
	}
	logger := slog.New(h)
	now, err := clock.Wall()
	if err != nil {
		fmt.Fprintf(env.Stderr, "watchpost serve: %v\n", err)
		return 2
	}
	o := Options{ConfigPath: *cfgPath, DataDir: *data, Listen: *listen, Out: env.Stdout, Logger: logger, Reload: hup, Now: now, Argv0: os.Args[0]}
	if given["syslog-listen"] {
		o.SyslogListen = syslogListen
		if *syslogListen == "off" {
			o.SyslogListen = new(string)
		}
	}
	if err := Run(ctx, o); err != nil {
		fmt.Fprintf(env.Stderr, "watchpost serve: %v\n", err)
		return 1
	}
	return 0
}

// BackupMain is `watchpost backup FILE`.
func BackupMain(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("watchpost backup", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	data := fs.String("data", "watchpost-data", "the loghost's data folder")
	db := fs.String("db", "", "the store file (default DATA/watchpost.db)")
	fs.Usage = func() {
		fmt.Fprintln(env.Stderr, "usage: watchpost backup [-data DIR | -db FILE] DEST")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	path := *db
	if path == "" {
		path = filepath.Join(*data, "watchpost.db")
	}
	dest := fs.Arg(0)
	if _, err := os.Stat(dest); err == nil {
		fmt.Fprintf(env.Stderr, "watchpost backup: %s exists; choose a new file\n", dest)
		return 1
	}
	s, err := store.Open(ctx, store.Options{Path: path, ReadOnly: true})
	if err != nil {
		fmt.Fprintf(env.Stderr, "watchpost backup: %v\n", err)
		return 1
	}
	defer s.Close()
	start := time.Now()
	if err := s.Backup(ctx, dest); err != nil {
		fmt.Fprintf(env.Stderr, "watchpost backup: %v\n", err)
		return 1
	}
	fi, _ := os.Stat(dest)
	var size int64
	if fi != nil {
		size = fi.Size()
	}
	fmt.Fprintf(env.Stdout, "backup of %s written to %s (%d bytes, %s)\n", path, dest, size, time.Since(start).Round(time.Millisecond))
	return 0
}

// UserMain is `watchpost user hash`: a bcrypt hash for server.users.
func UserMain(args []string, env Env) int {
	if len(args) != 1 || args[0] != "hash" {
		fmt.Fprintln(env.Stderr, "usage: watchpost user hash < password")
		return 2
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintf(env.Stderr, "watchpost user hash: %v\n", err)
		return 1
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 8 {
		fmt.Fprintln(env.Stderr, "watchpost user hash: the password needs at least 8 characters")
		return 1
	}
	h, err := dashboard.HashPassword(pw)
	if err != nil {
		fmt.Fprintf(env.Stderr, "watchpost user hash: %v\n", err)
		return 1
	}
	fmt.Fprintln(env.Stdout, h)
	return 0
}

// HealthcheckMain is `watchpost healthcheck`: exit 0 when /healthz says ok.
// The container image has no curl; its HEALTHCHECK runs this.
func HealthcheckMain(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("watchpost healthcheck", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	u := fs.String("url", "", "the loghost's /healthz (default: http://127.0.0.1:PORT/healthz, PORT from $WATCHPOST_LISTEN, else 8080)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *u == "" {
		*u = healthURL(os.Getenv("WATCHPOST_LISTEN"))
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *u, nil)
	if err != nil {
		fmt.Fprintf(env.Stderr, "healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(env.Stderr, "healthcheck: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(env.Stderr, "healthcheck: %s\n", resp.Status)
		return 1
	}
	return 0
}

// healthURL is /healthz on this machine at the port of a listen address
// (the container's WATCHPOST_LISTEN, so the image's health check follows
// a port changed with docker run -e).
func healthURL(listen string) string {
	port := "8080"
	if _, p, err := net.SplitHostPort(listen); err == nil && p != "" {
		port = p
	}
	return "http://127.0.0.1:" + port + "/healthz"
}
