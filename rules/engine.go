package rules

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// File is one rule file: its name (for errors and metrics) and its text.
type File struct {
	Name string
	Data []byte
}

// Alert is what the alert action hands to the alerting package.
type Alert struct {
	Severity string
	Title    string
	Labels   map[string]string
	Time     time.Time
	Line     string
}

// Alerter receives alerts; the alerting package implements it.
type Alerter interface {
	Alert(ctx context.Context, a Alert) error
}

// Action describes one action taken, for `rules test` and for tracing.
type Action struct {
	Kind string // echo, exec, pipe, report, syslog, open, delete, rule, alert
	Args string // expanded arguments; for echo exactly what is printed
	File string // the rule file
	Line int    // the rule's line in it (0 for a dynamic rule's own action)
}

// Config configures an Engine.
type Config struct {
	Files   []File
	Alerter Alerter
	Now     func() time.Time // wall clock; time.Now when nil
	Metrics *metrics.Set     // per-rule hits and last-hit times; none when nil
	Logger  *slog.Logger
	// DryRun performs no side effect: actions are only reported to Trace.
	DryRun bool
	// Trace, when set, sees every action taken.
	Trace func(Action)
	// Stdout receives echo output (the loghost logs it when nil); child
	// processes inherit it as their stdout.
	Stdout io.Writer
	Stderr io.Writer
	// ChildStdout, when set, is what children inherit instead of Stdout:
	// `rules test` buffers Stdout and gives children the file itself. A
	// Stdout with a Flush method is flushed before each command starts,
	// so what was echoed before it comes first, as in logsurfer.
	ChildStdout io.Writer
	// ExecTimeout bounds each child process (default 60s); MaxChildren
	// bounds how many run at once (default 32). Further commands wait
	// their turn, in order; when MaxQueued (default 10,000) wait, Feed
	// waits too, so reading input slows down and nothing is dropped.
	ExecTimeout time.Duration
	MaxChildren int
	MaxQueued   int
	// Commands, when set, receives every exec, pipe and report command
	// instead of the engine running it (the loghost queues them durably
	// and runs them itself). It is called with the engine's lock held.
	Commands func(Command)
	// SyslogTag is the tag of syslog actions (default "logsurfer", as
	// logsurfer logs them).
	SyslogTag string
	// MaxContexts and MaxDynamicRules bound what log data can make a file
	// hold (defaults 1,000,000 and 100,000); past them an open or a rule
	// action is dropped and counted.
	MaxContexts     int
	MaxDynamicRules int
}

// Engine runs rule files over a stream of lines. Feed and Tick are safe
// for concurrent use (they serialise).
type Engine struct {
	mu      sync.Mutex
	cfg     Config
	log     *slog.Logger
	surfers []*surfer
	run     *runner
	out     *lockedWriter
	metrics *engineMetrics
}

// New parses every rule file; any error rejects the configuration.
func New(cfg Config) (*Engine, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.SyslogTag == "" {
		cfg.SyslogTag = "logsurfer"
	}
	if cfg.MaxContexts <= 0 {
		cfg.MaxContexts = 1_000_000
	}
	if cfg.MaxDynamicRules <= 0 {
		cfg.MaxDynamicRules = 100_000
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, metrics: newEngineMetrics(cfg.Metrics)}
	if cfg.Stdout != nil {
		e.out = &lockedWriter{w: cfg.Stdout}
	}
	var stderr io.Writer = io.Discard
	if cfg.Stderr != nil {
		stderr = childStdout(&lockedWriter{w: cfg.Stderr})
	}
	var childOut io.Writer
	if e.out != nil {
		childOut = e.out
	}
	if cfg.ChildStdout != nil {
		childOut = cfg.ChildStdout
	}
	e.run = newRunner(cfg.ExecTimeout, cfg.MaxChildren, cfg.MaxQueued, childOut, stderr, e.log, e.metrics)
	for _, f := range cfg.Files {
		s, err := newSurfer(e, f)
		if err != nil {
			return nil, err
		}
		e.surfers = append(e.surfers, s)
	}
	return e, nil
}

// Check parses one rule file and reports its every error.
func Check(f File) error {
	_, err := New(Config{Files: []File{f}, DryRun: true})
	return err
}

// Feed processes one line. t is the event's own time (zero when unknown);
// it drives timeouts only in files with "clock log".
func (e *Engine) Feed(ctx context.Context, line string, t time.Time) {
	e.FeedAt(ctx, line, t, e.cfg.Now())
}

// FeedAt is Feed with the wall clock read by the caller: a caller feeding
// a batch of lines that arrived together reads the clock once for all of
// them (on this kind of machine the read is a tenth of a line's cost).
func (e *Engine) FeedAt(ctx context.Context, line string, t, wall time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if strings.IndexByte(line, 0) >= 0 {
		line = strings.ReplaceAll(line, "\x00", "_")
	}
	line = strings.TrimSuffix(line, "\n")
	for _, s := range e.surfers {
		s.feed(ctx, line, s.clock(t, wall))
	}
	e.metrics.lines.Inc()
}

// Tick runs the timeouts due at now, for times without input.
func (e *Engine) Tick(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.surfers {
		s.checkTimeouts(context.Background(), s.clock(time.Time{}, now).Unix())
	}
}

// Close ends the input as logsurfer does at end of file: contexts are
// dropped, or with fireTimeouts (logsurfer -t) those with a timeout fire
// first. It then waits (bounded by ctx) for running children.
func (e *Engine) Close(ctx context.Context, fireTimeouts bool) {
	e.mu.Lock()
	for _, s := range e.surfers {
		s.closeInput(ctx, fireTimeouts)
	}
	e.mu.Unlock()
	e.run.wait(ctx)
}

// flushOutput writes out what a buffered Stdout holds.
func (e *Engine) flushOutput() {
	if e.out != nil {
		e.out.flush()
	}
}

// lockedWriter serialises echo output and child output on one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// flush flushes a buffered writer.
func (l *lockedWriter) flush() {
	if f, ok := l.w.(interface{ Flush() error }); ok {
		l.mu.Lock()
		defer l.mu.Unlock()
		f.Flush()
	}
}

// childStdout is what children inherit: the file itself when stdout is one,
// so children write to it directly as logsurfer's do.
func childStdout(w io.Writer) io.Writer {
	if lw, ok := w.(*lockedWriter); ok {
		if f, ok := lw.w.(*os.File); ok {
			return f
		}
	}
	return w
}

// surfer is one rule file's logsurfer: its rule list and its contexts.
type surfer struct {
	e      *Engine
	name   string
	opts   fileOpts
	static []*rule // in file order, for state and metrics
	head   *rule
	tail   *rule
	nextID uint64

	ctxs     []*lcontext // creation order, dead ones compacted away
	deadCtxs int
	byName   map[string]*lcontext
	byCompat map[string]*lcontext // see setCompatName
	// handNames: the file's delete and report actions may name contexts
	// by hand, so contexts keep logsurfer's name for them too.
	handNames bool
	index     *ctxIndex
	ctxSeq    uint64
	lineNum   int64
	serial    uint64
	touched   []*lcontext
	nextRuleT int64
	nextCtxT  int64
	echoBuf   []byte
	dynamic   int // dynamic rules in the list

	// log clock: the last event time and the wall time it was seen
	lastEvent time.Time
	lastWall  time.Time
}

// rule is one entry of the rule list.
type rule struct {
	id      uint64
	spec    *ruleSpec
	expires int64 // unix seconds; 0: never
	needSub bool
	keep    groupSet // the groups the action substitutes, when needSub
	src     string   // file:line of the static rule (or the one that made it)
	line    int
	dynamic bool
	hits    *ruleMetrics
	windows map[string]*window
	consts  []word // the action's tokens when they refer to no variable
	tmpl    []word // the action's tokens with placeholders for $k
	// fillWords and fillSegs hold tmpl filled in for the last firing.
	fillWords []word
	fillSegs  []seg
	prev      *rule
	next      *rule
}

const never = int64(1<<62 - 1)

func newSurfer(e *Engine, f File) (*surfer, error) {
	lines, opts, err := splitLines(f.Name, f.Data)
	if err != nil {
		return nil, err
	}
	s := &surfer{e: e, name: f.Name, opts: opts, byName: map[string]*lcontext{}, index: newCtxIndex(),
		nextRuleT: never, nextCtxT: never}
	now := e.cfg.Now().Unix()
	// Every bad rule of the file is reported, not only the first.
	var errs []error
	for _, ll := range lines {
		spec, err := parseRule(ll.text, nil, substNone, true)
		if err != nil {
			errs = append(errs, &ParseError{f.Name, ll.line, err.Error()})
			continue
		}
		r := s.newRule(spec, now, ll.line, false)
		s.static = append(s.static, r)
		switch spec.kind {
		case actDelete, actReport:
			s.handNames = true
		case actOpen, actRule:
			b := strings.ToLower(spec.body)
			s.handNames = s.handNames || strings.Contains(b, "report") || strings.Contains(b, "delete")
		}
		s.linkBehind(r, s.tail)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func (s *surfer) newRule(spec *ruleSpec, now int64, line int, dynamic bool) *rule {
	s.nextID++
	r := &rule{id: s.nextID, spec: spec, line: line, dynamic: dynamic,
		src: fmt.Sprintf("%s:%d", s.name, line)}
	r.expires = never
	if spec.timeout != 0 {
		r.expires = now + spec.timeout
		if r.expires < s.nextRuleT {
			s.nextRuleT = r.expires
		}
	}
	r.needSub = needsGroups(spec.body) || (spec.threshold != nil && needsGroups(spec.threshold.by))
	if spec.threshold != nil {
		r.keep = groupsUsed(spec.body, spec.threshold.by)
	} else {
		r.keep = groupsUsed(spec.body)
	}
	if s.opts.compat && (spec.kind == actExec || spec.kind == actPipe || spec.kind == actReport) {
		r.needSub = true  // the command line is expanded a second time,
		r.keep.all = true // and log data in it can name any group
	}
	if r.needSub && spec.res[0] != nil {
		spec.res[0].forSub = true
	}
	r.hits = s.e.metrics.rule(s.name, line, dynamic)
	switch spec.kind {
	case actEcho, actSyslog, actExec, actPipe, actReport:
		if !hasVariable(spec.body) {
			r.consts, _ = collectTokens(spec.body, nil, substNone)
		} else if t, ok := collectTokens(spec.body, nil, substTemplate); ok {
			r.tmpl = t
		}
	}
	return r
}

// clock is the time that drives this file's timeouts.
func (s *surfer) clock(event, wall time.Time) time.Time {
	if !s.opts.clockLog {
		return wall
	}
	if !event.IsZero() {
		if event.After(s.lastEvent) || s.lastEvent.IsZero() {
			s.lastEvent = event
		}
		s.lastWall = wall
		return s.lastEvent
	}
	if s.lastEvent.IsZero() {
		return wall
	}
	// Between events the log clock runs at wall speed, so a quiet log
	// still times contexts out.
	if d := wall.Sub(s.lastWall); d > 0 {
		return s.lastEvent.Add(d)
	}
	return s.lastEvent
}

func (s *surfer) linkBehind(r, old *rule) {
	if old == nil { // empty list, or top
		r.prev, r.next = nil, s.head
		if s.head != nil {
			s.head.prev = r
		}
		s.head = r
		if s.tail == nil {
			s.tail = r
		}
		return
	}
	r.prev, r.next = old, old.next
	if old.next != nil {
		old.next.prev = r
	} else {
		s.tail = r
	}
	old.next = r
}

func (s *surfer) linkBefore(r, old *rule) {
	if old == nil || old.prev == nil {
		s.linkBehind(r, nil)
		return
	}
	s.linkBehind(r, old.prev)
}

func (s *surfer) unlink(r *rule) {
	if r.dynamic && (r.prev != nil || r.next != nil || s.head == r) {
		s.dynamic--
	}
	if r.prev != nil {
		r.prev.next = r.next
	} else if s.head == r {
		s.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	} else if s.tail == r {
		s.tail = r.prev
	}
	r.prev, r.next = nil, nil
}

// feed is logsurfer's main loop body for one line.
func (s *surfer) feed(ctx context.Context, line string, at time.Time) {
	now := at.Unix()
	s.lineNum++
	if line != "" {
		s.processLine(ctx, line, at)
	}
	s.checkTimeouts(ctx, now)
	s.checkLineLimits(ctx, at)
}

func (s *surfer) processLine(ctx context.Context, line string, at time.Time) {
	s.serial++
	serial := s.serial
	s.touched = s.touched[:0]
	s.index.candidates(line, func(c *lcontext) {
		if c.dead || c.touched == serial {
			return
		}
		if !c.re.matchString(line) || (c.not != nil && c.not.matchString(line)) {
			return
		}
		s.addLine(c, line, at.Unix(), serial)
	})
	for r := s.head; r != nil; {
		sp := r.spec
		var m match
		if r.needSub {
			idx := sp.res[0].submatchFor(line, r.keep)
			if idx == nil {
				r = r.next
				continue
			}
			m = match{line: line, idx: idx, nsub: sp.res[0].nsub}
		} else {
			if !sp.res[0].matchString(line) {
				r = r.next
				continue
			}
			m = match{line: line, nsub: sp.res[0].nsub}
		}
		next := r.next
		if sp.res[1] != nil && sp.res[1].matchString(line) {
			r = next
			continue
		}
		if !sp.cont {
			next = nil
		}
		r.hits.hit(at)
		s.fire(ctx, r, &m, at)
		if sp.res[2] != nil && sp.res[2].matchString(line) &&
			(sp.res[3] == nil || !sp.res[3].matchString(line)) {
			s.unlink(r)
		}
		r = next
	}
}

func (s *surfer) addLine(c *lcontext, line string, now int64, serial uint64) {
	c.touched = serial
	if c.stores() {
		// A copy: the line may be a slice of a larger chunk (rules test
		// reads its input so), which a stored line must not keep alive.
		c.lines = append(c.lines, ctxLine{num: s.lineNum, text: strings.Clone(line)})
	}
	c.count++
	if c.relOff != 0 {
		c.relAt = now + c.relOff
		if c.relAt < s.nextCtxT {
			s.nextCtxT = c.relAt
		}
	}
	s.touched = append(s.touched, c)
}

func (s *surfer) checkTimeouts(ctx context.Context, now int64) {
	if s.nextRuleT < now {
		s.nextRuleT = never
		for r := s.head; r != nil; {
			next := r.next
			if r.expires < now {
				s.unlink(r)
			} else if r.expires < s.nextRuleT {
				s.nextRuleT = r.expires
			}
			r = next
		}
	}
	if s.nextCtxT < now {
		s.nextCtxT = never
		for _, c := range s.ctxs {
			if c.dead {
				continue
			}
			if (c.absAt != 0 && c.absAt < now) || (c.relOff != 0 && c.relAt < now) {
				if c.minLines == 0 || c.count >= c.minLines {
					s.contextAction(ctx, c, time.Unix(now, 0))
				}
				s.deleteContext(c)
				continue
			}
			if c.absAt != 0 && c.absAt < s.nextCtxT {
				s.nextCtxT = c.absAt
			}
			if c.relOff != 0 && c.relAt < s.nextCtxT {
				s.nextCtxT = c.relAt
			}
		}
		s.compact()
	}
}

// checkLineLimits fires the contexts that went over their line limit. Only
// contexts that took this line can have, so only they are looked at, in
// creation order as logsurfer walks them.
func (s *surfer) checkLineLimits(ctx context.Context, at time.Time) {
	if len(s.touched) == 0 {
		return
	}
	t := s.touched
	for i := 1; i < len(t); i++ { // nearly sorted already: insertion sort
		for j := i; j > 0 && t[j].seq < t[j-1].seq; j-- {
			t[j], t[j-1] = t[j-1], t[j]
		}
	}
	for _, c := range t {
		if c.dead || c.maxLines == 0 || c.count <= c.maxLines {
			continue
		}
		if c.minLines == 0 || c.count >= c.minLines {
			s.contextAction(ctx, c, at)
		}
		s.deleteContext(c)
	}
	s.touched = s.touched[:0]
	s.compact()
}

func (s *surfer) deleteContext(c *lcontext) {
	if c.dead {
		return
	}
	c.dead = true
	c.lines = nil
	delete(s.byName, c.name)
	if c.compatName != "" && s.byCompat[c.compatName] == c {
		delete(s.byCompat, c.compatName)
	}
	s.index.remove(c)
	s.deadCtxs++
	s.e.metrics.contexts.Dec()
}

func (s *surfer) compact() {
	if s.deadCtxs < 64 || s.deadCtxs*2 < len(s.ctxs) {
		return
	}
	kept := s.ctxs[:0]
	for _, c := range s.ctxs {
		if !c.dead {
			kept = append(kept, c)
		}
	}
	for i := len(kept); i < len(s.ctxs); i++ {
		s.ctxs[i] = nil
	}
	s.ctxs = kept
	s.deadCtxs = 0
}

func (s *surfer) closeInput(ctx context.Context, fire bool) {
	for _, c := range s.ctxs {
		if c.dead {
			continue
		}
		if fire && (c.absAt != 0 || c.relOff != 0) {
			s.contextAction(ctx, c, time.Unix(s.e.cfg.Now().Unix(), 0))
		}
	}
	for _, c := range s.ctxs {
		s.deleteContext(c)
	}
	s.ctxs, s.deadCtxs = nil, 0
}
