package munin

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"
)

// Main is `watchpost munin ...`: tools around munin plugins and nodes.
//
//	run PLUGIN [config|autoconf|suggest]  run one plugin as munin-run does
//	collect                                one Runner round (config+fetch), JSON
//	fetch-all                              fetch every plugin once (no config), counts
//	node -listen ADDR                      answer munin masters (munin-node stand-in)
//	poll ADDR                              poll a munin-node once, JSON
//	fetch-round ADDR                       list + fetch every service of a node once
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("munin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pluginDir := fs.String("plugins", DefaultPluginDir, "plugin directory")
	confDir := fs.String("conf", DefaultConfDir, "plugin-conf.d directory")
	stateDir := fs.String("state", "", "MUNIN_PLUGSTATE parent (default: munin's as root, else a temp dir)")
	timeout := fs.Duration("timeout", 10*time.Second, "per plugin run / per exchange")
	parallel := fs.Int("parallel", 4, "plugins run at once")
	listen := fs.String("listen", "127.0.0.1:4949", "node: listen address")
	hostname := fs.String("hostname", "", "node: host name (default: os.Hostname)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: watchpost munin [flags] run PLUGIN [config|autoconf|suggest] | collect | fetch-all | node | poll ADDR | fetch-round ADDR")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	runner := func() (*Runner, error) {
		return NewRunner(RunnerOptions{PluginDir: *pluginDir, ConfDir: *confDir, StateDir: *stateDir,
			Timeout: *timeout, Parallel: *parallel, Hostname: *hostname, Logger: log})
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", " ")
	fail := func(err error) int {
		fmt.Fprintln(stderr, "munin:", err)
		return 1
	}
	switch cmd := rest[0]; {
	case cmd == "run" && len(rest) >= 2:
		r, err := runner()
		if err != nil {
			return fail(err)
		}
		var out []byte
		switch arg := ""; {
		case len(rest) > 2:
			arg = rest[2]
			out, err = r.Run(ctx, rest[1], *pluginDir+"/"+rest[1], arg)
		default:
			out, err = r.Fetch(ctx, rest[1])
		}
		stdout.Write(out)
		if err != nil {
			return fail(err)
		}
	case cmd == "collect" || cmd == "fetch-all":
		r, err := runner()
		if err != nil {
			return fail(err)
		}
		if cmd == "collect" {
			res, err := r.Collect(ctx)
			if err != nil {
				return fail(err)
			}
			type row struct {
				Result
				Error string `json:"error,omitempty"`
			}
			rows := make([]row, len(res))
			for i, x := range res {
				rows[i] = row{Result: x}
				if x.Err != nil {
					rows[i].Error = x.Err.Error()
				}
			}
			return boolExit(enc.Encode(rows) == nil)
		}
		names, err := r.List(ctx)
		if err != nil {
			return fail(err)
		}
		n, bad := fetchAll(ctx, names, *parallel, func(name string) ([]byte, error) { return r.Fetch(ctx, name) })
		fmt.Fprintf(stdout, "%d plugins, %d values, %d failed\n", len(names), n, bad)
	case cmd == "node":
		r, err := runner()
		if err != nil {
			return fail(err)
		}
		h := *hostname
		if h == "" {
			h, _ = os.Hostname()
		}
		node, err := NewNode(NodeOptions{Source: r, Hostname: h, Logger: log})
		if err != nil {
			return fail(err)
		}
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return fail(err)
		}
		if err := node.Serve(ctx, ln); err != nil {
			return fail(err)
		}
	case cmd == "poll" && len(rest) == 2:
		host, graphs, fetches, err := Poll(ctx, rest[1], *timeout)
		if err != nil {
			fmt.Fprintln(stderr, "munin poll:", err)
		}
		enc.Encode(map[string]any{"host": host, "graphs": graphs, "fetches": fetches})
		return boolExit(host != "")
	case cmd == "fetch-round" && len(rest) == 2:
		c, err := Dial(ctx, rest[1], *timeout)
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		if _, err := c.Cap(ctx, "multigraph"); err != nil {
			return fail(err)
		}
		names, err := c.List(ctx)
		if err != nil {
			return fail(err)
		}
		// One session is one conversation: fetches go one after another,
		// as a munin master's do.
		n, bad := fetchAll(ctx, names, 1, func(name string) ([]byte, error) { return c.Fetch(ctx, name) })
		fmt.Fprintf(stdout, "%d services, %d values, %d failed\n", len(names), n, bad)
	default:
		fs.Usage()
		return 2
	}
	return 0
}

func boolExit(ok bool) int {
	if ok {
		return 0
	}
	return 1
}

func fetchAll(ctx context.Context, names []string, parallel int, fetch func(string) ([]byte, error)) (values, failed int) {
	type res struct {
		n   int
		err error
	}
	out := make(chan res, len(names))
	sem := make(chan struct{}, parallel)
	for _, name := range names {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			b, err := fetch(name)
			fs, _ := ParseFetch(name, b)
			n := 0
			for _, f := range fs {
				n += len(f.Values)
			}
			out <- res{n, err}
		}()
	}
	for range names {
		r := <-out
		values += r.n
		if r.err != nil {
			failed++
		}
	}
	return values, failed
}
