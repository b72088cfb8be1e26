package munin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Defaults of munin-node 2.0 (Munin::Common::Defaults as Debian builds it).
const (
	DefaultPluginDir = "/etc/munin/plugins"
	DefaultConfDir   = "/etc/munin/plugin-conf.d"
	debianLibDir     = "/usr/share/munin"
	debianPlugState  = "/var/lib/munin-node/plugin-state"
)

// ErrTimedOut is a plugin run killed at its timeout (munin-node answers
// "# Timed out").
var ErrTimedOut = errors.New("plugin timed out")

// ExitError is a plugin that exited non-zero or was killed by a signal
// (munin-node answers "# Bad exit"). Stdout holds what it printed anyway.
type ExitError struct {
	Plugin string
	Err    error
}

func (e *ExitError) Error() string { return fmt.Sprintf("plugin %s: %v", e.Plugin, e.Err) }
func (e *ExitError) Unwrap() error { return e.Err }

// RunnerOptions configures a Runner; zero values take munin-node's
// defaults where they make sense for a collector.
type RunnerOptions struct {
	PluginDir    string        // default /etc/munin/plugins
	ConfDir      string        // plugin-conf.d; default /etc/munin/plugin-conf.d
	StateDir     string        // MUNIN_PLUGSTATE parent; default munin's when root, else a temp dir
	LibDir       string        // MUNIN_LIBDIR; default /usr/share/munin if plugin.sh is there, else a private copy of ours
	Hostname     string        // FQDN; default os.Hostname
	Timeout      time.Duration // per run unless plugin-conf.d says; default 10 s (munin-node: 60 s)
	Parallel     int           // plugins run at once by Collect; default 4
	ConfigTTL    time.Duration // Collect re-runs `config` after this; default 5 min
	DefaultUser  string        // default "nobody", as munin-node
	DefaultGroup string        // default "munin" (or the user's group when it does not exist)
	Ignores      []*regexp.Regexp
	MaxOutput    int // stdout bytes kept per run; default 4 MiB (more is an error)
	MaxStderr    int // stderr bytes logged per run; default 4 KiB
	Logger       *slog.Logger
	Now          func() time.Time
	Metrics      *metrics.Set // optional
}

// Runner runs unmodified munin plugins the way munin-node does.
type Runner struct {
	o      RunnerOptions
	conf   *PluginConf
	asRoot bool
	log    *slog.Logger

	mu    sync.Mutex
	cache map[string]cachedConfig

	runs, timeouts, failures *metrics.Counter
}

type cachedConfig struct {
	at     time.Time
	graphs []Graph
}

// NewRunner reads plugin-conf.d and prepares the lib and state
// directories. Errors in plugin-conf.d are logged, not fatal, as
// munin-node does (the bad file's earlier lines still count).
func NewRunner(o RunnerOptions) (*Runner, error) {
	if o.PluginDir == "" {
		o.PluginDir = DefaultPluginDir
	}
	if o.ConfDir == "" {
		o.ConfDir = DefaultConfDir
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.ConfigTTL <= 0 {
		o.ConfigTTL = 5 * time.Minute
	}
	if o.DefaultUser == "" {
		o.DefaultUser = "nobody"
	}
	if o.DefaultGroup == "" {
		o.DefaultGroup = "munin"
	}
	if o.Ignores == nil {
		o.Ignores = DefaultIgnores()
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = 4 << 20
	}
	if o.MaxStderr <= 0 {
		o.MaxStderr = 4 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("hostname: %w", err)
		}
		o.Hostname = h
	}
	r := &Runner{o: o, asRoot: os.Geteuid() == 0, log: o.Logger, cache: map[string]cachedConfig{}}
	if o.StateDir == "" {
		if st, err := os.Stat(debianPlugState); err == nil && st.IsDir() && r.asRoot {
			r.o.StateDir = debianPlugState
		} else {
			r.o.StateDir = filepath.Join(os.TempDir(), fmt.Sprintf("watchpost-munin-%d", os.Geteuid()), "plugin-state")
		}
	}
	if err := os.MkdirAll(r.o.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("munin state dir: %w", err)
	}
	if o.LibDir == "" {
		if _, err := os.Stat(filepath.Join(debianLibDir, "plugins", "plugin.sh")); err == nil {
			r.o.LibDir = debianLibDir
		} else {
			r.o.LibDir = filepath.Join(filepath.Dir(r.o.StateDir), "lib")
		}
	}
	if err := ensurePluginSh(r.o.LibDir); err != nil {
		return nil, err
	}
	conf, errs := LoadPluginConfDir(o.ConfDir, o.Ignores)
	for _, err := range errs {
		r.log.Warn("plugin-conf.d", "err", err)
	}
	r.conf = conf
	if s := o.Metrics; s != nil {
		r.runs = s.GetOrCreateCounter(`watchpost_munin_plugin_runs_total`)
		r.timeouts = s.GetOrCreateCounter(`watchpost_munin_plugin_timeouts_total`)
		r.failures = s.GetOrCreateCounter(`watchpost_munin_plugin_failures_total`)
	}
	return r, nil
}

// PluginConf is the parsed plugin-conf.d the runner uses.
func (r *Runner) PluginConf() *PluginConf { return r.conf }

// LibDir is the MUNIN_LIBDIR plugins get.
func (r *Runner) LibDir() string { return r.o.LibDir }

var serviceName = regexp.MustCompile(`^[-\w@.:]+$`)

// List returns the runnable plugins of the plugin dir, sorted, with
// munin-node's rules (Munin::Node::Service::is_a_runnable_service).
func (r *Runner) List(ctx context.Context) ([]string, error) {
	ents, err := os.ReadDir(r.o.PluginDir)
	if err != nil {
		return nil, fmt.Errorf("list plugins: %w", err)
	}
	var out []string
next:
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".conf") || !serviceName.MatchString(n) {
			continue
		}
		for _, re := range r.o.Ignores {
			if re.MatchString(n) {
				continue next
			}
		}
		st, err := os.Stat(filepath.Join(r.o.PluginDir, n))
		if err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
			continue
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

func (r *Runner) known(name string) bool {
	if !serviceName.MatchString(name) || strings.HasPrefix(name, ".") {
		return false
	}
	st, err := os.Stat(filepath.Join(r.o.PluginDir, name))
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// ErrUnknownService is a name that is not a runnable plugin.
var ErrUnknownService = errors.New("unknown service")

// Config runs `plugin config`, always fresh.
func (r *Runner) Config(ctx context.Context, name string) ([]byte, error) {
	return r.runService(ctx, name, "config")
}

// Fetch runs the plugin without argument.
func (r *Runner) Fetch(ctx context.Context, name string) ([]byte, error) {
	return r.runService(ctx, name, "")
}

func (r *Runner) runService(ctx context.Context, name, arg string) ([]byte, error) {
	if !r.known(name) {
		return nil, ErrUnknownService
	}
	var args []string
	if arg != "" {
		args = []string{arg}
	}
	return r.Run(ctx, name, filepath.Join(r.o.PluginDir, name), args...)
}

type ctxKey int

const (
	masterIPKey ctxKey = iota
	dirtyKey
)

// WithMasterIP sets the MUNIN_MASTER_IP (and so MUNIN_STATEFILE) of the
// runs under ctx, as munin-node does for each connection.
func WithMasterIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, masterIPKey, ip)
}

// WithDirtyConfig marks runs under ctx as for a master that sent `cap
// dirtyconfig` (MUNIN_CAP_DIRTYCONFIG=1).
func WithDirtyConfig(ctx context.Context) context.Context {
	return context.WithValue(ctx, dirtyKey, true)
}

// Run executes path (plugin name's executable, or any plugin file for
// autoconf/suggest) with args as munin-node would run service name: its
// plugin-conf.d user, group, env, command and timeout, in its own session,
// the whole process group killed at the timeout.
func (r *Runner) Run(ctx context.Context, name, path string, args ...string) ([]byte, error) {
	pc := r.conf.For(name)
	timeout := r.o.Timeout
	if pc.timeoutSet {
		timeout = pc.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	argv := append([]string{path}, args...)
	if len(pc.Command) > 0 {
		argv = argv[:0:0]
		for _, t := range pc.Command {
			if t == "%c" {
				argv = append(argv, path)
				argv = append(argv, args...)
			} else {
				argv = append(argv, t)
			}
		}
	}
	cred, user, uid, err := r.credential(name, pc)
	if err != nil {
		return nil, err
	}
	plugstate := filepath.Join(r.o.StateDir, user)
	if _, err := os.Stat(plugstate); os.IsNotExist(err) {
		if err := os.Mkdir(plugstate, 0o755); err == nil && r.asRoot {
			os.Chown(plugstate, uid, 0)
		}
	}
	masterIP, _ := ctx.Value(masterIPKey).(string)
	env := r.baseEnv()
	env = append(env,
		"MUNIN_PLUGSTATE="+plugstate,
		"MUNIN_STATEFILE="+plugstate+"/"+name+"-"+masterIP,
		"MUNIN_MASTER_IP="+masterIP,
	)
	if d, _ := ctx.Value(dirtyKey).(bool); d {
		env = append(env, "MUNIN_CAP_DIRTYCONFIG=1")
	}
	for k, v := range pc.Env {
		env = append(env, k+"="+v)
	}

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
	stdout := &boundedBuf{max: r.o.MaxOutput}
	stderr := &boundedBuf{max: r.o.MaxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// The plugin leads its own session, so the group is its pid: killing
	// it also kills the pipeline a shell plugin started.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A background grandchild holding stdout open must not hold us.
	cmd.WaitDelay = time.Second
	if r.runs != nil {
		r.runs.Inc()
	}
	start := time.Now()
	err = cmd.Run()
	if cmd.Process != nil {
		// Whatever the plugin left behind in its group goes too.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if stderr.Len() > 0 {
		r.logStderr(name, stderr)
	}
	out := stdout.Bytes()
	if !r.asRoot && pc.User != nil {
		out = append([]byte("# Warning: Root privileges are required to change user/group.  The plugin may not behave as expected.\n"), out...)
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		if r.timeouts != nil {
			r.timeouts.Inc()
		}
		r.log.Warn("munin plugin timed out", "plugin", name, "timeout", timeout)
		return out, ErrTimedOut
	case err != nil:
		if r.failures != nil {
			r.failures.Inc()
		}
		return out, &ExitError{Plugin: name, Err: err}
	case stdout.over:
		return out, &ExitError{Plugin: name, Err: fmt.Errorf("output over %d bytes", r.o.MaxOutput)}
	}
	r.log.Debug("munin plugin ran", "plugin", name, "args", args, "took", time.Since(start))
	return out, nil
}

func (r *Runner) logStderr(name string, b *boundedBuf) {
	// munin-node logs stderr lines except those starting "# " (debug).
	var keep []string
	for _, l := range strings.FieldsFunc(string(b.Bytes()), func(c rune) bool { return c == '\n' || c == '\r' }) {
		if !strings.HasPrefix(l, "# ") {
			keep = append(keep, l)
		}
	}
	if len(keep) > 0 {
		r.log.Warn("munin plugin stderr", "plugin", name, "stderr", strings.Join(keep, "\n"), "truncated", b.over)
	}
}

func (r *Runner) baseEnv() []string {
	env := []string{
		"MUNIN_PREFIX=/usr", "MUNIN_CONFDIR=/etc/munin", "MUNIN_BINDIR=/usr/bin",
		"MUNIN_SBINDIR=/usr/sbin", "MUNIN_DOCDIR=/usr/doc", "MUNIN_LIBDIR=" + r.o.LibDir,
		"MUNIN_HTMLDIR=/var/cache/munin/www", "MUNIN_CGIDIR=/usr/lib/munin/cgi", "MUNIN_CGITMPDIR=",
		"MUNIN_DBDIR=/var/lib/munin", "MUNIN_SPOOLDIR=/var/lib/munin-async",
		"MUNIN_MANDIR=/usr/share/man", "MUNIN_LOGDIR=/var/log/munin", "MUNIN_STATEDIR=/var/run/munin",
		"MUNIN_USER=munin", "MUNIN_GROUP=munin", "MUNIN_PLUGINUSER=nobody", "MUNIN_VERSION=2.0.73",
		"MUNIN_PERL=/usr/bin/perl", "MUNIN_PERLLIB=/usr/share/perl5", "MUNIN_GOODSH=/bin/sh",
		"MUNIN_BASH=/bin/bash", "MUNIN_PYTHON=/usr/bin/env python3", "MUNIN_RUBY=/usr/bin/env ruby",
		"MUNIN_OSTYPE=linux", "MUNIN_HOSTNAME=localhost.localdomain", "MUNIN_MKTEMP=mktemp -p /tmp/ $1",
		"MUNIN_HASSETR=1", "MUNIN_DEBUG=0", "FQDN=" + r.o.Hostname, "MUNIN_CAP_MULTIGRAPH=1",
		"LC_ALL=C", "LANG=C", "PYTHONIOENCODING=utf8:replace", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	}
	// Our own environment is not passed on (it may hold secrets); the time
	// zone is, as plugins that print dates need it.
	if tz, ok := os.LookupEnv("TZ"); ok {
		env = append(env, "TZ="+tz)
	}
	return env
}

// boundedBuf keeps the first max bytes and notes that more came. It
// must not embed bytes.Buffer: io.Copy would use the buffer's ReadFrom
// and bypass the bound.
type boundedBuf struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *boundedBuf) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.over = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *boundedBuf) Len() int      { return b.buf.Len() }
func (b *boundedBuf) Bytes() []byte { return b.buf.Bytes() }

// Result is one plugin's share of a Collect round.
type Result struct {
	Plugin   string        `json:"plugin"`
	Graphs   []Graph       `json:"graphs,omitempty"`
	Fetches  []Fetch       `json:"fetches,omitempty"`
	Err      error         `json:"-"`
	Time     time.Time     `json:"time"`     // when the fetch started
	Duration time.Duration `json:"duration"` // config (when re-run) + fetch
}

// Collect runs every plugin (config when its cached copy is older than
// ConfigTTL, then fetch), Parallel at a time, each under its own
// timeout. Results are in List order; a failing plugin has Err set and
// never delays the others past its timeout.
func (r *Runner) Collect(ctx context.Context) ([]Result, error) {
	names, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	res := make([]Result, len(names))
	sem := make(chan struct{}, r.o.Parallel)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				res[i] = Result{Plugin: n, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			res[i] = r.collectOne(ctx, n)
		}()
	}
	wg.Wait()
	return res, nil
}

func (r *Runner) collectOne(ctx context.Context, name string) Result {
	start := time.Now()
	res := Result{Plugin: name}
	graphs, err := r.cachedGraphs(ctx, name)
	if err != nil {
		res.Err, res.Duration = fmt.Errorf("config %s: %w", name, err), time.Since(start)
		return res
	}
	res.Graphs = graphs
	res.Time = r.o.Now()
	out, err := r.Fetch(ctx, name)
	res.Duration = time.Since(start)
	if err != nil {
		res.Err = fmt.Errorf("fetch %s: %w", name, err)
		return res
	}
	res.Fetches, err = ParseFetch(name, out)
	if err != nil {
		res.Err = fmt.Errorf("fetch %s: %w", name, err)
	}
	return res
}

func (r *Runner) cachedGraphs(ctx context.Context, name string) ([]Graph, error) {
	now := r.o.Now()
	r.mu.Lock()
	c, ok := r.cache[name]
	r.mu.Unlock()
	if ok && now.Sub(c.at) < r.o.ConfigTTL {
		return c.graphs, nil
	}
	out, err := r.Config(ctx, name)
	if err != nil {
		return nil, err
	}
	graphs, perr := ParseConfig(name, out)
	if len(graphs) == 0 {
		if perr == nil {
			perr = errors.New("no graph in config output")
		}
		return nil, perr
	}
	if perr != nil {
		r.log.Warn("munin plugin config", "plugin", name, "err", perr)
	}
	r.mu.Lock()
	r.cache[name] = cachedConfig{at: now, graphs: graphs}
	r.mu.Unlock()
	return graphs, nil
}
