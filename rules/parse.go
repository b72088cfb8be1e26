package rules

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// actionKind is the action of a rule or the default action of a context.
type actionKind uint8

const (
	actIgnore actionKind = iota
	actExec
	actPipe
	actOpen
	actDelete
	actReport
	actRule
	actEcho
	actSyslog
	actAlert
)

var actionNames = [...]string{"ignore", "exec", "pipe", "open", "delete", "report", "rule", "echo", "syslog", "alert"}

func (k actionKind) String() string { return actionNames[k] }

// ParseError is a rule file error; the whole file is rejected.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// fileOpts are the per-file directives.
type fileOpts struct {
	compat   bool // logsurfer's unsafe substitution
	clockLog bool // the event's own time drives timeouts
}

// logicalLine is one rule after continuation lines were joined.
type logicalLine struct {
	line int // first physical line
	text string
}

const directivePrefix = "#!watchpost"

// splitLines joins continuation lines as logsurfer's read_config does and
// picks out the #!watchpost directives.
func splitLines(name string, data []byte) ([]logicalLine, fileOpts, error) {
	var out []logicalLine
	var opts fileOpts
	var cur *logicalLine
	flush := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		n := i + 1
		if strings.IndexByte(l, 0) >= 0 {
			return nil, opts, &ParseError{name, n, "NUL byte in rule file"}
		}
		if strings.HasPrefix(l, directivePrefix) {
			flush()
			if err := directive(strings.TrimPrefix(l, directivePrefix), &opts); err != nil {
				return nil, opts, &ParseError{name, n, err.Error()}
			}
			continue
		}
		if l == "" || l[0] == '#' {
			flush()
			continue
		}
		if isSpace(l[0]) {
			t := strings.TrimFunc(l, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
			if cur == nil {
				// logsurfer joins it to an empty line: the rule starts here.
				cur = &logicalLine{line: n}
			}
			cur.text += " " + t
			continue
		}
		flush()
		cur = &logicalLine{line: n, text: l}
	}
	flush()
	// The bare "clock wall|log" line is the directive too.
	kept := out[:0]
	for _, ll := range out {
		f := strings.Fields(ll.text)
		if len(f) == 2 && f[0] == "clock" {
			if err := directive(" "+ll.text, &opts); err != nil {
				return nil, opts, &ParseError{name, ll.line, err.Error()}
			}
			continue
		}
		kept = append(kept, ll)
	}
	return kept, opts, nil
}

func directive(s string, o *fileOpts) error {
	if s != "" && !isSpace(s[0]) {
		return fmt.Errorf("unknown directive %q", directivePrefix+s)
	}
	f := strings.Fields(s)
	switch {
	case len(f) == 2 && f[0] == "compat" && f[1] == "unsafe-substitution":
		o.compat = true
	case len(f) == 2 && f[0] == "clock" && (f[1] == "wall" || f[1] == "log"):
		o.clockLog = f[1] == "log"
	default:
		return fmt.Errorf("unknown directive %q (want \"compat unsafe-substitution\" or \"clock wall|log\")", strings.TrimSpace(s))
	}
	return nil
}

// atol is C's atol on a token: leading sign and digits, the rest ignored.
func atol(s string) int64 {
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var v int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if v < 1<<40 {
			v = v*10 + int64(s[i]-'0')
		}
	}
	if neg {
		return -v
	}
	return v
}

// nextField returns the next whitespace-delimited field and the rest.
func nextField(s string) (string, string) {
	s = skipSpaces(s)
	i := 0
	for i < len(s) && !isSpace(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

// ruleSpec is a parsed rule before it joins a rule list.
type ruleSpec struct {
	strs      [4]string // match, not_match, stop, not_stop ("" with has=false: none)
	has       [4]bool
	res       [4]*regex
	timeout   int64
	cont      bool
	kind      actionKind
	body      string // the action text after the keyword, raw
	threshold *thresholdSpec
}

// parseRule is logsurfer's parse_rule plus the threshold clause and the
// alert action. m is the line whose match created the rule (nil at load
// time); mode says how its data enters the four regexes.
func parseRule(text string, m *match, mode substMode, check bool) (*ruleSpec, error) {
	r := &ruleSpec{}
	rest := text
	names := [4]string{"match regex", "not_match regex", "stop regex", "not_stop regex"}
	for i := 0; i < 4; i++ {
		rest = skipSpaces(rest)
		if i > 0 && strings.HasPrefix(rest, "-") {
			rest = rest[1:]
			continue
		}
		w, r2, ok := getWord(rest, m, mode)
		if !ok {
			if rest == "" {
				return nil, fmt.Errorf("missing %s", names[i])
			}
			return nil, fmt.Errorf("%s: unterminated quote", names[i])
		}
		rest = r2
		s := w.String()
		re, err := compileERE(s)
		if err != nil {
			return nil, &regexError{what: names[i], err: err}
		}
		r.strs[i], r.has[i], r.res[i] = s, true, re
	}
	tok, rest := nextField(rest)
	if tok == "" {
		return nil, fmt.Errorf("missing timeout")
	}
	if check && !isNumber(tok) {
		return nil, fmt.Errorf("timeout %q is not a number of seconds", tok)
	}
	r.timeout = atol(tok)
	rest = skipSpaces(rest)
	if hasPrefixFold(rest, "continue") {
		r.cont = true
		rest = skipSpaces(rest[8:])
	}
	if f, after := nextField(rest); strings.EqualFold(f, "threshold") {
		th, r2, err := parseThreshold(after)
		if err != nil {
			return nil, err
		}
		r.threshold = th
		rest = skipSpaces(r2)
	}
	kind, body, err := actionOf(rest)
	if err != nil {
		return nil, err
	}
	r.kind, r.body = kind, body
	if check {
		if err := checkAction(kind, body); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// actionOf reads the action keyword the way logsurfer does: a
// case-insensitive prefix, the body starting after the keyword.
func actionOf(s string) (actionKind, string, error) {
	if f, after := nextField(s); strings.EqualFold(f, "alert") {
		body := skipSpaces(after)
		if body == "" {
			return 0, "", fmt.Errorf("alert without severity and title")
		}
		return actAlert, body, nil
	}
	type kw struct {
		name string
		kind actionKind
		what string
	}
	for _, k := range []kw{
		{"ignore", actIgnore, ""}, {"exec", actExec, "cmd"}, {"pipe", actPipe, "cmd"},
		{"open", actOpen, "context"}, {"delete", actDelete, "context_regex"},
		{"report", actReport, "cmd/context_regex"}, {"rule", actRule, "rule"},
		{"echo", actEcho, "string"}, {"syslog", actSyslog, "arguments"},
	} {
		if !hasPrefixFold(s, k.name) {
			continue
		}
		if k.kind == actIgnore {
			return actIgnore, "", nil
		}
		body := skipSpaces(s[len(k.name):])
		if body == "" {
			return 0, "", fmt.Errorf("%s without %s", k.name, k.what)
		}
		return k.kind, body, nil
	}
	if s == "" {
		return 0, "", fmt.Errorf("missing action")
	}
	f, _ := nextField(s)
	return 0, "", fmt.Errorf("unknown action %q", f)
}

// checkAction validates an action body at load time, where logsurfer would
// only fail (or misbehave) when the rule fires.
func checkAction(kind actionKind, body string) error {
	switch kind {
	case actExec, actPipe, actReport:
		toks, ok := collectTokens(body, nil, substNone)
		if !ok || len(toks) == 0 {
			return fmt.Errorf("%s: unterminated quote", kind)
		}
		if err := checkCommand(kind, toks[0]); err != nil {
			return err
		}
		if kind != actReport && len(toks) > 1 {
			// logsurfer runs the first word and drops the rest unsaid.
			return fmt.Errorf("%s: %q after the command would be ignored: put the whole command line in one pair of quotes (%s \"%s ...\")",
				kind, strings.TrimSpace(toks[1].String()), kind, toks[0].String())
		}
	case actDelete:
		if _, ok := collectTokens(body, nil, substNone); !ok {
			return fmt.Errorf("delete: unterminated quote")
		}
	case actEcho:
		toks, ok := collectTokens(body, nil, substNone)
		if !ok {
			return fmt.Errorf("echo: unterminated quote")
		}
		if s := toks[0].String(); strings.HasPrefix(s, ">") && len(toks) < 2 {
			return fmt.Errorf("echo %s without text", s)
		}
	case actSyslog:
		toks, ok := collectTokens(body, nil, substNone)
		if !ok {
			return fmt.Errorf("syslog: unterminated quote")
		}
		if len(toks) < 2 {
			return fmt.Errorf("syslog needs FACILITY:LEVEL and a text")
		}
		if s := toks[0].String(); !strings.Contains(s, "$") {
			if _, _, err := parseFacLevel(s); err != nil {
				return err
			}
		}
	case actOpen:
		if _, err := parseContextDef(body, nil, substNone, true); err != nil {
			return fmt.Errorf("open: %w", err)
		}
	case actRule:
		where, rest, ok := getWord(body, nil, substNone)
		if !ok {
			return fmt.Errorf("rule: unterminated quote")
		}
		switch where.String() {
		case "before", "behind", "top", "bottom":
		default:
			return fmt.Errorf("rule: position %q is not before, behind, top or bottom", where.String())
		}
		// A regex built from $k can only be compiled when the rule fires;
		// everything else about the new rule is checked now.
		if _, err := parseRule(rest, nil, substNone, true); err != nil {
			var rerr *regexError
			if !errors.As(err, &rerr) || !strings.Contains(rest, "$") {
				return fmt.Errorf("rule: %w", err)
			}
		}
	case actAlert:
		if _, err := parseAlert(body, nil); err != nil {
			return err
		}
	}
	return nil
}

func checkCommand(kind actionKind, cmd word) error {
	argv, ok := splitCommand(cmd, nil, false)
	if !ok || len(argv) == 0 {
		return fmt.Errorf("%s: cannot split command %q", kind, cmd.String())
	}
	if strings.Contains(argv[0], "$") {
		return nil // named by the log line: checked when it runs
	}
	if !filepath.IsAbs(argv[0]) {
		return fmt.Errorf("%s: command %q must be an absolute path (no PATH lookup, no shell)", kind, argv[0])
	}
	return nil
}

// thresholdSpec is "threshold N DURATION [by KEY]".
type thresholdSpec struct {
	n      int
	window time.Duration
	by     string // raw token, substituted when the rule fires
}

func parseThreshold(s string) (*thresholdSpec, string, error) {
	nTok, rest := nextField(s)
	n, err := strconv.Atoi(nTok)
	if err != nil || n < 1 {
		return nil, "", fmt.Errorf("threshold: count %q is not a positive number", nTok)
	}
	dTok, rest := nextField(rest)
	d, err := parseDuration(dTok)
	if err != nil {
		return nil, "", fmt.Errorf("threshold: %w", err)
	}
	th := &thresholdSpec{n: n, window: d}
	if f, after := nextField(rest); f == "by" {
		after = skipSpaces(after)
		w, r2, ok := getWord(after, nil, substNone)
		if !ok {
			return nil, "", fmt.Errorf("threshold: by without key")
		}
		th.by = strings.TrimSpace(after[:len(after)-len(r2)])
		_ = w
		rest = r2
	}
	return th, rest, nil
}

// parseDuration takes Go durations, plus plain seconds as logsurfer counts.
func parseDuration(s string) (time.Duration, error) {
	if isNumber(s) {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("duration %q is not a positive duration (90s, 5m, 1h)", s)
	}
	return d, nil
}

// regexError is a regex that does not compile; a dynamic rule's regex
// with $k in it is only checked when it is made.
type regexError struct {
	what string
	err  error
}

func (e *regexError) Error() string { return e.what + ": " + e.err.Error() }
func (e *regexError) Unwrap() error { return e.err }
