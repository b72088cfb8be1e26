package rules

import (
	"fmt"
	"regexp/syntax"
	"unicode"
)

// parseERE reads a regex as GNU regex 0.12 compiles it for logsurfer
// (re_syntax_options = RE_SYNTAX_POSIX_EGREP) and builds the matching
// syntax tree directly — no Go regex text in between, so Go's limits on
// repetition counts and its UTF-8 reading do not apply:
//
//   - Bytes, not characters: every byte of the pattern is one character,
//     and the tree reads the line's bytes as Latin-1 runes (0-255), so
//     `.`, `[^x]`, `\W` and `x?` each take one byte, as in logsurfer.
//   - An operator's operand is GNU's "last start": the last atom, but a
//     run of plain characters is one atom unless the character is followed
//     by *, +, ?, { or ^, and anchors and word operators do not start one.
//     So `ab$*` repeats "ab$" and `a^*` repeats "a^", as GNU does.
//   - A sequence of *, + and ? is one operator (a+? is a*); an operator
//     with nothing before it is nothing; an interval that does not read as
//     {m}, {m,} or {m,n} with m <= n <= 32767 is literal text ({,2}, {2,1}).
//   - Brackets: ] first is literal, backslash is literal, [:class:] is
//     ASCII, a range whose end is below its start is empty, [. and [= are
//     plain characters, and a negated list never matches a newline.
//   - \w \W \< \> \b \B \` \' are GNU's; \< \> and \B are carried by the
//     line-anchor and non-boundary ops (see gnuEmpty), which Go's regexp
//     would read differently, so regexes using them run on our matcher.
//   - Back-references (\1..\9) are refused: neither matcher has them.
//
// It returns the tree, its number of groups, and whether Go's regexp
// reads the tree as GNU does (no \<, \> or \B).
func parseERE(p string) (*syntax.Regexp, int, bool, error) {
	ps := &ereParser{src: p, goOK: true}
	t, err := ps.parse()
	if err != nil {
		return nil, 0, false, fmt.Errorf("regex %q: %w", p, err)
	}
	// Go's parser factors alternatives (password|publickey becomes
	// p(?:assword|ublickey)) and merges literals, keeping every match and
	// the priority of its paths: the DFAs stay small and the capture
	// walker sees one way on. Counts over 1000 cannot take this way.
	if t2, err := syntax.Parse(t.String(), syntax.Perl); err == nil && t2.MaxCap() == ps.groups {
		t = t2
	}
	return t, ps.groups, ps.goOK, nil
}

// reDupMax is GNU regex 0.12's RE_DUP_MAX: a larger count makes the brace
// literal text.
const reDupMax = 1<<15 - 1

type ereFrame struct {
	alts  []*syntax.Regexp // finished alternatives
	items []*syntax.Regexp // the alternative being read
	last  int              // GNU's laststart: index into items, -1 when none
	run   bool             // items[len-1] is a literal run still growing
	cap   int              // this group's number (0: the whole regex)
}

type ereParser struct {
	src    string
	pos    int
	groups int
	goOK   bool
	stack  []*ereFrame
}

func (ps *ereParser) top() *ereFrame { return ps.stack[len(ps.stack)-1] }

func (ps *ereParser) parse() (*syntax.Regexp, error) {
	ps.stack = []*ereFrame{{last: -1}}
	p := ps.src
	for ps.pos < len(p) {
		c := p[ps.pos]
		ps.pos++
		f := ps.top()
		switch c {
		case '^':
			ps.push(&syntax.Regexp{Op: syntax.OpBeginText}, false)
		case '$':
			ps.push(&syntax.Regexp{Op: syntax.OpEndText}, false)
		case '*', '+', '?':
			zero, many := c != '+', c != '?'
			for ps.pos < len(p) && (p[ps.pos] == '*' || p[ps.pos] == '+' || p[ps.pos] == '?') {
				zero = zero || p[ps.pos] != '+'
				many = many || p[ps.pos] != '?'
				ps.pos++
			}
			if f.last < 0 {
				continue // an operator applied to nothing is nothing
			}
			op := syntax.OpStar
			switch {
			case zero && !many:
				op = syntax.OpQuest
			case !zero:
				op = syntax.OpPlus
			}
			ps.wrap(func(sub *syntax.Regexp) *syntax.Regexp {
				return &syntax.Regexp{Op: op, Sub: []*syntax.Regexp{sub}}
			})
		case '.':
			ps.push(classOf(func(b byte) bool { return b != '\n' }, false), true)
		case '[':
			cls, err := ps.bracket()
			if err != nil {
				return nil, err
			}
			ps.push(cls, true)
		case '(':
			ps.groups++
			ps.stack = append(ps.stack, &ereFrame{last: -1, cap: ps.groups})
		case ')':
			if len(ps.stack) == 1 {
				return nil, fmt.Errorf("unmatched )")
			}
			ps.stack = ps.stack[:len(ps.stack)-1]
			g := &syntax.Regexp{Op: syntax.OpCapture, Cap: f.cap, Sub: []*syntax.Regexp{f.alternate()}}
			ps.push(g, true)
		case '|':
			f.alts = append(f.alts, concat(f.items))
			f.items, f.last, f.run = nil, -1, false
		case '{':
			lo, hi, n, ok := ereInterval(p, ps.pos)
			if !ok {
				ps.literal('{')
				continue
			}
			ps.pos = n
			if f.last < 0 {
				// GNU repeats the empty pattern at this point.
				ps.push(&syntax.Regexp{Op: syntax.OpEmptyMatch}, true)
			}
			ps.wrap(func(sub *syntax.Regexp) *syntax.Regexp {
				return &syntax.Regexp{Op: syntax.OpRepeat, Min: lo, Max: hi, Sub: []*syntax.Regexp{sub}}
			})
		case '\\':
			if ps.pos >= len(p) {
				return nil, fmt.Errorf("trailing backslash")
			}
			n := p[ps.pos]
			ps.pos++
			switch n {
			case 'w':
				ps.push(classOf(isWordByte, false), true)
			case 'W':
				ps.push(classOf(isWordByte, true), true)
			case '<':
				ps.goOK = false
				ps.push(&syntax.Regexp{Op: syntax.OpBeginLine}, false)
			case '>':
				ps.goOK = false
				ps.push(&syntax.Regexp{Op: syntax.OpEndLine}, false)
			case 'b':
				// GNU's \b also holds at the line's start and end, even
				// beside a non-word character.
				ps.push(&syntax.Regexp{Op: syntax.OpAlternate, Sub: []*syntax.Regexp{
					{Op: syntax.OpWordBoundary}, {Op: syntax.OpBeginText}, {Op: syntax.OpEndText}}}, false)
			case 'B':
				ps.goOK = false
				ps.push(&syntax.Regexp{Op: syntax.OpNoWordBoundary}, false)
			case '`':
				ps.push(&syntax.Regexp{Op: syntax.OpBeginText}, false)
			case '\'':
				ps.push(&syntax.Regexp{Op: syntax.OpEndText}, false)
			case '1', '2', '3', '4', '5', '6', '7', '8', '9':
				g := int(n - '0')
				if g > ps.groups {
					return nil, fmt.Errorf("back-reference \\%c to a group that does not exist", n)
				}
				if ps.open(g) {
					ps.literal(n) // GNU: a group cannot refer to itself
					continue
				}
				return nil, fmt.Errorf("back-references (\\%c) are not supported", n)
			default:
				ps.literal(n)
			}
		default:
			ps.literal(c)
		}
	}
	if len(ps.stack) != 1 {
		return nil, fmt.Errorf("unmatched (")
	}
	t := ps.top().alternate()
	if n := treeSize(t, 0); n > maxTreeSize {
		return nil, fmt.Errorf("too large: its repetitions expand to over %d steps", maxTreeSize)
	}
	return t, nil
}

// maxTreeSize bounds what repetitions may expand to (a{30000}{30000} in
// log data substituted into a regex must not take the loghost's memory).
const maxTreeSize = 50_000

func treeSize(t *syntax.Regexp, acc int) int {
	n := 1
	switch t.Op {
	case syntax.OpLiteral:
		n = len(t.Rune)
	case syntax.OpRepeat:
		k := t.Max
		if k < 0 {
			k = t.Min + 1
		}
		return acc + max(k, 1)*treeSize(t.Sub[0], 0)
	}
	for _, s := range t.Sub {
		n += treeSize(s, 0)
		if n > maxTreeSize {
			return n
		}
	}
	return acc + n
}

// open reports whether group g is still open (being read).
func (ps *ereParser) open(g int) bool {
	for _, f := range ps.stack[1:] {
		if f.cap == g {
			return true
		}
	}
	return false
}

// push appends an item; atom says whether it starts a new "last start"
// (anchors and word operators do not).
func (ps *ereParser) push(t *syntax.Regexp, atom bool) {
	f := ps.top()
	f.items = append(f.items, t)
	if atom {
		f.last = len(f.items) - 1
	}
	f.run = false
}

// literal adds one byte as GNU's normal_char does: it extends the pending
// run of plain characters unless an operator (or ^) follows it.
func (ps *ereParser) literal(c byte) {
	f := ps.top()
	next := byte(0)
	if ps.pos < len(ps.src) {
		next = ps.src[ps.pos]
	}
	opNext := next == '*' || next == '^' || next == '+' || next == '?' || next == '{'
	if f.run && !opNext && len(f.items[len(f.items)-1].Rune) < 255 {
		lit := f.items[len(f.items)-1]
		lit.Rune = append(lit.Rune, rune(c))
		return
	}
	ps.push(&syntax.Regexp{Op: syntax.OpLiteral, Rune: []rune{rune(c)}}, true)
	f.run = true
}

// wrap applies an operator to everything from the last start on.
func (ps *ereParser) wrap(op func(*syntax.Regexp) *syntax.Regexp) {
	f := ps.top()
	sub := concat(f.items[f.last:])
	f.items = append(f.items[:f.last], op(sub))
	f.run = false
}

func (f *ereFrame) alternate() *syntax.Regexp {
	alts := append(f.alts, concat(f.items))
	if len(alts) == 1 {
		return alts[0]
	}
	return &syntax.Regexp{Op: syntax.OpAlternate, Sub: alts}
}

func concat(items []*syntax.Regexp) *syntax.Regexp {
	switch len(items) {
	case 0:
		return &syntax.Regexp{Op: syntax.OpEmptyMatch}
	case 1:
		return items[0]
	}
	return &syntax.Regexp{Op: syntax.OpConcat, Sub: append([]*syntax.Regexp(nil), items...)}
}

// ereInterval reads {m}, {m,} or {m,n} after the brace at p[i-1], as GNU
// does: m is required, n defaults to RE_DUP_MAX (unbounded here: no line
// is that long), m <= n <= RE_DUP_MAX.
func ereInterval(p string, i int) (lo, hi, next int, ok bool) {
	num := func() (int, bool) {
		v, any := 0, false
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			if v <= reDupMax {
				v = v*10 + int(p[i]-'0')
			}
			i++
			any = true
		}
		return v, any
	}
	lo, okLo := num()
	if !okLo || i >= len(p) {
		return 0, 0, 0, false
	}
	hi = lo
	if p[i] == ',' {
		i++
		var okHi bool
		hi, okHi = num()
		if !okHi {
			hi = -1
		}
	}
	if i >= len(p) || p[i] != '}' || lo > reDupMax || hi > reDupMax || (hi >= 0 && lo > hi) {
		return 0, 0, 0, false
	}
	return lo, hi, i + 1, true
}

// bracket reads a bracket expression after its '[' as GNU 0.12 does.
func (ps *ereParser) bracket() (*syntax.Regexp, error) {
	p := ps.src
	var set [256]bool
	neg := false
	if ps.pos < len(p) && p[ps.pos] == '^' {
		neg = true
		ps.pos++
	}
	first := ps.pos
	hadClass := false
	for {
		if ps.pos >= len(p) {
			return nil, fmt.Errorf("unmatched [")
		}
		c := p[ps.pos]
		ps.pos++
		if c == ']' && ps.pos != first+1 {
			break
		}
		if hadClass && c == '-' && ps.pos < len(p) && p[ps.pos] != ']' {
			return nil, fmt.Errorf("invalid range end")
		}
		// A '-' that neither opens the list nor closes it ranges from the
		// pattern byte before it to the one after it (GNU reads [a-c-e]
		// as a-c and c-e). A range whose end is below its start is empty.
		if c == '-' && p[ps.pos-2] != '[' && !(ps.pos >= 3 && p[ps.pos-3] == '[' && p[ps.pos-2] == '^') &&
			ps.pos < len(p) && p[ps.pos] != ']' {
			setRange(&set, p[ps.pos-2], p[ps.pos])
			ps.pos++
			continue
		}
		if ps.pos+1 < len(p) && p[ps.pos] == '-' && p[ps.pos+1] != ']' {
			setRange(&set, c, p[ps.pos+1])
			ps.pos += 2
			continue
		}
		if c == '[' && ps.pos < len(p) && p[ps.pos] == ':' {
			j := ps.pos + 1
			k := j
			for k < len(p) && p[k] != ':' && p[k] != ']' && k-j < 6 {
				k++
			}
			if k+1 < len(p) && p[k] == ':' && p[k+1] == ']' {
				name := p[j:k]
				is, ok := posixClass[name]
				if !ok {
					return nil, fmt.Errorf("unknown class [:%s:]", name)
				}
				ps.pos = k + 2
				if ps.pos >= len(p) {
					return nil, fmt.Errorf("unmatched [")
				}
				for b := range 128 {
					if is(rune(b)) {
						set[b] = true
					}
				}
				hadClass = true
				continue
			}
			// Not a class: '[' and ':' are members, the rest is read on.
			set['['], set[':'] = true, true
			ps.pos++
			hadClass = false
			continue
		}
		set[c] = true
		hadClass = false
	}
	if neg {
		for b := range set {
			set[b] = !set[b]
		}
		set['\n'] = false
	}
	return classOf(func(b byte) bool { return set[b] }, false), nil
}

func setRange(set *[256]bool, from, to byte) {
	for b := int(from); b <= int(to); b++ {
		set[b] = true
	}
}

// posixClass are the classes as the C locale has them (ASCII only).
var posixClass = map[string]func(rune) bool{
	"alnum":  func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) },
	"alpha":  unicode.IsLetter,
	"blank":  func(r rune) bool { return r == ' ' || r == '\t' },
	"cntrl":  func(r rune) bool { return r < 32 || r == 127 },
	"digit":  func(r rune) bool { return r >= '0' && r <= '9' },
	"graph":  func(r rune) bool { return r > 32 && r < 127 },
	"lower":  func(r rune) bool { return r >= 'a' && r <= 'z' },
	"print":  func(r rune) bool { return r >= 32 && r < 127 },
	"punct":  func(r rune) bool { return r > 32 && r < 127 && !unicode.IsLetter(r) && !unicode.IsDigit(r) },
	"space":  func(r rune) bool { return r == ' ' || (r >= '\t' && r <= '\r') },
	"upper":  func(r rune) bool { return r >= 'A' && r <= 'Z' },
	"xdigit": func(r rune) bool { return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' },
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_'
}

// classOf is the character class of the bytes in (or, negated, not in)
// the set, as Latin-1 runes; an empty class never matches.
func classOf(in func(byte) bool, negate bool) *syntax.Regexp {
	var ranges []rune
	for b := 0; b < 256; b++ {
		if in(byte(b)) == negate {
			continue
		}
		if n := len(ranges); n > 0 && ranges[n-1] == rune(b-1) {
			ranges[n-1] = rune(b)
			continue
		}
		ranges = append(ranges, rune(b), rune(b))
	}
	if len(ranges) == 0 {
		return &syntax.Regexp{Op: syntax.OpNoMatch}
	}
	return &syntax.Regexp{Op: syntax.OpCharClass, Rune: ranges}
}

// latin1 turns runes 0-255 back into the bytes they stand for.
func latin1(rs []rune) string {
	b := make([]byte, len(rs))
	for i, r := range rs {
		b[i] = byte(r)
	}
	return string(b)
}
