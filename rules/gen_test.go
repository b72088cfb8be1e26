package rules

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The generators of the differential tests (diff_test.go): realistic rule
// files and logs whose keys repeat, and EREs over a small alphabet. Output
// of children is recognisable by its first bytes — X: exec, P: pipe,
// R: report — and compares as sorted lines; the rest is echo output and
// compares in order.

const (
	genPrintf = "/usr/bin/printf"
	genSed    = "/usr/bin/sed"
)

// diffCase is one generated case: a rule file, a log, and whether both
// programs run with -t (contexts with a timeout fire at end of input).
type diffCase struct {
	Conf string
	Log  string
	Fire bool
}

type gen struct {
	r *rand.Rand
	// benign: substituted data is plain words, so the safe defaults
	// (one argument per value, escaped regexes) change nothing.
	benign bool
}

func (g *gen) n(k int) int           { return g.r.IntN(k) }
func (g *gen) chance(p float64) bool { return g.r.Float64() < p }
func pick[T any](g *gen, xs ...T) T  { return xs[g.r.IntN(len(xs))] }

// Log data. Keys come from small pools so that contexts collect, stop
// rules fire and dynamic rules meet their lines.
var (
	genIPs    = []string{"10.0.0.1", "10.0.0.2", "10.0.0.23", "192.0.2.7", "10.0.0.10"}
	genUsers  = []string{"root", "admin", "alice", "bob", "git"}
	genUsersX = []string{"élise", "o'brien", "a b", "$2", "x\\y", "[x]", "*", "\"q\"", "", "\xe9t\xe9"}
	genQIDs   = []string{"ABC12", "DEF34", "1F2E3", "C0FFE"}
	genPIDs   = []int{101, 102, 1103, 77}
)

func (g *gen) user() string {
	if !g.benign && g.chance(0.3) {
		return pick(g, genUsersX...)
	}
	return pick(g, genUsers...)
}

func (g *gen) logLine(i int) string {
	ts := fmt.Sprintf("Nov %2d 10:%02d:%02d", 1+g.n(12), i/60%60, i%60)
	ip, qid, pid := pick(g, genIPs...), pick(g, genQIDs...), pick(g, genPIDs...)
	switch g.n(16) {
	case 0, 1, 2:
		inv := ""
		if g.chance(0.3) {
			inv = "invalid user "
		}
		return fmt.Sprintf("%s web1 sshd[%d]: Failed password for %s%s from %s port %d ssh2", ts, pid, inv, g.user(), ip, 1024+g.n(50000))
	case 3:
		return fmt.Sprintf("%s web1 sshd[%d]: Accepted %s for %s from %s port %d ssh2", ts, pid, pick(g, "password", "publickey"), g.user(), ip, 1024+g.n(50000))
	case 4:
		return fmt.Sprintf("%s mx postfix/smtpd[%d]: %s: client=mail%d.example.org[%s]", ts, pid, qid, g.n(3), ip)
	case 5:
		return fmt.Sprintf("%s mx postfix/qmgr[%d]: %s: from=<%s@example.org>, size=%d, nrcpt=1 (queue active)", ts, pid, qid, g.user(), 100+g.n(9000))
	case 6:
		return fmt.Sprintf("%s mx postfix/smtp[%d]: %s: to=<%s@example.net>, relay=mx.example.net[%s]:25, status=%s (250 2.0.0 Ok)", ts, pid, qid, g.user(), ip, pick(g, "sent", "deferred", "bounced"))
	case 7:
		return fmt.Sprintf("%s mx postfix/qmgr[%d]: %s: removed", ts, pid, qid)
	case 8:
		return fmt.Sprintf("%s web1 kernel: [%d.%03d] eth%d: link %s", ts, g.n(9999), g.n(1000), g.n(2), pick(g, "up", "down"))
	case 9:
		return fmt.Sprintf("%s web1 CRON[%d]: (%s) CMD (%s)", ts, pid, g.user(), pick(g, "run-parts /etc/cron.hourly", `echo "hi" | mail -s 'x y' root`, "test -x /x && /x $HOME", "a  b\tc"))
	case 10:
		if g.benign {
			return fmt.Sprintf("%s web1 app[%d]: state %s user %s", ts, pid, pick(g, "ok", "warn", "fail"), g.user())
		}
		return fmt.Sprintf("%s web1 app[%d]: %s", ts, pid, pick(g, `msg "quoted" and 'single' and back\slash`, "star * plus + q? (paren) {2} ^caret $9 $lines", "dollar $0 $1 $10 end", "tab\there", "utf8 élise ünïcode", "latin1 \xe9\xe8 bytes", "nul\x00byte", "   leading and trailing   "))
	case 11:
		if g.chance(0.3) && !g.benign {
			return pick(g, "", " ", "x", "\t")
		}
		return fmt.Sprintf("%s web1 sshd[%d]: Connection closed by %s port %d [preauth]", ts, pid, ip, 1024+g.n(50000))
	case 12:
		return fmt.Sprintf("%s web1 sshd[%d]: session %s for user %s", ts, pid, pick(g, "opened", "closed"), g.user())
	case 13:
		return fmt.Sprintf("%s web1 ftpd[%d]: %s", ts, pid, pick(g, "connection from "+ip, "USER "+g.user(), "cmd failure", "QUIT", "RETR /pub/file.txt", "FTP session closed"))
	default:
		return fmt.Sprintf("%s web1 sshd[%d]: pam_unix(sshd:session): session closed for user %s", ts, pid, g.user())
	}
}

// A family is a kind of line with a key that lines share: a rule with
// its match regex and the group holding the key, and context names built
// from the key.
type family struct {
	match string // the regex, unquoted
	key   int    // $k of the key
	names []string
	close string // a regex for the line that ends a key's story
}

var families = []family{
	{match: `sshd\[[0-9]+\]: (Failed|Accepted) [a-z]+ for (invalid user )?(.*) from ([0-9.]+) port`, key: 5,
		names: []string{"from $K port", "$K", "from $K "}, close: `Connection closed by ([0-9.]+)`},
	{match: `postfix/(smtpd|qmgr|smtp)\[[0-9]+\]: ([A-F0-9]+): `, key: 3,
		names: []string{"$K: ", "\\\\]: $K"}, close: `: ([A-F0-9]+): removed`},
	{match: `(sshd|ftpd|CRON|app)\[([0-9]+)\]`, key: 3,
		names: []string{"\\\\[$K\\\\]", "[[]$K[]]"}, close: `ftpd\[([0-9]+)\]: (QUIT|FTP session closed)`},
	{match: `session (opened|closed) for user ([^ ]+)`, key: 3,
		names: []string{"user $K", "for user $K$"}, close: `session closed for user ([a-z]+)`},
}

// Static regexes of the noise rules, unquoted.
var noiseRegexes = []string{
	`.`, `.*`, `^Nov  2 `, `kernel: \[([0-9]+)\.([0-9]+)\] (eth[0-9]): link (up|down)`,
	`\<(root|admin)\>`, `\bport\b`, `[[:digit:]]+\.[[:digit:]]+`, `(a|ab)(c|bcd)(d*)`,
	`CMD \((.*)\)$`, `user (.)`, `for (.{0,6})`, `status=(sent|deferred)`, `to=<([^@>]+)@`,
	`([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+)\[([0-9]+)\]: (.*)$`, `^([A-Z][a-z]{2}) +([0-9]+) ([0-9:]+)`,
	`(quoted|single|back)`, `\$[0-9]`, `[*+?]`, `\\`, `'`, `"`, `é`, `\W+`, `\w+$`, `x?y*z`,
	`(([a-z]+)@)?example\.(org|net)`, `relay=([^,]+),`, `^$`, `Accepted (password|publickey) for ([^ ]+)`,
}

func (g *gen) keyword(k string) string {
	switch g.n(6) {
	case 0:
		return strings.ToUpper(k)
	case 1:
		return strings.ToUpper(k[:1]) + k[1:]
	}
	return k
}

// quoteField writes a regex as a rule-file field in one of the three
// styles (single quotes, double quotes, a bare word) when the regex
// allows it.
func (g *gen) quoteField(re string) string {
	style := g.n(20)
	switch {
	case style < 12 && !strings.Contains(re, "'"):
		return "'" + re + "'"
	case style < 15 && re != "" && !strings.ContainsAny(re, " \t'\"#$") && re[0] != '-':
		return strings.ReplaceAll(re, `\`, `\\`)
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(re) + `"`
}

// text is an action's text: words, variables and a few specials.
func (g *gen) text(vars int, ctx bool) string {
	var parts []string
	parts = append(parts, pick(g, "E", "got", "seen", "ALERT"))
	for range 1 + g.n(4) {
		switch g.n(8) {
		case 0, 1, 2:
			parts = append(parts, fmt.Sprintf("$%d", g.n(vars+2)))
		case 3:
			parts = append(parts, pick(g, "[$2]", "<$1>", "$10", "$$2", "x$3y"))
		case 4:
			if ctx {
				parts = append(parts, pick(g, "$lines", "\\$lines", "n=$lines"))
			} else {
				parts = append(parts, pick(g, "a", "b"))
			}
		default:
			parts = append(parts, pick(g, "word", "two  spaces", "q'uote", "é", "*", "--"))
		}
	}
	return strings.Join(parts, " ")
}

// quoteText writes an action text as one token.
func (g *gen) quoteText(s string) string {
	switch {
	case g.chance(0.2) && !strings.Contains(s, "'"):
		return "'" + s + "'"
	case g.chance(0.1) && !strings.ContainsAny(s, " \t'\""):
		return strings.ReplaceAll(s, `\`, `\\`)
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// command is an exec/pipe/report command line (one token).
func (g *gen) command(kind string, vars int) string {
	switch kind {
	case "exec":
		args := []string{}
		for range 1 + g.n(3) {
			if g.benign {
				// Values with spaces would be one argument here, several
				// in logsurfer: the safe default, not compared.
				args = append(args, pick(g, "lit", "'two words'", "$lines"))
				continue
			}
			args = append(args, pick(g, fmt.Sprintf("$%d", g.n(vars+2)), "lit", "'two words'", "$lines"))
		}
		return `"` + genPrintf + ` 'X:[%s]\\n' ` + strings.Join(args, " ") + `"`
	case "pipe":
		return `"` + genSed + ` s/^/P:/"`
	}
	return `"` + genSed + ` s/^/R:/"`
}

func (g *gen) name(f family) string {
	n := strings.ReplaceAll(pick(g, f.names...), "K", fmt.Sprint(f.key))
	return `"` + n + `"`
}

// action returns an action for a rule whose match has vars groups.
func (g *gen) action(f *family, vars int, depth int) string {
	kinds := []string{"echo", "echo", "echo", "ignore", "exec", "pipe"}
	if f != nil {
		kinds = append(kinds, "open", "open", "open", "delete", "report", "rule")
	}
	kind := pick(g, kinds...)
	if kind == "rule" && depth > 0 {
		kind = "echo"
	}
	kw := g.keyword(kind)
	switch kind {
	case "echo":
		return kw + " " + g.quoteText(g.text(vars, false))
	case "ignore":
		return kw
	case "exec", "pipe":
		return kw + " " + g.command(kind, vars)
	case "open":
		def := g.name(*f) + " "
		if g.chance(0.3) {
			def += pick(g, "'closed'", "'invalid user'", "removed") + " "
		} else {
			def += "- "
		}
		def += fmt.Sprintf("%d %d %d ", pick(g, 0, 1, 2, 3, 5), pick(g, 0, 0, 3600), pick(g, 0, 0, 3600))
		if g.chance(0.3) {
			def += fmt.Sprintf("%d ", 1+g.n(4))
		}
		switch g.n(6) {
		case 0:
			def += g.keyword("ignore")
		case 1:
			def += g.keyword("echo") + " " + g.quoteText(g.text(vars, true))
		case 2:
			def += g.keyword("exec") + " " + g.command("exec", vars)
		case 3:
			def += g.keyword("pipe") + " " + g.command("pipe", vars)
		default:
			def += g.keyword("report") + " " + g.command("report", vars) + " -"
			if g.chance(0.3) {
				def += " " + g.name(*f)
			}
		}
		return kw + " " + def
	case "delete":
		return kw + " " + g.name(*f)
	case "report":
		s := kw + " " + g.command("report", vars) + " " + g.name(*f)
		if g.chance(0.2) {
			s += " " + g.name(families[g.n(len(families))])
		}
		return s
	}
	// rule: a new rule about this key, its action filled in later from
	// its own match (hence the group around the key).
	where := pick(g, "before", "behind", "top", "bottom")
	k := fmt.Sprintf("$%d", f.key)
	re := pick(g, `"\\[?($K)\\]?"`, `"from ($K) port"`, `"($K): removed"`, `"user ($K)"`, `"($K)"`)
	re = strings.ReplaceAll(re, "$K", k)
	stop := "-"
	if g.chance(0.5) {
		stop = pick(g, `'.*'`, `'removed'`, `"QUIT"`, re)
	}
	return fmt.Sprintf("%s %s %s - %s - 0 %s", kw, where, re, stop, g.action(nil, 1, depth+1))
}

func countGroups(re string) int {
	n := 0
	for i := 0; i < len(re); i++ {
		if re[i] == '\\' {
			i++
			continue
		}
		if re[i] == '(' {
			n++
		}
	}
	return n
}

func (g *gen) rule() string {
	var f *family
	var re string
	if g.chance(0.6) {
		ff := families[g.n(len(families))]
		f = &ff
		re = f.match
		if g.chance(0.3) {
			re = f.close
			ff.key = 2
		}
	} else {
		re = pick(g, noiseRegexes...)
	}
	vars := countGroups(re) + 1
	fields := []string{g.quoteField(re)}
	if g.chance(0.2) {
		fields = append(fields, g.quoteField(pick(g, "root", "invalid", "qmgr", "[0-9]{4}")))
	} else {
		fields = append(fields, "-")
	}
	if g.chance(0.15) {
		fields = append(fields, g.quoteField(pick(g, "removed", "QUIT", "closed", "deferred")))
		if g.chance(0.5) {
			fields = append(fields, g.quoteField(pick(g, "bob", "10\\.0\\.0\\.1")))
		} else {
			fields = append(fields, "-")
		}
	} else {
		fields = append(fields, "-", "-")
	}
	fields = append(fields, "0")
	if g.chance(0.4) {
		fields = append(fields, g.keyword("continue"))
	}
	line := strings.Join(fields, " ")
	act := g.action(f, vars, 0)
	if g.chance(0.3) {
		return line + "\n" + pick(g, "\t", "    ", " ") + act
	}
	return line + " " + act
}

func (g *gen) ruleCase() diffCase {
	var conf strings.Builder
	if g.chance(0.3) {
		conf.WriteString("# generated\n")
	}
	for range 2 + g.n(7) {
		conf.WriteString(g.rule())
		conf.WriteString("\n")
		if g.chance(0.15) {
			conf.WriteString(pick(g, "\n", "# a comment\n"))
		}
	}
	if g.chance(0.5) {
		conf.WriteString("'.' - - - 0 echo \"rest: $0\"\n")
	}
	var log strings.Builder
	for i := range 10 + g.n(50) {
		log.WriteString(g.logLine(i))
		log.WriteByte('\n')
	}
	return diffCase{Conf: conf.String(), Log: log.String(), Fire: g.chance(0.3)}
}

// regexCase is a random ERE over a small alphabet with its groups echoed,
// and short lines over the same alphabet.
func (g *gen) regexCase() diffCase {
	var conf strings.Builder
	for range 1 + g.n(3) {
		re := g.ere(0)
		if strings.Contains(re, "'") {
			continue
		}
		n := countGroups(re)
		var echo strings.Builder
		echo.WriteString("M")
		for k := 1; k <= n+1 && k <= 9; k++ {
			fmt.Fprintf(&echo, " [$%d]", k)
		}
		fmt.Fprintf(&conf, "'%s' - - - 0 continue echo \"%s\"\n", re, echo.String())
	}
	conf.WriteString("'.' - - - 0 echo \"-\"\n")
	var log strings.Builder
	for range 8 + g.n(8) {
		n := g.n(9)
		for range n {
			log.WriteString(pick(g, "a", "a", "b", "b", "c", "x", " ", "-", "_", "é", "\xe9", "ab", "1", "."))
		}
		log.WriteString("\n")
	}
	return diffCase{Conf: conf.String(), Log: log.String()}
}

// ere makes a random extended regex: atoms, groups, alternation, the
// repetition operators, intervals, anchors, word operators and bracket
// expressions, over a, b, c, x and a few specials.
func (g *gen) ere(depth int) string {
	var b strings.Builder
	n := 1 + g.n(4)
	for i := range n {
		if i > 0 && depth < 3 && g.chance(0.1) {
			b.WriteString("|")
		}
		b.WriteString(g.ereAtom(depth))
		if g.chance(0.35) {
			b.WriteString(pick(g, "*", "+", "?", "{2}", "{1,2}", "{0,1}", "{,2}", "{2,}", "*?", "+*", "{1001}", "{0}"))
		}
	}
	return b.String()
}

func (g *gen) ereAtom(depth int) string {
	switch g.n(14) {
	case 0, 1, 2, 3:
		return pick(g, "a", "b", "c", "x", "ab", " ", "é")
	case 4:
		return "."
	case 5, 6:
		if depth < 3 {
			return "(" + g.ere(depth+1) + ")"
		}
		return "a"
	case 7:
		return pick(g, "[ab]", "[^a]", "[^ ]", "[a-c]", "[c-a]", "[]a]", "[^]a]", "[a-]", "[[:alpha:]]", "[[:space:]x]", "[\\]", "[.]", "[é]", "[^é]")
	case 8:
		return pick(g, "\\w", "\\W", "\\<", "\\>", "\\b", "\\B", "\\`", "\\'")
	case 9:
		return pick(g, "^", "$")
	case 10:
		if depth < 3 {
			return "(" + g.ere(depth+1) + "|" + g.ere(depth+1) + ")"
		}
		return "b"
	case 11:
		return pick(g, "\\.", "\\*", "\\(", "\\{", "{", "}", "\\d", "\\s")
	case 12:
		if depth < 3 {
			return "(" + pick(g, "", "|a", "a|", "a|b|") + ")"
		}
		return "c"
	}
	return pick(g, "-", "_", "1")
}
