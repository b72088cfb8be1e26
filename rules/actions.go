package rules

import (
	"context"
	"fmt"
	"log/syslog"
	"os"
	"sort"
	"strings"
	"time"
)

// regexMode is how log data enters a new regex (context names, dynamic
// rules): escaped in safe mode, as it is in compat mode.
func (s *surfer) regexMode() substMode {
	if s.opts.compat {
		return substPlain
	}
	return substRegex
}

func (s *surfer) trace(kind, args string, line int) {
	if s.e.cfg.Trace != nil {
		s.e.cfg.Trace(Action{Kind: kind, Args: args, File: s.name, Line: line})
	}
}

// fire runs a rule's action for the line in m.
func (s *surfer) fire(ctx context.Context, r *rule, m *match, at time.Time) {
	sp := r.spec
	if sp.threshold != nil && !s.thresholdReached(r, m, at) {
		return
	}
	line := r.line
	switch sp.kind {
	case actIgnore:
	case actExec, actPipe, actReport:
		toks, ok := r.tokens(m)
		if !ok || len(toks) == 0 {
			s.e.log.Warn("rules: cannot read action", "rule", r.src, "action", sp.kind.String())
			return
		}
		var stdin []byte
		var names []string
		if sp.kind == actPipe {
			stdin = []byte(m.line + "\n")
		}
		if sp.kind == actReport {
			names = s.contextNames(sp.body, m, true)
			stdin = s.reportBody(names, nil)
		}
		s.runCommand(ctx, sp.kind, toks[0], m, stdin, names, line, r.src)
	case actOpen:
		s.openContext(sp.body, m, at, r.src, line)
	case actDelete:
		names := s.contextNames(sp.body, m, false)
		s.trace("delete", strings.Join(names, " "), line)
		for _, n := range names {
			if c := s.context(n); c != nil {
				s.deleteContext(c)
			}
		}
	case actRule:
		s.addDynamicRule(r, m, at)
	case actEcho:
		toks, ok := r.tokens(m)
		if !ok {
			return
		}
		s.echo(toks, line)
	case actSyslog:
		toks, ok := r.tokens(m)
		if !ok {
			return
		}
		s.syslog(toks, line)
	case actAlert:
		a, err := parseAlert(sp.body, m)
		if err != nil {
			s.e.log.Warn("rules: bad alert", "rule", r.src, "err", err)
			return
		}
		a.Time, a.Line = at, m.line
		if a.Labels["rule"] == "" {
			a.Labels["rule"] = r.src
		}
		s.trace("alert", formatAlert(a), line)
		if !s.e.cfg.DryRun && s.e.cfg.Alerter != nil {
			if err := s.e.cfg.Alerter.Alert(ctx, a); err != nil {
				s.e.log.Warn("rules: alert not delivered", "rule", r.src, "err", err)
				s.e.metrics.alertErrors.Inc()
			}
		}
		s.e.metrics.alerts.Inc()
	}
}

// tokens are the action's arguments, substituted from m.
func (r *rule) tokens(m *match) ([]word, bool) {
	if r.consts != nil {
		return r.consts, true
	}
	if r.tmpl != nil && m != nil {
		r.fillWords, r.fillSegs = fillInto(r.fillWords, r.fillSegs, r.tmpl, m)
		return r.fillWords, true
	}
	return collectTokens(r.spec.body, m, substPlain)
}

// context finds a context by its name, or by the name logsurfer would
// have given it (see setCompatName).
func (s *surfer) context(name string) *lcontext {
	if c := s.byName[name]; c != nil {
		return c
	}
	return s.byCompat[name]
}

// setCompatName records the name a context has in logsurfer when safe
// substitution escaped log data in it: `open "from $2\\["` names the
// context "from gw\.example\.org\[" here and "from gw.example.org\[" in
// logsurfer, and a hand-written `report CMD "from gw.example.org\\["`
// must reach it in both.
func (s *surfer) setCompatName(c *lcontext, name string) {
	if s.byCompat[name] != nil {
		return
	}
	if s.byCompat == nil {
		s.byCompat = map[string]*lcontext{}
	}
	c.compatName = name
	s.byCompat[name] = c
}

// contextNames reads the context names of delete and report (report's
// first token, the command, is skipped): regex-escaped as open made them.
func (s *surfer) contextNames(body string, m *match, skipCommand bool) []string {
	toks, ok := collectTokens(body, m, s.regexMode())
	if !ok {
		return nil
	}
	names := make([]string, len(toks))
	for i, t := range toks {
		names[i] = t.String()
	}
	if len(names) > 0 && skipCommand {
		names = names[1:]
	}
	return names
}

// reportBody merges the lines of the named contexts in input order without
// duplicates; "-" is self (the context whose default action this is).
func (s *surfer) reportBody(names []string, self *lcontext) []byte {
	var all []ctxLine
	for _, n := range names {
		var c *lcontext
		if n == "-" && self != nil {
			c = self
		} else {
			c = s.context(n)
		}
		if c != nil {
			all = append(all, c.lines...)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].num < all[j].num })
	var b strings.Builder
	last := int64(-1)
	for _, l := range all {
		if l.num == last {
			continue
		}
		last = l.num
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func (s *surfer) runCommand(ctx context.Context, kind actionKind, cmd word, m *match, stdin []byte, names []string, line int, src string) {
	argv, ok := splitCommand(cmd, m, s.opts.compat)
	if !ok || len(argv) == 0 {
		s.e.log.Warn("rules: can't parse cmd", "rule", src, "cmd", cmd.String())
		return
	}
	args := joinArgv(argv)
	if kind == actReport {
		args += " <"
		for _, n := range names {
			args += " " + n
		}
	}
	s.trace(kind.String(), args, line)
	if s.e.cfg.DryRun {
		return
	}
	if !strings.HasPrefix(argv[0], "/") {
		s.e.log.Warn("rules: command is not an absolute path", "rule", src, "cmd", argv[0])
		s.e.metrics.execErrors.Inc()
		return
	}
	c := Command{Kind: kind.String(), Argv: argv, Stdin: stdin, Src: src}
	if s.e.out != nil {
		s.e.out.flush()
	}
	if s.e.cfg.Commands != nil {
		s.e.cfg.Commands(c)
		return
	}
	s.e.run.start(ctx, c)
}

func (s *surfer) echo(toks []word, line int) {
	if len(toks) == 0 {
		return
	}
	if toks[0].firstByte() != '>' && s.e.cfg.Trace == nil && !s.e.cfg.DryRun && s.e.out != nil {
		// The common case, to stdout: no string is built for it.
		s.echoBuf = append(toks[0].appendTo(s.echoBuf[:0]), '\n')
		s.e.out.Write(s.echoBuf)
		return
	}
	text := toks[0].String()
	file, appendMode := "", false
	if strings.HasPrefix(text, ">") {
		file = text[1:]
		if strings.HasPrefix(file, ">") {
			file, appendMode = file[1:], true
		}
		if len(toks) < 2 {
			return
		}
		text = toks[1].String()
	}
	if file == "" {
		s.trace("echo", text, line)
	} else {
		mode := ">"
		if appendMode {
			mode = ">>"
		}
		s.trace("echo", mode+file+" "+text, line)
	}
	if s.e.cfg.DryRun {
		return
	}
	if file == "" {
		if s.e.out != nil {
			s.echoBuf = append(append(s.echoBuf[:0], text...), '\n')
			s.e.out.Write(s.echoBuf)
		} else {
			s.e.log.Info("rules echo", "file", s.name, "text", text)
		}
		return
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendMode {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(file, flags, 0o644)
	if err != nil {
		s.e.log.Warn("rules: failed to open echo output file", "file", file, "err", err)
		return
	}
	fmt.Fprintf(f, "%s\n", text)
	if err := f.Close(); err != nil {
		s.e.log.Warn("rules: echo output file", "file", file, "err", err)
	}
}

func (s *surfer) syslog(toks []word, line int) {
	if len(toks) < 2 {
		return
	}
	fl, text := toks[0].String(), toks[1].String()
	s.trace("syslog", fl+" "+text, line)
	if s.e.cfg.DryRun {
		return
	}
	fac, lvl, err := parseFacLevel(fl)
	if err != nil {
		s.e.log.Warn("rules: syslog", "err", err)
		return
	}
	w, err := syslog.New(fac|lvl, s.e.cfg.SyslogTag)
	if err != nil {
		s.e.log.Warn("rules: syslog unavailable", "err", err)
		return
	}
	defer w.Close()
	if _, err := w.Write([]byte(text)); err != nil {
		s.e.log.Warn("rules: syslog", "err", err)
	}
}

// parseFacLevel reads FACILITY:LEVEL with logsurfer's prefix matching.
func parseFacLevel(s string) (syslog.Priority, syslog.Priority, error) {
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return 0, 0, fmt.Errorf("syslog: no colon in facility:level %q", s)
	}
	fac, lvl := s[:i+1], s[i+1:]
	facs := []struct {
		n string
		p syslog.Priority
	}{{"kern", syslog.LOG_KERN}, {"authpriv", syslog.LOG_AUTHPRIV}, {"cron", syslog.LOG_CRON},
		{"daemon", syslog.LOG_DAEMON}, {"ftp", syslog.LOG_FTP}, {"auth", syslog.LOG_AUTH},
		{"local0", syslog.LOG_LOCAL0}, {"local1", syslog.LOG_LOCAL1}, {"local2", syslog.LOG_LOCAL2},
		{"local3", syslog.LOG_LOCAL3}, {"local4", syslog.LOG_LOCAL4}, {"local5", syslog.LOG_LOCAL5},
		{"local6", syslog.LOG_LOCAL6}, {"local7", syslog.LOG_LOCAL7}, {"lpr", syslog.LOG_LPR},
		{"mail", syslog.LOG_MAIL}, {"news", syslog.LOG_NEWS}, {"syslog", syslog.LOG_SYSLOG},
		{"user", syslog.LOG_USER}, {"uucp", syslog.LOG_UUCP}}
	lvls := []struct {
		n string
		p syslog.Priority
	}{{"emerg", syslog.LOG_EMERG}, {"alert", syslog.LOG_ALERT}, {"crit", syslog.LOG_CRIT},
		{"err", syslog.LOG_ERR}, {"warn", syslog.LOG_WARNING}, {"notice", syslog.LOG_NOTICE},
		{"info", syslog.LOG_INFO}, {"debug", syslog.LOG_DEBUG}}
	var fp, lp syslog.Priority
	found := false
	for _, f := range facs {
		if strings.HasPrefix(fac, f.n) {
			fp, found = f.p, true
			break
		}
	}
	if !found {
		return 0, 0, fmt.Errorf("syslog: unknown facility in %q", s)
	}
	found = false
	for _, l := range lvls {
		if strings.HasPrefix(lvl, l.n) {
			lp, found = l.p, true
			break
		}
	}
	if !found {
		return 0, 0, fmt.Errorf("syslog: unknown level in %q", s)
	}
	return fp, lp, nil
}

// openContext is the run-time half of logsurfer's open_context.
func (s *surfer) openContext(def string, m *match, at time.Time, src string, line int) {
	w, rest, ok := getWord(def, m, s.regexMode())
	if !ok {
		s.e.log.Warn("rules: can't get match_regex", "rule", src)
		return
	}
	name := w.String()
	if s.byName[name] != nil {
		return // exists: opening it again does nothing
	}
	if len(s.byName) >= s.e.cfg.MaxContexts {
		s.e.metrics.dropped.Inc()
		s.e.log.Warn("rules: too many contexts, open dropped", "rule", src)
		return
	}
	spec, err := parseContextRest(name, rest, m, s.regexMode(), false)
	if err != nil {
		s.e.log.Warn("rules: cannot open context", "rule", src, "err", err)
		return
	}
	c, err := s.makeContext(spec, at.Unix(), src)
	if err != nil {
		s.e.log.Warn("rules: cannot open context", "rule", src, "err", err)
		return
	}
	if !s.opts.compat && s.handNames {
		// The name logsurfer would have given it (the data not escaped):
		// a name written by hand in report or delete finds it by that too.
		if cw, _, ok := getWord(def, m, substPlain); ok && cw.String() != c.name {
			s.setCompatName(c, cw.String())
		}
	}
	s.trace("open", spec.name, line)
	s.addLine(c, m.line, at.Unix(), s.serial)
}

func (s *surfer) makeContext(spec *ctxSpec, now int64, src string) (*lcontext, error) {
	re, err := s.compileCached(spec.name)
	if err != nil {
		return nil, err
	}
	s.ctxSeq++
	c := &lcontext{seq: s.ctxSeq, name: spec.name, re: re, notStr: spec.notStr, hasNot: spec.hasNot,
		maxLines: spec.maxLines, minLines: spec.minLines, relOff: spec.relOff, kind: spec.kind,
		tokens: spec.tokens, src: src}
	if spec.hasNot {
		if c.not, err = s.compileCached(spec.notStr); err != nil {
			return nil, err
		}
	}
	if c.maxLines < 0 {
		c.maxLines = 0
	}
	if spec.absOff != 0 {
		c.absAt = now + spec.absOff
		if c.absAt < s.nextCtxT {
			s.nextCtxT = c.absAt
		}
	}
	s.ctxs = append(s.ctxs, c)
	s.byName[c.name] = c
	s.index.add(c)
	s.e.metrics.contexts.Inc()
	return c, nil
}

func (s *surfer) compileCached(src string) (*regex, error) { return compileERE(src) }

// contextAction is do_context_action: the default action of a context that
// reached its line limit or timed out.
func (s *surfer) contextAction(ctx context.Context, c *lcontext, at time.Time) {
	if c.kind == actIgnore {
		return
	}
	toks := expandLines(c.tokens, c.count, s.opts.compat)
	// The second expansion of $k in a command line sees the current line
	// in logsurfer; a context firing has none of its own, so $k stays.
	var m *match
	switch c.kind {
	case actExec:
		if len(toks) > 0 {
			s.runCommand(ctx, actExec, toks[0], m, nil, nil, 0, c.src)
		}
	case actPipe:
		if len(toks) != 1 {
			s.e.log.Warn("rules: pipe with multiple commands", "context", c.name)
			return
		}
		s.runCommand(ctx, actPipe, toks[0], m, s.reportBody([]string{"-"}, c), nil, 0, c.src)
	case actReport:
		if len(toks) == 0 {
			return
		}
		names := make([]string, 0, len(toks)-1)
		shown := make([]string, 0, len(toks)-1)
		for _, t := range toks[1:] {
			names = append(names, t.String())
			if t.String() == "-" {
				shown = append(shown, c.name)
			} else {
				shown = append(shown, t.String())
			}
		}
		s.runCommand(ctx, actReport, toks[0], m, s.reportBody(names, c), shown, 0, c.src)
	case actEcho:
		s.echo(toks, 0)
	case actSyslog:
		s.syslog(toks, 0)
	}
}

// addDynamicRule is dynamic_add_rule: the position word and the new rule's
// regexes are substituted now, its action text later, from its own match.
func (s *surfer) addDynamicRule(r *rule, m *match, at time.Time) {
	where, rest, ok := getWord(r.spec.body, m, substPlain)
	if !ok {
		s.e.log.Warn("rules: don't know where to add rule", "rule", r.src)
		return
	}
	spec, err := parseRule(rest, m, s.regexMode(), false)
	if err != nil {
		s.e.log.Warn("rules: can't parse rule", "rule", r.src, "err", err)
		return
	}
	if s.dynamic >= s.e.cfg.MaxDynamicRules {
		s.e.metrics.dropped.Inc()
		s.e.log.Warn("rules: too many dynamic rules, rule action dropped", "rule", r.src)
		return
	}
	nr := s.newRule(spec, at.Unix(), r.line, true)
	switch where.String() {
	case "before":
		s.linkBefore(nr, r)
	case "behind":
		s.linkBehind(nr, r)
	case "top":
		s.linkBehind(nr, nil)
	case "bottom":
		s.linkBehind(nr, s.tail)
	default:
		s.e.log.Warn("rules: don't know where to add rule", "rule", r.src, "where", where.String())
		return
	}
	s.dynamic++
	s.trace("rule", where.String()+" "+describeRule(spec), r.line)
}

func describeRule(sp *ruleSpec) string {
	parts := make([]string, 0, 6)
	for i := 0; i < 4; i++ {
		if sp.has[i] {
			parts = append(parts, "'"+sp.strs[i]+"'")
		} else {
			parts = append(parts, "-")
		}
	}
	parts = append(parts, fmt.Sprint(sp.timeout))
	if sp.cont {
		parts = append(parts, "continue")
	}
	if sp.kind == actIgnore {
		parts = append(parts, "ignore")
	} else {
		parts = append(parts, sp.kind.String()+" "+sp.body)
	}
	return strings.Join(parts, " ")
}
