package collector

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/buildinfo"
	"github.com/watchpost/watchpost/collector/probes"
	"github.com/watchpost/watchpost/config"
)

type fileFlags []FileConfig

func (f *fileFlags) String() string { return fmt.Sprint(*f) }

// Set takes PATH[,format=F][,site=S][,multiline=RE].
func (f *fileFlags) Set(v string) error {
	parts := strings.Split(v, ",")
	fc := FileConfig{Path: parts[0]}
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		switch {
		case ok && k == "format":
			fc.Format = val
		case ok && k == "site":
			fc.Site = val
		case ok && k == "multiline":
			fc.Multiline = val
		default:
			return fmt.Errorf("want PATH[,format=F][,site=S][,multiline=RE], got %q", v)
		}
	}
	*f = append(*f, fc)
	return nil
}

// Main is `watchpost collect`: follow this host's journal and log files
// and ship them to the loghost.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("collect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "collector configuration file (docs/CONFIG.md)")
	server := fs.String("server", "", "the loghost's URL (overrides the file)")
	tokenFile := fs.String("token-file", "", "file holding this host's ingest token (overrides the file)")
	caFile := fs.String("ca-file", "", "PEM CA for the loghost's certificate (default: system roots)")
	host := fs.String("host", "", "host name to file lines under (enrollment tokens only; default: hostname)")
	state := fs.String("state", "", "folder for checkpoints and the spool (default: state_dir, $STATE_DIRECTORY, the spool's folder, "+DefaultStateDir+")")
	journal := fs.Bool("journal", true, "follow the systemd journal (flag-only runs)")
	journalFile := fs.String("journal-file", "", "read this journal file (journalctl --file) from its start instead of the system journal")
	once := fs.Bool("once", false, "ship what is there now and exit (tests, cron)")
	metricsAddr := fs.String("metrics-listen", "", "serve the collector's own /metrics here (e.g. 127.0.0.1:9101)")
	reportEvery := fs.Duration("report-every", time.Minute, "how often to send the self-report")
	spoolMaxFlag := fs.String("spool-max", "", "spool bound (e.g. 512MiB); at it the collector stops reading and the files are the buffer")
	interval := fs.Duration("interval", 60*time.Second, "host metrics every this long (at least 10s)")
	hostMetrics := fs.Bool("metrics", true, "collect the built-in host metrics (/proc, /sys)")
	pluginDir := fs.String("munin-plugins", "", "run the munin plugins in this folder (default /etc/munin/plugins when it exists; none: off)")
	pluginConf := fs.String("munin-plugin-conf", "", "munin's plugin-conf.d (default /etc/munin/plugin-conf.d)")
	muninListen := fs.String("munin-listen", "", "answer a munin master here as munin-node does (e.g. 127.0.0.1:4949)")
	var files fileFlags
	fs.Var(&files, "file", "a file or glob to follow: PATH[,format=F][,site=S][,multiline=RE] (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil)).With("component", "collect")
	tuneMemory(*once)

	sc := ShipperConfig{}
	var mc metricsConfig
	var pc *probes.Config
	rc := Config{Files: files, Journal: *journal, Once: *once}
	var stateKey, spoolDir string
	spoolMax := int64(512 << 20)
	if *cfgPath != "" {
		c, err := config.LoadCollector(*cfgPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		sc.Server, sc.Token, sc.CAFile, sc.Host = c.Server, string(c.Token), c.CAFile, c.Host
		if !flagGiven(fs, "journal") {
			rc.Journal = c.Journal
		}
		for _, f := range c.Files {
			rc.Files = append(rc.Files, FileConfig{Path: f.Path, Format: f.Format, Site: f.Site, Multiline: f.Multiline,
				MultilineMax: int(f.MultilineMax), MultilineTimeout: time.Duration(f.MultilineTimeout)})
		}
		stateKey, spoolDir = c.StateDir, c.Spool
		spoolMax = int64(c.SpoolMax)
		if !flagGiven(fs, "interval") && c.Interval != 0 {
			*interval = time.Duration(c.Interval)
		}
		if !flagGiven(fs, "metrics") && c.Metrics != nil {
			*hostMetrics = *c.Metrics
		}
		if !flagGiven(fs, "munin-plugins") {
			*pluginDir = c.MuninPlugins
		}
		if !flagGiven(fs, "munin-plugin-conf") {
			*pluginConf = c.MuninPluginConf
		}
		if !flagGiven(fs, "munin-listen") {
			*muninListen = c.MuninListen
		}
		mc.allow = c.MuninAllow
		if c.Probes {
			pc = &probes.Config{Location: c.Location, SpoolMax: int64(c.ProbeSpoolMax), SpoolMaxAge: time.Duration(c.ProbeSpoolMaxAge)}
		}
	}
	if *interval < 10*time.Second {
		fmt.Fprintln(stderr, "watchpost collect: -interval: at least 10s")
		return 2
	}
	mc.interval, mc.builtin, mc.pluginDir, mc.pluginConf, mc.listen = *interval, *hostMetrics, *pluginDir, *pluginConf, *muninListen
	if *spoolMaxFlag != "" {
		n, err := config.ParseByteSize(*spoolMaxFlag)
		if err != nil || n <= 0 {
			fmt.Fprintf(stderr, "watchpost collect: -spool-max: invalid size %q\n", *spoolMaxFlag)
			return 2
		}
		spoolMax = n
	}
	for i := range rc.Files {
		// Source ids must not depend on the working folder.
		if abs, err := filepath.Abs(rc.Files[i].Path); err == nil {
			rc.Files[i].Path = abs
		}
	}
	if *server != "" {
		sc.Server = *server
	}
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "watchpost collect: read token: %v\n", err)
			return 2
		}
		sc.Token = strings.TrimSpace(string(b))
	}
	if *caFile != "" {
		sc.CAFile = *caFile
	}
	if *host != "" {
		sc.Host = *host
	}
	if sc.Host == "" {
		sc.Host, _ = os.Hostname()
	}
	if sc.Server == "" || sc.Token == "" {
		fmt.Fprintln(stderr, "watchpost collect: give -config FILE, or -server URL and -token-file FILE")
		return 2
	}
	if *journalFile != "" {
		rc.Journal, rc.FromStart = true, true
		rc.JournalCommand = []string{"journalctl", "--file=" + *journalFile}
	}
	rc.JournalNoFollow = *once
	rc.StateDir = StateDir(*state, stateKey, spoolDir, os.Getenv("STATE_DIRECTORY"))
	if spoolDir == "" {
		spoolDir = filepath.Join(rc.StateDir, "spool")
	}
	sc.SpoolDir, sc.SpoolMax = spoolDir, spoolMax
	// Refuse to start without somewhere to keep the checkpoints: every
	// restart would read every file again from its start.
	for _, d := range []string{rc.StateDir, spoolDir} {
		if err := probeWritable(d); err != nil {
			fmt.Fprintf(stderr, "watchpost collect: the state folder %s cannot be written: %v\n"+
				"It keeps the checkpoints and the spool: give -state or state_dir (or spool) a folder this user may write.\n", d, err)
			return 1
		}
	}
	mc.host = sc.Host
	if pc != nil && !*once {
		// This host probes too (package collector/probes).
		pc.Server, pc.Token, pc.Host, pc.CAFile, pc.SpoolDir = sc.Server, sc.Token, sc.Host, sc.CAFile, filepath.Join(*state, "probes")
		pc.Version, pc.Logger = buildinfo.Version, logger
		wait, err := probes.Start(ctx, *pc)
		if err != nil {
			fmt.Fprintf(stderr, "watchpost collect: %v\n", err)
			return 1
		}
		defer wait()
	}
	if err := run(ctx, rc, sc, mc, *once, *reportEvery, *metricsAddr, logger); err != nil {
		fmt.Fprintf(stderr, "watchpost collect: %v\n", err)
		return 1
	}
	return 0
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

func run(ctx context.Context, rc Config, sc ShipperConfig, mc metricsConfig, once bool, reportEvery time.Duration, metricsAddr string, logger *slog.Logger) error {
	set := metrics.NewSet()
	sh, err := NewShipper(sc, time.Now, set, logger)
	if err != nil {
		return err
	}
	loop, node, err := mc.build(set, logger)
	if err != nil {
		return err
	}
	r, err := NewRunner(rc, sh, time.Now, set, logger)
	if err != nil {
		return err
	}
	sh.SetReport(func() any {
		n, size := sh.SpoolStats()
		return r.Report(buildinfo.Version, n, size)
	})
	if metricsAddr != "" {
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		mctx, stop := context.WithCancel(ctx)
		defer stop()
		go serveMetrics(mctx, ln, func(w io.Writer) {
			metrics.WriteProcessMetrics(w)
			set.WritePrometheus(w)
		})
	}
	// The loghost decides the name with a host token; it is logged from
	// its first answer. This host's own name is only what an enrolment
	// token asks for.
	logger.Info("collector started", "server", sc.Server, "hostname", sc.Host, "files", len(rc.Files), "journal", rc.Journal, "state", rc.StateDir, "spool", sc.SpoolDir)
	if once {
		// Spooled batches of an earlier run go first; then this run's.
		for {
			n, _ := sh.SpoolStats()
			if n == 0 {
				break
			}
			if _, err := sh.drainOne(ctx); err != nil {
				return fmt.Errorf("send spooled batches: %w", err)
			}
		}
		if err := r.Run(ctx); err != nil {
			return err
		}
		if loop != nil {
			if err := sh.ShipItems(ctx, loop.Round(ctx)...); err != nil {
				return fmt.Errorf("send metrics: %w", err)
			}
		}
		if n, _ := sh.SpoolStats(); n > 0 {
			drainCtx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			for n > 0 {
				if _, err := sh.drainOne(drainCtx); err != nil {
					return fmt.Errorf("the loghost did not take everything; %d batches stay in the spool: %w", n, err)
				}
				n, _ = sh.SpoolStats()
			}
		}
		return sh.SendReport(ctx)
	}
	shCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); sh.Run(shCtx, reportEvery) }()
	if loop != nil {
		loop.Send = func(ctx context.Context, items []any) error { return sh.ShipItems(ctx, items...) }
		go loop.Run(shCtx)
	}
	if node != nil {
		ln, err := net.Listen("tcp", mc.listen)
		if err != nil {
			return fmt.Errorf("munin listener: %w", err)
		}
		logger.Info("answering munin masters", "listen", ln.Addr().String())
		go node.Serve(shCtx, ln)
	}
	err = r.Run(ctx)
	cancel()
	<-done
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	logger.Info("collector stopped")
	return nil
}

// tuneMemory keeps the agent small on every host; GOMEMLIMIT and GOGC in
// its environment win.
func tuneMemory(once bool) {
	if os.Getenv("GOMEMLIMIT") == "" {
		// An agent on every host should stay small: collect garbage
		// harder rather than grow. A soft limit: never an out-of-memory.
		// 16 MiB, not 12: the one binary's package-level data (the web
		// statistics' crawler patterns alone keep 1 MB) left 12 MiB so
		// little room that the collector spent 60 % more CPU in the GC.
		debug.SetMemoryLimit(memoryLimit)
	}
	if os.Getenv("GOGC") == "" && !once {
		// The same trade for the long-running agent: half the heap
		// growth between collections. Measured at 5,000 lines/s: RSS
		// 15.4 -> 13.7 MB (agent build), CPU within noise (bench/collect-e2e.sh).
		// -once keeps the default: it is a bulk job, and fast.
		debug.SetGCPercent(50)
	}
}
