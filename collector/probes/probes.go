// Package probes makes a collector a vantage: it pulls the checks the
// loghost assigns to its location (a long poll with the version it has,
// so a "probe now" request arrives within a second and nothing is sent
// when nothing changed), runs them with package checker as the loghost
// does, probes the canaries that tell its own network trouble from a
// target's, and pushes each result with an id of its own, so that a
// result sent twice counts once. Results the loghost cannot take wait
// in a spool on disk, bounded in size and age; what falls out is
// counted and reported. No port is opened on the host.
package probes

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/watchpost/watchpost/checker"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/vantage/wire"
)

// Config configures a vantage.
type Config struct {
	Server   string // the loghost's URL
	Token    string // the host's token (or an enrollment token, with Host)
	Host     string
	Location string // default: Host
	CAFile   string
	// SpoolDir keeps the results the loghost has not taken; SpoolMax
	// (16 MiB) and SpoolMaxAge (24 h) bound it.
	SpoolDir    string
	SpoolMax    int64
	SpoolMaxAge time.Duration
	Version     string // the collector's, shown on the loghost's vantages page
	// Wait is how long a pull waits for news (25 s).
	Wait    time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *metrics.Set
}

// Vantage runs a collector's probes.
type Vantage struct {
	cfg    Config
	client *http.Client // pushes
	poll   *http.Client // long polls
	base   string
	spool  *spool
	log    *slog.Logger

	mu       sync.Mutex
	pending  []wire.Line // results not yet sent nor spooled
	wake     chan struct{}
	sched    *scheduler
	canaries []*checker.Probe
	labels   []string // the canaries' names, as the loghost knows them
	every    time.Duration
	lastKick time.Time
	kick     chan time.Time
	version  string
	// clockOffset: the loghost's clock minus ours (offsetKnown: measured).
	clockOffset time.Duration
	offsetKnown bool

	sent, failed, rejected, runNow *metrics.Counter
}

// New checks the configuration and opens the spool.
func New(cfg Config) (*Vantage, error) {
	if cfg.Server == "" || cfg.Token == "" {
		return nil, errors.New("probes: the loghost's URL and a token are required")
	}
	if _, err := url.Parse(cfg.Server); err != nil {
		return nil, fmt.Errorf("probes: server: %w", err)
	}
	if cfg.Location == "" {
		cfg.Location = cfg.Host
	}
	if cfg.SpoolMax <= 0 {
		cfg.SpoolMax = 16 << 20
	}
	if cfg.SpoolMaxAge <= 0 {
		cfg.SpoolMaxAge = 24 * time.Hour
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 25 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewSet()
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("probes: read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("probes: ca_file %s: no PEM certificates", cfg.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	sp, err := openSpool(cfg.SpoolDir, cfg.SpoolMax, cfg.SpoolMaxAge)
	if err != nil {
		return nil, err
	}
	v := &Vantage{cfg: cfg, spool: sp, log: cfg.Logger.With("component", "probes", "location", cfg.Location),
		client: &http.Client{Transport: tr, Timeout: 15 * time.Second},
		poll:   &http.Client{Transport: tr, Timeout: wire.MaxWait + 15*time.Second},
		base:   strings.TrimRight(cfg.Server, "/"), wake: make(chan struct{}, 1), kick: make(chan time.Time, 1), every: 30 * time.Second}
	s := cfg.Metrics
	v.sent = s.NewCounter("watchpost_probes_results_sent_total")
	v.failed = s.NewCounter("watchpost_probes_send_failures_total")
	v.rejected = s.NewCounter("watchpost_probes_results_rejected_total")
	v.runNow = s.NewCounter("watchpost_probes_run_now_total")
	s.NewGauge("watchpost_probes_queued", func() float64 { n, _ := v.Queued(); return float64(n) })
	s.NewGauge("watchpost_probes_dropped", func() float64 { _, d := v.Queued(); return float64(d) })
	return v, nil
}

// Queued is how many results wait to be sent, and how many the spool's
// bounds dropped.
func (v *Vantage) Queued() (queued, dropped int64) {
	n, d := v.spool.stats()
	v.mu.Lock()
	n += int64(len(v.pending))
	v.mu.Unlock()
	return n, d
}

// Run probes until ctx ends: it pulls assignments, runs them and the
// canaries, and sends the results.
func (v *Vantage) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { v.sendLoop(ctx) })
	wg.Go(func() { v.canaryLoop(ctx) })
	v.pullLoop(ctx)
	wg.Wait()
	v.mu.Lock()
	v.sched = nil
	v.mu.Unlock()
	return nil
}

func (v *Vantage) headers(r *http.Request) {
	r.Header.Set("Authorization", "Bearer "+v.cfg.Token)
	r.Header.Set(wire.HeaderLocation, v.cfg.Location)
	r.Header.Set(wire.HeaderHost, v.cfg.Host)
	r.Header.Set(wire.HeaderAgent, v.cfg.Version)
}

// pullLoop asks for assignments again and again; each answer waits
// until something changes (or the loghost's wait ends).
func (v *Vantage) pullLoop(ctx context.Context) {
	stop := func() {}
	var running sync.WaitGroup
	defer func() {
		stop()
		running.Wait()
	}()
	backoff := time.Second
	for ctx.Err() == nil {
		a, changed, err := v.pull(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			v.log.Warn("pull assignments", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff + rand.N(backoff/2+1)):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		if changed {
			sched, err := v.setup(a)
			if err != nil {
				v.log.Error("assignments not usable; keeping the old ones", "err", err)
			} else {
				stop()
				running.Wait()
				sctx, cancel := context.WithCancel(ctx)
				stop = cancel
				v.mu.Lock()
				v.sched, v.version = sched, a.Version
				v.mu.Unlock()
				running.Go(func() { sched.Run(sctx) })
				v.log.Info("assignments", "version", a.Version, "checks", len(a.Checks), "canaries", len(a.Canaries))
			}
		}
		v.mu.Lock()
		sched := v.sched
		v.mu.Unlock()
		for _, c := range a.RunNow {
			if sched != nil && sched.RunNow(c) {
				v.runNow.Inc()
			}
		}
	}
}

// pull makes one long poll; changed tells whether a carries new checks.
func (v *Vantage) pull(ctx context.Context) (wire.Assignments, bool, error) {
	var a wire.Assignments
	u := fmt.Sprintf("%s%s?wait=%d", v.base, wire.AssignmentsPath, int(v.cfg.Wait/time.Second))
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return a, false, err
	}
	v.headers(req)
	v.mu.Lock()
	if v.version != "" {
		req.Header.Set("If-None-Match", `"`+v.version+`"`)
	}
	v.mu.Unlock()
	sent := v.cfg.Now()
	resp, err := v.poll.Do(req)
	if err != nil {
		return a, false, err
	}
	defer resp.Body.Close()
	got := v.cfg.Now()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return a, false, nil
	case http.StatusOK:
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return a, false, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&a); err != nil {
		return a, false, fmt.Errorf("read assignments: %w", err)
	}
	// The loghost's clock against ours, from an answer that came at once
	// (a long poll's wait would blur it): its time against the middle of
	// the round trip, good to half the round trip.
	if rtt := got.Sub(sent); !a.Now.IsZero() && rtt < time.Second {
		v.mu.Lock()
		v.clockOffset, v.offsetKnown = a.Now.Sub(sent.Add(rtt/2)), true
		v.mu.Unlock()
	}
	return a, !a.Unchanged, nil
}

// offset is how far the loghost's clock is ahead of ours, when measured.
func (v *Vantage) offset() (time.Duration, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.clockOffset, v.offsetKnown
}

// setup compiles new assignments: the checks, on a scheduler of their
// own, and the canaries.
func (v *Vantage) setup(a wire.Assignments) (*scheduler, error) {
	var probes []*checker.Probe
	var errs []error
	for _, c := range a.Checks {
		if !config.RunsRemotely(c) {
			continue // never run what is the loghost's own (a command, a file)
		}
		p, err := checker.Compile(c, checker.Options{Now: v.cfg.Now, InsecureSkipVerify: c.TLSSkipVerify,
			ServerName: c.TLSServerName, IPVersion: c.IPVersion, RequireSTARTTLS: c.RequireSTARTTLS,
			NoFollowRedirects: c.FollowRedirects != nil && !*c.FollowRedirects})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		probes = append(probes, p)
	}
	var canaries []*checker.Probe
	var labels []string
	for _, c := range a.Canaries {
		p, err := checker.Compile(c, checker.Options{Now: v.cfg.Now})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		canaries = append(canaries, p)
		labels = append(labels, strings.TrimPrefix(c.Name, "canary "))
	}
	if lh, err := v.loghostCanary(a); err == nil {
		canaries = append(canaries, lh)
		labels = append(labels, wire.Loghost)
	}
	if len(probes) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, err := range errs {
		v.log.Warn("an assigned check is not usable here", "err", err)
	}
	// A collector is small: two probes at once are plenty for dozens of
	// checks a minute, and keep its memory flat.
	sched := newScheduler(probes, v.sink, 2)
	v.mu.Lock()
	v.canaries, v.labels = canaries, labels
	if a.CanaryInterval > 0 {
		v.every = a.CanaryInterval
	}
	v.mu.Unlock()
	return sched, nil
}

// loghostCanary is a TCP connection to the loghost: whether this host
// reaches it, reported with every round.
func (v *Vantage) loghostCanary(a wire.Assignments) (*checker.Probe, error) {
	u, err := url.Parse(v.base)
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	timeout := 5 * time.Second
	for _, c := range a.Canaries {
		if c.Timeout > 0 {
			timeout = time.Duration(c.Timeout)
		}
	}
	return checker.Compile(config.Check{Name: "canary loghost", Type: "tcp", Target: net.JoinHostPort(u.Hostname(), port),
		Timeout: config.Duration(timeout)}, checker.Options{Now: v.cfg.Now})
}

// sink takes a probe's result: queued to send, and after a failure a
// canary round, so that the loghost can tell the target's trouble from
// this host's.
func (v *Vantage) sink(r checker.Result) {
	l := wire.Line{ID: wire.NewID(), Check: r.Check, Time: r.Time, DurationMS: float64(r.Duration.Microseconds()) / 1000,
		OK: r.Success, Degraded: r.Degraded, Inconclusive: r.Inconclusive, Error: wire.Clip(r.Error, wire.MaxError)}
	for _, c := range r.ConditionResults {
		if !c.OK {
			l.Conditions = append(l.Conditions, wire.Condition{Condition: c.Condition, OK: c.OK, Warn: c.Warn, Detail: wire.Clip(c.Detail, wire.MaxError)})
		}
	}
	if l.OK && l.Error != "" {
		l.OK = false
	}
	if r.Inconclusive {
		return // the loghost keeps the check's state: nothing to tell
	}
	v.queue(l)
	if !r.Success {
		v.mu.Lock()
		if v.lastKick.Before(r.Time) {
			v.lastKick = v.cfg.Now()
			select {
			case v.kick <- v.lastKick:
			default:
			}
		}
		v.mu.Unlock()
	}
}

func (v *Vantage) queue(l wire.Line) {
	v.mu.Lock()
	v.pending = append(v.pending, l)
	v.mu.Unlock()
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// canaryLoop runs a round of canaries every interval, and at once after
// a failure.
func (v *Vantage) canaryLoop(ctx context.Context) {
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	for {
		var at time.Time
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			at = v.cfg.Now()
		case at = <-v.kick:
		}
		v.round(ctx, at)
		v.mu.Lock()
		every := v.every
		v.mu.Unlock()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(every)
	}
}

// round probes every canary side by side and queues the round.
func (v *Vantage) round(ctx context.Context, at time.Time) {
	v.mu.Lock()
	cs, labels := v.canaries, v.labels
	v.mu.Unlock()
	if len(cs) == 0 {
		return
	}
	res := make([]wire.CanaryResult, len(cs))
	var wg sync.WaitGroup
	for i, p := range cs {
		wg.Go(func() {
			r := p.Run(ctx)
			c := wire.CanaryResult{Target: labels[i], OK: r.Success, DurationMS: float64(r.Duration.Microseconds()) / 1000, Error: wire.Clip(r.Error, wire.MaxError)}
			if !c.OK && c.Error == "" {
				c.Error = "a condition failed"
			}
			res[i] = c
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	v.queue(wire.Line{ID: wire.NewID(), Canary: true, Time: at, Canaries: res})
}

// sendLoop sends results as they come: straight to the loghost while it
// takes them, through the spool (oldest first) once it did not.
func (v *Vantage) sendLoop(ctx context.Context) {
	backoff := time.Second
	var retry <-chan time.Time
	flush := time.NewTicker(5 * time.Second)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			v.spoolPending() // kept for the next start
			return
		case <-v.wake:
			// Results of one moment go together: the canary round that a
			// failure starts follows it closely.
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
		case <-retry:
		case <-flush.C:
		}
		retry = nil
		if err := v.spool.expire(v.cfg.Now()); err != nil {
			v.log.Warn("probe spool", "err", err)
		}
		if err := v.sendAll(ctx); err != nil {
			if ctx.Err() != nil {
				v.spoolPending()
				return
			}
			v.failed.Inc()
			v.log.Warn("send probe results; kept in the spool", "err", err, "retry_in", backoff)
			retry = time.After(backoff + rand.N(backoff/2+1))
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
	}
}

// spoolPending writes what waits in memory to the spool.
func (v *Vantage) spoolPending() {
	v.mu.Lock()
	ls := v.pending
	v.pending = nil
	v.mu.Unlock()
	if len(ls) == 0 {
		return
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	first, last := ls[0].Time, ls[0].Time
	for _, l := range ls {
		enc.Encode(l)
		if l.Time.Before(first) {
			first = l.Time
		}
		if l.Time.After(last) {
			last = l.Time
		}
	}
	if err := v.spool.add(b.Bytes(), int64(len(ls)), first, last); err != nil {
		v.log.Error("probe spool: results lost", "results", len(ls), "err", err)
		v.spool.mu.Lock()
		v.spool.countDropped(int64(len(ls)))
		v.spool.mu.Unlock()
	}
}

// sendAll sends the spool, oldest first, then what waits in memory; on
// the first failure what waits in memory joins the spool.
func (v *Vantage) sendAll(ctx context.Context) error {
	for !v.spool.empty() {
		name, body, n, err := v.spool.head()
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		queued, _ := v.Queued()
		if err := v.send(ctx, body, n, queued-n); err != nil {
			v.spoolPending()
			return err
		}
		v.spool.done(name)
	}
	v.mu.Lock()
	ls := v.pending
	v.pending = nil
	v.mu.Unlock()
	if len(ls) == 0 {
		return nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, l := range ls {
		enc.Encode(l)
	}
	if err := v.send(ctx, b.Bytes(), int64(len(ls)), 0); err != nil {
		v.mu.Lock()
		v.pending = append(ls, v.pending...)
		v.mu.Unlock()
		v.spoolPending()
		return err
	}
	return nil
}

// errRefused: the loghost will never take this batch; it is dropped.
type errRefused struct{ msg string }

func (e errRefused) Error() string { return e.msg }

// send posts one batch; nil when the loghost took it (or refused it for
// good: counted, logged and dropped, since sending it again would not
// help).
func (v *Vantage) send(ctx context.Context, body []byte, n, queued int64) error {
	req, err := http.NewRequestWithContext(ctx, "POST", v.base+wire.ResultsPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	v.headers(req)
	_, dropped := v.spool.stats()
	req.Header.Set("Content-Type", "application/x-ndjson")
	if off, ok := v.offset(); ok {
		req.Header.Set(wire.HeaderOffset, strconv.FormatInt(off.Milliseconds(), 10))
	}
	req.Header.Set(wire.HeaderQueued, strconv.FormatInt(max(queued, 0), 10))
	req.Header.Set(wire.HeaderDropped, strconv.FormatInt(dropped, 10))
	resp, err := v.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusOK:
		var r wire.Response
		json.Unmarshal(b, &r)
		v.sent.Add(r.Stored)
		if len(r.Rejected) > 0 {
			v.rejected.Add(len(r.Rejected))
			v.log.Warn("the loghost refused probe results", "refused", len(r.Rejected), "first", r.Rejected[0].Error)
		}
		return nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge:
		v.rejected.Add(int(n))
		v.log.Error("the loghost refused a batch of probe results; dropped", "results", n, "status", resp.Status, "answer", strings.TrimSpace(string(b)))
		return nil
	}
	return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
}

// Start runs a vantage in the background until ctx ends; wait waits for
// it to stop (its unsent results spooled for the next start).
func Start(ctx context.Context, cfg Config) (wait func(), err error) {
	v, err := New(cfg)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { defer close(done); v.Run(ctx) }()
	return func() { <-done }, nil
}
