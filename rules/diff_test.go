package rules

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// The differential tests run generated rule files and logs through the
// real logsurfer 1.8 and through `rules test -exec`, and compare: echo
// output in order, children's output (X:, P:, R: lines) as sorted lines.
// A difference is shrunk to a minimal case and printed (and written to
// -rules.keep), to be kept as an oracle under testdata/oracles.
//
// scripts/rules-difftest.sh runs them longer.
var (
	diffCases   = flag.Int("rules.diff", 150, "generated rule files compared with logsurfer 1.8")
	diffREs     = flag.Int("rules.diffre", 400, "generated regex cases compared with logsurfer 1.8")
	diffSeed    = flag.Uint64("rules.seed", 1, "seed of the differential tests' generators")
	diffKeep    = flag.String("rules.keep", "", "folder to write shrunk differences to")
	diffShow    = flag.Int("rules.show", 3, "differences shrunk and shown")
	diffTimeout = flag.Duration("rules.timeout", 30*time.Second, "how long logsurfer may take for one case")
)

// errHang is logsurfer not finishing: GNU regex 0.12 backtracks without
// end on some patterns (a known difference: our matchers take linear
// time).
var errHang = errors.New("logsurfer did not finish")

const compatLine = "#!watchpost compat unsafe-substitution\n"

type diffResult struct {
	out string
	rc  int
}

// runLogsurfer runs the real logsurfer over c. Its stdout is a pipe, read
// until every child has closed it too.
func runLogsurfer(bin string, c diffCase) (diffResult, error) {
	dir, err := os.MkdirTemp("", "lsdiff")
	if err != nil {
		return diffResult{}, err
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "c.conf"), []byte(c.Conf), 0o644)
	os.WriteFile(filepath.Join(dir, "c.log"), []byte(c.Log), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), *diffTimeout)
	defer cancel()
	args := []string{"-c", "c.conf"}
	if c.Fire {
		args = append(args, "-t")
	}
	args = append(args, "c.log")
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	err = cmd.Run()
	rc := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if ctx.Err() != nil {
			return diffResult{}, errHang
		}
		if !ok {
			return diffResult{}, fmt.Errorf("logsurfer: %v", err)
		}
		rc = ee.ExitCode()
	}
	return diffResult{out: out.String(), rc: rc}, nil
}

// runOurs runs `rules test -exec` in this process, its stdout a file as
// a user's would be.
func runOurs(c diffCase, compat bool) (diffResult, string, error) {
	dir, err := os.MkdirTemp("", "wpdiff")
	if err != nil {
		return diffResult{}, "", err
	}
	defer os.RemoveAll(dir)
	conf := c.Conf
	if compat {
		conf = compatLine + conf
	}
	os.WriteFile(filepath.Join(dir, "c.conf"), []byte(conf), 0o644)
	os.WriteFile(filepath.Join(dir, "c.log"), []byte(c.Log), 0o644)
	f, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		return diffResult{}, "", err
	}
	defer f.Close()
	var stderr bytes.Buffer
	args := []string{"test", "-exec"}
	if c.Fire {
		args = append(args, "-t")
	}
	args = append(args, "-rules", filepath.Join(dir, "c.conf"), filepath.Join(dir, "c.log"))
	rc := Main(context.Background(), args, f, &stderr)
	out, err := os.ReadFile(f.Name())
	if err != nil {
		return diffResult{}, "", err
	}
	if rc != 0 {
		rc = 1
	}
	return diffResult{out: string(out), rc: rc}, stderr.String(), nil
}

// normalise splits output into echo lines (in order) and children's lines
// (sorted).
func normalise(out string) (echo, children []string) {
	for _, l := range strings.SplitAfter(out, "\n") {
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "X:") || strings.HasPrefix(l, "P:") || strings.HasPrefix(l, "R:") {
			children = append(children, l)
		} else {
			echo = append(echo, l)
		}
	}
	slices.Sort(children)
	return echo, children
}

func sameOutput(a, b diffResult) bool {
	if (a.rc == 0) != (b.rc == 0) {
		return false
	}
	ea, ca := normalise(a.out)
	eb, cb := normalise(b.out)
	return slices.Equal(ea, eb) && slices.Equal(ca, cb)
}

// differ runs c through both programs and reports whether they differ.
type differ struct {
	bin    string
	compat bool
}

func (d differ) differs(c diffCase) (bool, diffResult, diffResult, string, error) {
	want, err := runLogsurfer(d.bin, c)
	if err != nil {
		return false, want, diffResult{}, "", err
	}
	got, stderr, err := runOurs(c, d.compat)
	if err != nil {
		return false, want, got, stderr, err
	}
	return !sameOutput(want, got), want, got, stderr, nil
}

// shrink removes rules and log lines while the case still differs.
func (d differ) shrink(c diffCase, budget int, known func(diffCase) string) diffCase {
	still := func(x diffCase) bool {
		if budget <= 0 || known(x) != "" {
			return false
		}
		budget--
		bad, _, _, _, err := d.differs(x)
		return err == nil && bad
	}
	// Rules: logical lines (a line and its continuation lines).
	var rules []string
	for _, l := range strings.SplitAfter(c.Conf, "\n") {
		if l == "" {
			continue
		}
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(rules) > 0 {
			rules[len(rules)-1] += l
			continue
		}
		rules = append(rules, l)
	}
	for i := 0; i < len(rules); {
		try := slices.Delete(slices.Clone(rules), i, i+1)
		x := c
		x.Conf = strings.Join(try, "")
		if still(x) {
			rules, c = try, x
			continue
		}
		i++
	}
	// Each rule's regex, a byte at a time (the regex cases).
	for r := range rules {
		l := rules[r]
		if !strings.HasPrefix(l, "'") {
			continue
		}
		end := strings.Index(l[1:], "'") + 1
		for i := 1; i < end; {
			try := slices.Clone(rules)
			try[r] = l[:i] + l[i+1:]
			x := c
			x.Conf = strings.Join(try, "")
			if still(x) {
				rules, c, l = try, x, try[r]
				end--
				continue
			}
			i++
		}
	}
	lines := strings.SplitAfter(c.Log, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for chunk := len(lines) / 2; chunk >= 1; chunk /= 2 {
		for i := 0; i+chunk <= len(lines); {
			try := slices.Delete(slices.Clone(lines), i, i+chunk)
			x := c
			x.Log = strings.Join(try, "")
			if len(try) > 0 && still(x) {
				lines, c = try, x
				continue
			}
			i += chunk
		}
	}
	if c.Fire {
		x := c
		x.Fire = false
		if still(x) {
			c = x
		}
	}
	return c
}

// runDiff runs n generated cases (in parallel: logsurfer spends most of
// its time waiting for its children) and reports the first differences,
// shrunk.
func runDiff(t *testing.T, n int, mk func(g *gen, i int) (diffCase, bool), known func(diffCase) string) {
	bin := peers.Logsurfer(t, true)
	for _, p := range []string{genPrintf, genSed} {
		peers.Require(t, p)
	}
	var (
		mu         sync.Mutex
		failures   int
		wg         sync.WaitGroup
		knownDiffs = map[string]int{}
	)
	next := make(chan int)
	workers := 8
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				g := &gen{r: rand.New(rand.NewPCG(*diffSeed, uint64(i)))}
				c, benign := mk(g, i)
				modes := []bool{true}
				if benign {
					modes = append(modes, false)
				}
				for _, compat := range modes {
					d := differ{bin: bin, compat: compat}
					bad, want, got, stderr, err := d.differs(c)
					if errors.Is(err, errHang) {
						t.Logf("case %d: logsurfer did not finish (GNU regex backtracking):\n%s", i, c.Conf)
						mu.Lock()
						knownDiffs["logsurfer did not finish"]++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Errorf("case %d: %v", i, err)
						continue
					}
					if !bad {
						continue
					}
					if why := known(c); why != "" {
						mu.Lock()
						knownDiffs[why]++
						mu.Unlock()
						continue
					}
					// Once in a few thousand cases on a loaded machine a
					// difference does not come again: it is only counted
					// and shown, as a run that fails must fail every time.
					if again, _, _, _, err := d.differs(c); err == nil && !again {
						t.Logf("case %d (compat=%v) differed once and not again:\n%s--- logsurfer\n%s--- watchpost\n%s", i, compat, c.Conf, want.out, got.out)
						mu.Lock()
						knownDiffs["did not differ again"]++
						mu.Unlock()
						continue
					}
					mu.Lock()
					failures++
					first := failures <= *diffShow
					mu.Unlock()
					if !first {
						t.Errorf("case %d (compat=%v) differs (not shrunk: -rules.show already shown)", i, compat)
						continue
					}
					small := d.shrink(c, 300, known)
					_, want, got, stderr, _ = d.differs(small)
					mode := "safe"
					if compat {
						mode = "compat"
					}
					t.Errorf("case %d differs from logsurfer 1.8 (%s mode, -t=%v), shrunk:\n--- rules\n%s--- log\n%q\n--- logsurfer (rc %d)\n%s--- watchpost (rc %d)\n%s--- stderr\n%s",
						i, mode, small.Fire, small.Conf, small.Log, want.rc, want.out, got.rc, got.out, stderr)
					if *diffKeep != "" {
						base := filepath.Join(*diffKeep, fmt.Sprintf("seed%d-case%d-%s", *diffSeed, i, mode))
						os.MkdirAll(*diffKeep, 0o755)
						conf := small.Conf
						if compat {
							conf = compatLine + conf
						}
						os.WriteFile(base+".conf", []byte(conf), 0o644)
						os.WriteFile(base+".log", []byte(small.Log), 0o644)
						os.WriteFile(base+".out", []byte(want.out), 0o644)
					}
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Logf("%d cases, %d differences (seed %d); known differences listed in the README: %v", n, failures, *diffSeed, knownDiffs)
}

// TestDifferentialRules compares generated rule files: contexts, dynamic
// rules, reports, pipes, execs, quoting, continuation lines.
func TestDifferentialRules(t *testing.T) {
	runDiff(t, *diffCases, func(g *gen, i int) (diffCase, bool) {
		g.benign = i%3 == 0
		return g.ruleCase(), g.benign
	}, func(diffCase) string { return "" })
}

// TestDifferentialRegex compares random EREs, their groups echoed.
func TestDifferentialRegex(t *testing.T) {
	runDiff(t, *diffREs, func(g *gen, i int) (diffCase, bool) {
		return g.regexCase(), false
	}, func(c diffCase) string {
		for _, l := range strings.Split(c.Conf, "\n") {
			if strings.HasPrefix(l, "'") {
				if why := knownGNUDifference(l[1 : strings.Index(l[1:], "'")+1]); why != "" {
					return why
				}
			}
		}
		return ""
	})
}

// knownGNUDifference names the README's known difference a regex falls
// under ("" for none): GNU regex 0.12 bugs Watchpost does not copy.
func knownGNUDifference(src string) string {
	t, err := (&ereParser{src: src, goOK: true}).parse()
	if err != nil {
		if strings.Contains(err.Error(), "too large") {
			return "repetitions expanding to over 50,000 steps are refused"
		}
		return ""
	}
	if t.Op == syntax.OpAlternate {
		return "top-level alternation: a later, longer alternative loses"
	}
	var why string
	var walk func(t *syntax.Regexp, inAlt bool)
	walk = func(t *syntax.Regexp, inAlt bool) {
		switch t.Op {
		case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
			if nullable(t.Sub[0]) && why == "" {
				why = "a repetition of something that can match the empty string"
			}
			lo, hi := lengths(t.Sub[0])
			if lo != hi && (t.Op != syntax.OpQuest && !(t.Op == syntax.OpRepeat && t.Max == 1)) && why == "" {
				why = "a loop over something of varying length stops short"
			}
		case syntax.OpCapture:
			if inAlt && why == "" {
				why = "a group in an alternative that failed keeps its text"
			}
		case syntax.OpAlternate:
			inAlt = true
		}
		for _, s := range t.Sub {
			walk(s, inAlt)
		}
	}
	walk(t, false)
	return why
}

func nullable(t *syntax.Regexp) bool {
	switch t.Op {
	case syntax.OpLiteral:
		return len(t.Rune) == 0
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL, syntax.OpNoMatch:
		return false
	case syntax.OpCapture, syntax.OpPlus:
		return nullable(t.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		return true
	case syntax.OpRepeat:
		return t.Min == 0 || nullable(t.Sub[0])
	case syntax.OpConcat:
		for _, s := range t.Sub {
			if !nullable(s) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, s := range t.Sub {
			if nullable(s) {
				return true
			}
		}
		return false
	}
	return true // empty match, anchors, word operators
}

// lengths are the shortest and longest strings t matches (-1: no limit).
func lengths(t *syntax.Regexp) (int, int) {
	switch t.Op {
	case syntax.OpLiteral:
		return len(t.Rune), len(t.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1, 1
	case syntax.OpCapture:
		return lengths(t.Sub[0])
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := lengths(t.Sub[0])
		min, max := 0, 1
		switch t.Op {
		case syntax.OpStar:
			max = -1
		case syntax.OpPlus:
			min, max = 1, -1
		case syntax.OpRepeat:
			min, max = t.Min, t.Max
		}
		l := lo * min
		if max < 0 || hi < 0 {
			if hi == 0 || max == 0 {
				return l, 0
			}
			return l, -1
		}
		return l, hi * max
	case syntax.OpConcat:
		lo, hi := 0, 0
		for _, s := range t.Sub {
			a, b := lengths(s)
			lo += a
			if hi >= 0 {
				if b < 0 {
					hi = -1
				} else {
					hi += b
				}
			}
		}
		return lo, hi
	case syntax.OpAlternate:
		lo, hi := -1, 0
		for _, s := range t.Sub {
			a, b := lengths(s)
			if lo < 0 || a < lo {
				lo = a
			}
			if hi >= 0 && (b < 0 || b > hi) {
				hi = b
			}
		}
		return lo, hi
	}
	return 0, 0
}
