package checker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/watchpost/watchpost/config"
)

// maxPluginOutput bounds what is kept of a plugin's output; Nagios itself
// keeps 8 KiB.
const maxPluginOutput = 64 << 10

var stateNames = []string{"ok", "warning", "critical", "unknown"}

// compileCmd reads the target as an absolute program path and its
// arguments, split as a shell would split words (quotes, backslashes) but
// with no shell: nothing is expanded.
func compileCmd(p *Probe, c config.Check) error {
	argv, err := SplitWords(c.Target)
	if err != nil {
		return err
	}
	if len(argv) == 0 || !filepath.IsAbs(argv[0]) {
		return fmt.Errorf("cmd target %q: want an absolute program path and its arguments", c.Target)
	}
	p.argv = argv
	return nil
}

// SplitWords splits a command line into words: whitespace separates,
// '...' is literal, "..." allows \" and \\, a backslash outside quotes
// escapes the next character.
func SplitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated ' in command")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated \" in command")
			}
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// limitedBuffer keeps the first max bytes and drops the rest, so a
// plugin that prints forever cannot eat the loghost's memory.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func runCmd(ctx context.Context, p *Probe, v map[string]any) error {
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	// The plugin's own children (check_by_ssh's ssh, a shell's pipes) go
	// with it on timeout: kill the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin = nil
	stdout := &limitedBuffer{max: maxPluginOutput}
	stderr := &limitedBuffer{max: maxPluginOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	v["response_time"] = time.Since(start)
	out := stdout.buf.String()
	if strings.TrimSpace(out) == "" {
		out = stderr.buf.String()
	}
	text, perf := ParsePluginOutput(out)
	v["output"] = text
	if perf != "" {
		v["perfdata"] = perf
		for _, pd := range ParsePerfdata(perf) {
			v["perfdata."+pd.Label] = pd.Value
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", filepath.Base(p.argv[0]), ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		v["exit_code"] = 0
	case errors.As(err, &ee) && ee.Exited():
		v["exit_code"] = ee.ExitCode()
	default:
		return fmt.Errorf("run %s: %w", filepath.Base(p.argv[0]), err)
	}
	code := v["exit_code"].(int)
	if code >= 0 && code < len(stateNames) {
		v["state"] = stateNames[code]
	} else {
		v["state"] = "unknown"
	}
	return nil
}

// ParsePluginOutput splits a Nagios plugin's output into its first line of
// text and all its performance data: the part after | on the first line
// and every line after a | in the long output.
func ParsePluginOutput(out string) (text, perf string) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	first := lines[0]
	var perfs []string
	if i := strings.IndexByte(first, '|'); i >= 0 {
		perfs = append(perfs, strings.TrimSpace(first[i+1:]))
		first = first[:i]
	}
	inPerf := false
	for _, l := range lines[1:] {
		if !inPerf {
			i := strings.IndexByte(l, '|')
			if i < 0 {
				continue
			}
			inPerf = true
			l = l[i+1:]
		}
		if l = strings.TrimSpace(l); l != "" {
			perfs = append(perfs, l)
		}
	}
	return strings.TrimSpace(first), strings.TrimSpace(strings.Join(perfs, " "))
}

// Perfdatum is one performance value: 'label'=value[UOM];warn;crit;min;max.
type Perfdatum struct {
	Label string
	Value float64
	Unit  string
	Warn  string
	Crit  string
	Min   string
	Max   string
}

// ParsePerfdata reads performance data; malformed items are skipped, as
// Nagios does, rather than failing the whole line.
func ParsePerfdata(s string) []Perfdatum {
	var out []Perfdatum
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		var label string
		if s[0] == '\'' {
			// A quoted label; '' is a quote inside it.
			var b strings.Builder
			i := 1
			for i < len(s) {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					break
				}
				b.WriteByte(s[i])
				i++
			}
			label = b.String()
			if i >= len(s) {
				return out
			}
			s = s[i+1:]
		} else {
			i := strings.IndexAny(s, "= ")
			if i < 0 {
				return out
			}
			label, s = s[:i], s[i:]
		}
		if s == "" || s[0] != '=' {
			// No value: skip to the next item.
			if i := strings.IndexByte(s, ' '); i >= 0 {
				s = s[i:]
				continue
			}
			return out
		}
		s = s[1:]
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			end = len(s)
		}
		item := s[:end]
		s = s[end:]
		fields := strings.Split(item, ";")
		num, unit := splitUnit(fields[0])
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || label == "" {
			continue
		}
		pd := Perfdatum{Label: label, Value: f, Unit: unit}
		for i, dst := range []*string{&pd.Warn, &pd.Crit, &pd.Min, &pd.Max} {
			if i+1 < len(fields) {
				*dst = fields[i+1]
			}
		}
		out = append(out, pd)
	}
	return out
}

func splitUnit(v string) (string, string) {
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.' || v[i] == '-' || v[i] == '+' || v[i] == 'e' || v[i] == 'E') {
		i++
	}
	// An exponent letter followed by no digit belongs to the unit.
	for i > 0 && (v[i-1] == 'e' || v[i-1] == 'E') {
		i--
	}
	return v[:i], v[i:]
}
