package rules

import (
	"strconv"
	"strings"
)

// match is what a firing regex leaves behind for $0..$9: the line and the
// submatch offsets of the regex that matched it.
type match struct {
	line string
	idx  []int // FindStringSubmatchIndex; nil when the rule needs no groups
	nsub int   // number of groups of the regex (re_nsub)
}

// variable returns the text for $k and whether k names a variable at all:
// logsurfer leaves "$k" as literal text when k is past the last group + 1.
func (m *match) variable(k int) (string, bool) {
	if k == 0 {
		return m.line, true
	}
	if k > m.nsub+1 {
		return "", false
	}
	i := 2 * (k - 1)
	if m.idx == nil || i+1 >= len(m.idx) || m.idx[i] < 0 {
		return "", true
	}
	return m.line[m.idx[i]:m.idx[i+1]], true
}

// seg is a piece of a word: lit marks text that came from the log line, so
// the safe mode never lets it change how a command line is split.
type seg struct {
	s   string
	lit bool
	ph  int8 // in a template: 1+k for $k, filled in by fill
}

// word is one token after the first substitution pass.
type word []seg

func (w word) String() string {
	if len(w) == 1 {
		return w[0].s
	}
	var b strings.Builder
	for _, s := range w {
		b.WriteString(s.s)
	}
	return b.String()
}

// appendTo appends the word's text to b.
func (w word) appendTo(b []byte) []byte {
	for _, s := range w {
		b = append(b, s.s...)
	}
	return b
}

// firstByte is the first byte of the word's text (0 when it is empty).
func (w word) firstByte() byte {
	for _, s := range w {
		if s.s != "" {
			return s.s[0]
		}
	}
	return 0
}

func (w word) hasLit() bool {
	for _, s := range w {
		if s.lit {
			return true
		}
	}
	return false
}

// substMode says what to do with substituted log data.
type substMode uint8

const (
	substNone     substMode = iota // no current line: keep $k literally (load time)
	substPlain                     // insert the text as it is
	substRegex                     // insert the text regex-escaped (safe mode, new regexes)
	substTemplate                  // leave a placeholder, for fill to substitute later
)

// isSpace is C's isspace in the "C" locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func skipSpaces(s string) string {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return s[i:]
}

// getWord is logsurfer's get_word: it reads one token from s (unquoted,
// 'single quoted' or "double quoted"), turns \x into x and substitutes $0..$9
// in unquoted and double-quoted tokens. It returns the token, the rest of s,
// and false when there is no token or a quote is not closed.
func getWord(s string, m *match, mode substMode) (word, string, bool) {
	s = skipSpaces(s)
	if s == "" {
		return nil, s, false
	}
	var w word
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			w = append(w, seg{s: cur.String()})
			cur.Reset()
		}
	}
	subst := func(k int) {
		if mode == substTemplate {
			flush()
			w = append(w, seg{ph: int8(k + 1)})
			return
		}
		if mode == substNone || m == nil {
			cur.WriteByte('$')
			cur.WriteByte(byte('0' + k))
			return
		}
		v, ok := m.variable(k)
		if !ok {
			cur.WriteByte('$')
			cur.WriteByte(byte('0' + k))
			return
		}
		if mode == substRegex {
			v = quoteERE(v)
		}
		flush()
		w = append(w, seg{s: v, lit: true})
	}
	i := 0
	switch s[0] {
	case '\'':
		j := strings.IndexByte(s[1:], '\'')
		if j < 0 {
			return nil, s, false
		}
		return word{{s: s[1 : 1+j]}}, s[j+2:], true
	case '"':
		i = 1
		for i < len(s) && s[i] != '"' {
			switch {
			case s[i] == '\\' && i+1 < len(s):
				cur.WriteByte(s[i+1])
				i += 2
			case s[i] == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
				subst(int(s[i+1] - '0'))
				i += 2
			default:
				cur.WriteByte(s[i])
				i++
			}
		}
		if i >= len(s) {
			return nil, s, false
		}
		i++ // the closing quote
	default:
		for i < len(s) && !isSpace(s[i]) {
			switch {
			case s[i] == '\\' && i+1 < len(s):
				cur.WriteByte(s[i+1])
				i += 2
			case s[i] == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
				subst(int(s[i+1] - '0'))
				i += 2
			default:
				cur.WriteByte(s[i])
				i++
			}
		}
	}
	flush()
	if len(w) == 0 {
		w = word{{s: ""}}
	}
	return w, s[i:], true
}

// collectTokens is logsurfer's collect_tokens: every token of s, or false
// when one of them cannot be read.
func collectTokens(s string, m *match, mode substMode) ([]word, bool) {
	var out []word
	s = skipSpaces(s)
	for s != "" {
		w, rest, ok := getWord(s, m, mode)
		if !ok {
			return nil, false
		}
		out = append(out, w)
		s = skipSpaces(rest)
	}
	return out, true
}

// splitCommand is logsurfer's prepare_exec: the command token is read again
// as a list of words to become argv. Log data inside it (lit segments) is
// re-split and re-expanded only in compat mode; in safe mode it stays inside
// the argument it was substituted into, and an empty value is still one
// (empty) argument. m serves the second expansion of $k in template text.
func splitCommand(cmd word, m *match, compat bool) ([]string, bool) {
	if compat {
		cmd = word{{s: cmd.String()}}
	}
	type item struct {
		c     byte
		lit   bool
		empty bool // an empty substitution: makes a word, adds no byte
	}
	var items []item
	for _, sg := range cmd {
		if sg.lit && sg.s == "" {
			items = append(items, item{lit: true, empty: true})
			continue
		}
		for i := 0; i < len(sg.s); i++ {
			items = append(items, item{c: sg.s[i], lit: sg.lit})
		}
	}
	var argv []string
	i := 0
	for {
		for i < len(items) && !items[i].lit && isSpace(items[i].c) {
			i++
		}
		if i >= len(items) {
			return argv, true
		}
		if len(argv) >= 254 {
			return nil, false
		}
		var b strings.Builder
		put := func(it item) {
			if !it.empty {
				b.WriteByte(it.c)
			}
		}
		expand := func(k int) {
			if m == nil {
				b.WriteByte('$')
				b.WriteByte(byte('0' + k))
				return
			}
			if v, ok := m.variable(k); ok {
				b.WriteString(v)
			} else {
				b.WriteByte('$')
				b.WriteByte(byte('0' + k))
			}
		}
		plainAt := func(j int, c byte) bool { return j < len(items) && !items[j].lit && items[j].c == c }
		digitAt := func(j int) bool {
			return j < len(items) && !items[j].lit && items[j].c >= '0' && items[j].c <= '9'
		}
		// step reads one item of an unquoted or double-quoted word: log
		// data as it is, \x as x, $k expanded.
		step := func() {
			switch {
			case items[i].lit:
				put(items[i])
				i++
			case items[i].c == '\\' && i+1 < len(items):
				put(items[i+1])
				i += 2
			case items[i].c == '$' && digitAt(i+1):
				expand(int(items[i+1].c - '0'))
				i += 2
			default:
				put(items[i])
				i++
			}
		}
		switch {
		case plainAt(i, '\''):
			i++
			for i < len(items) && !plainAt(i, '\'') {
				put(items[i])
				i++
			}
			if i >= len(items) {
				return nil, false
			}
			i++
		case plainAt(i, '"'):
			i++
			for i < len(items) && !plainAt(i, '"') {
				step()
			}
			if i >= len(items) {
				return nil, false
			}
			i++
		default:
			for i < len(items) && (items[i].lit || !isSpace(items[i].c)) {
				step()
			}
		}
		argv = append(argv, b.String())
	}
}

// quoteArg renders one argv element for `rules test` output.
func quoteArg(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSpace(c) || c == '"' || c == '\'' || c == '\\' || c < 0x20 || c == 0x7f {
			return strconv.Quote(s)
		}
	}
	return s
}

func joinArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = quoteArg(a)
	}
	return strings.Join(parts, " ")
}

// needsGroups reports whether s refers to $1..$9, so that the regex that
// fires it must compute submatches.
func needsGroups(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '$' && s[i+1] >= '1' && s[i+1] <= '9' {
			return true
		}
	}
	return false
}

// hasVariable reports whether s refers to any of $0..$9.
func hasVariable(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '$' && s[i+1] >= '0' && s[i+1] <= '9' {
			return true
		}
	}
	return false
}

// fill substitutes a template (tokens read once with substTemplate) the
// way getWord with substPlain substitutes the action text: tokenising
// never depends on the substituted values, so reading the text once is
// enough. A $k the match does not have stays as written.
func fill(tmpl []word, m *match) []word {
	out, _ := fillInto(nil, nil, tmpl, m)
	return out
}

// fillInto is fill reusing a rule's own buffers, so that a firing rule
// allocates nothing: what it returns is valid until the rule fires again.
func fillInto(words []word, segs []seg, tmpl []word, m *match) ([]word, []seg) {
	n := 0
	for _, t := range tmpl {
		n += len(t)
	}
	if cap(segs) < n {
		segs = make([]seg, 0, n)
	}
	segs, words = segs[:0], words[:0]
	for _, t := range tmpl {
		start := len(segs)
		for _, sg := range t {
			if sg.ph == 0 {
				segs = append(segs, sg)
				continue
			}
			k := int(sg.ph - 1)
			if v, ok := m.variable(k); ok {
				segs = append(segs, seg{s: v, lit: true})
			} else {
				segs = append(segs, seg{s: "$" + string(rune('0'+k))})
			}
		}
		words = append(words, word(segs[start:len(segs):len(segs)]))
	}
	return words, segs
}
