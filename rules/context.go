package rules

import (
	"fmt"
	"strings"
)

// ctxLine is one stored line of a context.
type ctxLine struct {
	num  int64
	text string
}

// lcontext is a logsurfer context: lines collected under a regex until a
// line limit or a timeout fires its default action.
type lcontext struct {
	seq  uint64
	name string // the substituted match regex: the context's identity
	// compatName is the name logsurfer would have given it, when safe
	// substitution made name differ ("" otherwise).
	compatName string
	re         *regex
	notStr     string
	hasNot     bool
	not        *regex
	maxLines   int64 // 0: unlimited
	minLines   int64
	absAt      int64 // unix seconds; 0: none
	relOff     int64
	relAt      int64
	kind       actionKind
	tokens     []word
	lines      []ctxLine // only for pipe and report
	count      int64
	src        string // file:line of the rule that opened it
	dead       bool
	touched    uint64 // line serial it was last added to
	slot       indexSlot
}

func (c *lcontext) stores() bool { return c.kind == actPipe || c.kind == actReport }

// ctxSpec is a parsed context definition ("open" body).
type ctxSpec struct {
	name     string
	notStr   string
	hasNot   bool
	maxLines int64
	absOff   int64
	relOff   int64
	minLines int64
	kind     actionKind
	rest     string // the default action's arguments, raw
	tokens   []word
}

// parseContextDef is the parsing half of logsurfer's open_context. Regex
// fields take data in regexMode; the default action's tokens are collected
// (and substituted) now, as logsurfer does.
func parseContextDef(def string, m *match, regexMode substMode, check bool) (*ctxSpec, error) {
	w, rest, ok := getWord(def, m, regexMode)
	if !ok {
		return nil, fmt.Errorf("can't get match_regex")
	}
	return parseContextRest(w.String(), rest, m, regexMode, check)
}

// parseContextRest is parseContextDef after the name.
func parseContextRest(name, rest string, m *match, regexMode substMode, check bool) (*ctxSpec, error) {
	c := &ctxSpec{name: name}
	rest = skipSpaces(rest)
	if strings.HasPrefix(rest, "-") {
		rest = rest[1:]
	} else {
		w, r2, ok := getWord(rest, m, regexMode)
		if !ok {
			return nil, fmt.Errorf("error in match_not_regex")
		}
		c.notStr, c.hasNot, rest = w.String(), true, r2
	}
	nums := [3]*int64{&c.maxLines, &c.absOff, &c.relOff}
	what := [3]string{"line_limit", "timeout_abs", "timeout_rel"}
	for i, p := range nums {
		var tok string
		tok, rest = nextField(rest)
		if check && !isNumber(tok) {
			return nil, fmt.Errorf("%s %q is not a number", what[i], tok)
		}
		*p = atol(tok)
	}
	rest = skipSpaces(rest)
	if rest != "" && rest[0] >= '0' && rest[0] <= '9' {
		var tok string
		tok, rest = nextField(rest)
		c.minLines = atol(tok)
	}
	rest = skipSpaces(rest)
	type kw struct {
		name string
		kind actionKind
	}
	found := false
	for _, k := range []kw{{"ignore", actIgnore}, {"exec", actExec}, {"pipe", actPipe},
		{"report", actReport}, {"echo", actEcho}, {"syslog", actSyslog}} {
		if hasPrefixFold(rest, k.name) {
			c.kind, found = k.kind, true
			if k.kind != actIgnore {
				c.rest = skipSpaces(rest[len(k.name):])
			}
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("unknown default action: %s", rest)
	}
	if c.kind != actIgnore {
		toks, ok := collectTokens(c.rest, m, substPlain)
		if !ok {
			return nil, fmt.Errorf("default action %s: unterminated quote", c.kind)
		}
		c.tokens = toks
	}
	if check {
		if m == nil && !strings.Contains(c.name, "$") {
			if _, err := compileERE(c.name); err != nil {
				return nil, err
			}
		}
		switch c.kind {
		case actExec, actPipe, actReport:
			if len(c.tokens) == 0 {
				return nil, fmt.Errorf("default action %s without command", c.kind)
			}
			if err := checkCommand(c.kind, c.tokens[0]); err != nil {
				return nil, err
			}
			if c.kind == actPipe && len(c.tokens) > 1 {
				return nil, fmt.Errorf("pipe with multiple commands")
			}
		case actEcho:
			if len(c.tokens) == 0 {
				return nil, fmt.Errorf("echo without string")
			}
		case actSyslog:
			if len(c.tokens) < 2 {
				return nil, fmt.Errorf("syslog needs FACILITY:LEVEL and a text")
			}
		}
	}
	return c, nil
}

// expandLines is expand_context_action_macros: "$lines" becomes the line
// count, unless a backslash precedes it. Log data is left alone in safe mode.
func expandLines(toks []word, count int64, compat bool) []word {
	out := make([]word, len(toks))
	n := fmt.Sprint(count)
	for i, w := range toks {
		if compat {
			w = word{{s: w.String()}}
		}
		var nw word
		prevBackslash := false
		for _, sg := range w {
			if sg.lit || !strings.Contains(sg.s, "$lines") {
				nw = append(nw, sg)
				if sg.s != "" {
					prevBackslash = sg.s[len(sg.s)-1] == '\\'
				}
				continue
			}
			var b strings.Builder
			s := sg.s
			for j := 0; j < len(s); j++ {
				atStart := j == 0
				if s[j] == '$' && strings.HasPrefix(s[j+1:], "lines") &&
					((atStart && !prevBackslash) || (!atStart && s[j-1] != '\\')) {
					b.WriteString(n)
					j += 5
					continue
				}
				b.WriteByte(s[j])
			}
			nw = append(nw, seg{s: b.String()})
			prevBackslash = s[len(s)-1] == '\\'
		}
		out[i] = nw
	}
	return out
}
