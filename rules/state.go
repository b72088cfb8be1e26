package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// stateVersion changes when the encoding does; a state of another version
// is refused rather than misread.
const stateVersion = 1

type engineState struct {
	Version int         `json:"version"`
	Files   []fileState `json:"files"`
}

type fileState struct {
	Name      string         `json:"name"`
	LineNum   int64          `json:"line_num"`
	CtxSeq    uint64         `json:"ctx_seq"`
	Rules     []ruleState    `json:"rules"`
	Contexts  []contextState `json:"contexts,omitempty"`
	LastEvent time.Time      `json:"last_event,omitzero"`
}

// ruleState is one entry of the rule list: a static rule by its text, or
// a dynamic rule as rule text that parses back to it.
type ruleState struct {
	Static  string             `json:"static,omitempty"`
	Dynamic string             `json:"dynamic,omitempty"`
	Line    int                `json:"line"`
	Expires int64              `json:"expires,omitempty"`
	Windows map[string]*window `json:"windows,omitempty"`
}

type contextState struct {
	Seq      uint64      `json:"seq"`
	Name     string      `json:"name"`
	Compat   string      `json:"compat_name,omitempty"`
	Not      *string     `json:"not,omitempty"`
	MaxLines int64       `json:"max_lines,omitempty"`
	MinLines int64       `json:"min_lines,omitempty"`
	AbsAt    int64       `json:"abs_at,omitempty"`
	RelOff   int64       `json:"rel_off,omitempty"`
	RelAt    int64       `json:"rel_at,omitempty"`
	Kind     string      `json:"kind"`
	Tokens   [][]segJSON `json:"tokens,omitempty"`
	Lines    []lineJSON  `json:"lines,omitempty"`
	Count    int64       `json:"count"`
	Src      string      `json:"src"`
}

type segJSON struct {
	S   string `json:"s"`
	Lit bool   `json:"lit,omitempty"`
}

type lineJSON struct {
	N int64  `json:"n"`
	T string `json:"t"`
}

// MarshalState exports contexts, dynamic rules and threshold windows, so
// that a restarted loghost goes on where it stopped.
func (e *Engine) MarshalState() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := engineState{Version: stateVersion}
	for _, s := range e.surfers {
		fs := fileState{Name: s.name, LineNum: s.lineNum, CtxSeq: s.ctxSeq, LastEvent: s.lastEvent}
		static := map[*rule]string{}
		for _, r := range s.static {
			static[r] = ruleKey(r)
		}
		for r := s.head; r != nil; r = r.next {
			rs := ruleState{Line: r.line, Windows: r.windows}
			if k, ok := static[r]; ok {
				rs.Static = k
			} else {
				rs.Dynamic = ruleText(r.spec)
				if r.expires != never {
					rs.Expires = r.expires
				}
			}
			fs.Rules = append(fs.Rules, rs)
		}
		for _, c := range s.ctxs {
			if c.dead {
				continue
			}
			cs := contextState{Seq: c.seq, Name: c.name, MaxLines: c.maxLines, MinLines: c.minLines,
				AbsAt: c.absAt, RelOff: c.relOff, RelAt: c.relAt, Kind: c.kind.String(), Count: c.count, Src: c.src,
				Compat: c.compatName}
			if c.hasNot {
				n := c.notStr
				cs.Not = &n
			}
			for _, w := range c.tokens {
				var sw []segJSON
				for _, sg := range w {
					sw = append(sw, segJSON{S: sg.s, Lit: sg.lit})
				}
				cs.Tokens = append(cs.Tokens, sw)
			}
			for _, l := range c.lines {
				cs.Lines = append(cs.Lines, lineJSON{N: l.num, T: l.text})
			}
			fs.Contexts = append(fs.Contexts, cs)
		}
		st.Files = append(st.Files, fs)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("marshal rules state: %w", err)
	}
	return b, nil
}

// UnmarshalState restores what MarshalState exported into an engine built
// from the same (or an edited) set of files. State of a file no longer
// configured is dropped; static rules are matched by their text, so an
// edited file keeps the dynamic rules and contexts its old version made.
func (e *Engine) UnmarshalState(data []byte) error {
	var st engineState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("unmarshal rules state: %w", err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("unmarshal rules state: version %d, want %d", st.Version, stateVersion)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, fs := range st.Files {
		for _, s := range e.surfers {
			if s.name == fs.Name {
				if err := s.restore(fs); err != nil {
					return fmt.Errorf("restore %s: %w", fs.Name, err)
				}
			}
		}
	}
	return nil
}

func (s *surfer) restore(fs fileState) error {
	byKey := map[string][]*rule{}
	for _, r := range s.static {
		byKey[ruleKey(r)] = append(byKey[ruleKey(r)], r)
	}
	placed := map[*rule]bool{}
	var list []*rule
	for _, rs := range fs.Rules {
		if rs.Static != "" {
			cands := byKey[rs.Static]
			if len(cands) == 0 {
				continue // the rule is gone from the file
			}
			r := cands[0]
			byKey[rs.Static] = cands[1:]
			r.windows = rs.Windows
			placed[r] = true
			list = append(list, r)
			continue
		}
		spec, err := parseRule(rs.Dynamic, nil, substNone, false)
		if err != nil {
			return fmt.Errorf("dynamic rule %q: %w", rs.Dynamic, err)
		}
		spec.timeout = 0
		r := s.newRule(spec, 0, rs.Line, true)
		if rs.Expires != 0 {
			r.expires = rs.Expires
		}
		r.windows = rs.Windows
		list = append(list, r)
	}
	s.dynamic = 0
	for _, r := range list {
		if r.dynamic {
			s.dynamic++
		}
	}
	// Static rules new in the file go behind the static rule before them.
	for i, r := range s.static {
		if placed[r] {
			continue
		}
		at := 0
		for j := i - 1; j >= 0; j-- {
			if k := indexOf(list, s.static[j]); k >= 0 {
				at = k + 1
				break
			}
		}
		list = append(list[:at], append([]*rule{r}, list[at:]...)...)
		placed[r] = true
	}
	s.head, s.tail = nil, nil
	for _, r := range list {
		r.prev, r.next = nil, nil
		s.linkBehind(r, s.tail)
	}
	s.nextRuleT = never
	for _, r := range list {
		if r.expires < s.nextRuleT {
			s.nextRuleT = r.expires
		}
	}
	s.closeInput(context.Background(), false)
	s.lineNum, s.ctxSeq, s.lastEvent = fs.LineNum, fs.CtxSeq, fs.LastEvent
	if !s.lastEvent.IsZero() {
		s.lastWall = s.e.cfg.Now()
	}
	for _, cs := range fs.Contexts {
		spec := &ctxSpec{name: cs.Name, maxLines: cs.MaxLines, minLines: cs.MinLines, relOff: cs.RelOff}
		if cs.Not != nil {
			spec.notStr, spec.hasNot = *cs.Not, true
		}
		kind, ok := kindByName(cs.Kind)
		if !ok {
			return fmt.Errorf("context %q: unknown action %q", cs.Name, cs.Kind)
		}
		spec.kind = kind
		for _, sw := range cs.Tokens {
			var w word
			for _, sg := range sw {
				w = append(w, seg{s: sg.S, lit: sg.Lit})
			}
			spec.tokens = append(spec.tokens, w)
		}
		seq := s.ctxSeq
		s.ctxSeq = cs.Seq - 1
		c, err := s.makeContext(spec, 0, cs.Src)
		s.ctxSeq = max(seq, cs.Seq)
		if err != nil {
			return fmt.Errorf("context %q: %w", cs.Name, err)
		}
		c.absAt, c.relAt, c.count = cs.AbsAt, cs.RelAt, cs.Count
		if cs.Compat != "" {
			s.setCompatName(c, cs.Compat)
		}
		for _, l := range cs.Lines {
			c.lines = append(c.lines, ctxLine{num: l.N, text: l.T})
		}
		for _, t := range []int64{c.absAt, c.relAt} {
			if t != 0 && t < s.nextCtxT {
				s.nextCtxT = t
			}
		}
	}
	return nil
}

func indexOf(list []*rule, r *rule) int {
	for i, x := range list {
		if x == r {
			return i
		}
	}
	return -1
}

func kindByName(n string) (actionKind, bool) {
	for i, name := range actionNames {
		if name == n {
			return actionKind(i), true
		}
	}
	return 0, false
}

// ruleKey identifies a static rule across restarts by its text.
func ruleKey(r *rule) string { return ruleText(r.spec) }

// ruleText writes a rule back as rule-file text that parses to the same
// rule (regexes double-quoted with \ and " escaped: no $k is expanded when
// there is no current line).
func ruleText(sp *ruleSpec) string {
	var b strings.Builder
	for i := 0; i < 4; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		if !sp.has[i] {
			b.WriteByte('-')
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(sp.strs[i]); j++ {
			c := sp.strs[i][j]
			if c == '\\' || c == '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
	}
	fmt.Fprintf(&b, " %d", sp.timeout)
	if sp.cont {
		b.WriteString(" continue")
	}
	if th := sp.threshold; th != nil {
		fmt.Fprintf(&b, " threshold %d %s", th.n, th.window)
		if th.by != "" {
			b.WriteString(" by " + th.by)
		}
	}
	b.WriteString(" " + sp.kind.String())
	if sp.body != "" {
		b.WriteString(" " + sp.body)
	}
	return b.String()
}
