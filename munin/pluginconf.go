package munin

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PluginConfig is what plugin-conf.d says about one plugin. Nil or empty
// means "not said" (the runner's defaults apply).
type PluginConfig struct {
	User       *string           // user NAME|UID
	Groups     []string          // group a, (b): "(b)" is optional
	Command    []string          // command ... %c ...
	Timeout    time.Duration     // timeout SECONDS; 0 unset
	HostName   string            // host_name
	UpdateRate string            // update_rate (kept, unused by munin-node)
	Env        map[string]string // env.NAME value
	timeoutSet bool
}

// PluginConf is a parsed plugin-conf.d directory: sections by name as
// written, wildcards included; For applies munin-node 2.0's precedence.
type PluginConf struct {
	sections map[string]*PluginConfig
}

// DefaultIgnores are the ignore_file patterns of Debian's munin-node.conf
// plus munin's own hidden-file rule; they apply to plugin-conf.d files and
// to plugins alike.
var defaultIgnores = []string{`[\#~]$`, `DEADJOE$`, `\.bak$`, `%$`, `\.dpkg-(tmp|new|old|dist)$`, `\.rpm(save|new)$`, `\.pod$`}

// DefaultIgnores returns Debian's ignore_file patterns, compiled.
func DefaultIgnores() []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(defaultIgnores))
	for i, s := range defaultIgnores {
		out[i] = regexp.MustCompile(s)
	}
	return out
}

var safeFileName = regexp.MustCompile(`^[-\w.:]+$`)

// LoadPluginConfDir reads every file of dir in name order, as munin-node
// does: later files override earlier ones key by key; hidden files, names
// with odd characters and names matching ignores are skipped. A bad line
// ends its file (munin-node skips "the rest of the file") and is reported
// as FILE:LINE; the lines before it still count. A missing dir is an
// empty configuration.
func LoadPluginConfDir(dir string, ignores []*regexp.Regexp) (*PluginConf, []error) {
	pc := &PluginConf{sections: map[string]*PluginConfig{}}
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return pc, nil
	}
	if err != nil {
		return pc, []error{fmt.Errorf("read plugin-conf.d: %w", err)}
	}
	var errs []error
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
next:
	for _, name := range names {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
			continue
		}
		if strings.HasPrefix(name, ".") || !safeFileName.MatchString(name) {
			continue
		}
		for _, re := range ignores {
			if re.MatchString(name) {
				continue next
			}
		}
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("open plugin config: %w", err))
			continue
		}
		if err := pc.Parse(f, p); err != nil {
			errs = append(errs, err)
		}
		f.Close()
	}
	return pc, errs
}

// ParsePluginConf parses one plugin-conf.d file's content.
func ParsePluginConf(r io.Reader, file string) (*PluginConf, error) {
	pc := &PluginConf{sections: map[string]*PluginConfig{}}
	return pc, pc.Parse(r, file)
}

var (
	sectionRE   = regexp.MustCompile(`^\s*\[([^\]]+)\]\s*$`)
	oldEnvRE    = regexp.MustCompile(`^\s*env\s+([^=\s]+)\s*=\s*(.+)$`)
	directiveRE = regexp.MustCompile(`^\s*([\w.]+)\s+(.+)$`)
	commentRE   = regexp.MustCompile(`(^|[^\\])#.*`)
)

// Parse adds one file's sections to pc, with munin-node's line rules:
// `#` starts a comment unless escaped as `\#`; surrounding blanks are
// trimmed; a directive before any section, an `env X=Y` line, or an
// unknown directive is an error that ends the file.
func (pc *PluginConf) Parse(r io.Reader, file string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var cur *PluginConfig
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if loc := commentRE.FindStringSubmatchIndex(line); loc != nil {
			line = line[:loc[3]]
		}
		line = strings.TrimSpace(strings.ReplaceAll(line, `\#`, "#"))
		if line == "" {
			continue
		}
		fail := func(msg string) error { return fmt.Errorf("%s:%d: %s", file, n, msg) }
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			cur = pc.sections[m[1]]
			if cur == nil {
				cur = &PluginConfig{}
				pc.sections[m[1]] = cur
			}
			continue
		}
		if cur == nil {
			return fail("Parse error: Clutter before section start.")
		}
		if m := oldEnvRE.FindStringSubmatch(line); m != nil {
			return fail(fmt.Sprintf("Deprecated format: 'env %s=%s' should be rewritten to 'env.%s %s'", m[1], m[2], m[1], m[2]))
		}
		m := directiveRE.FindStringSubmatch(line)
		if m == nil {
			return fail(fmt.Sprintf("Line is not well formed (%s)", line))
		}
		k, v := m[1], m[2]
		switch {
		case k == "user":
			u := v
			cur.User = &u
		case k == "group":
			cur.Groups = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
		case k == "command":
			cur.Command = strings.Fields(v)
		case k == "host_name":
			cur.HostName = v
		case k == "timeout":
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil || secs <= 0 || secs > 86400 {
				return fail(fmt.Sprintf("bad timeout %q", v))
			}
			cur.Timeout, cur.timeoutSet = time.Duration(secs*float64(time.Second)), true
		case k == "update_rate":
			cur.UpdateRate = v
		case strings.HasPrefix(k, "env."):
			if cur.Env == nil {
				cur.Env = map[string]string{}
			}
			cur.Env[k[len("env."):]] = v
		default:
			return fail(fmt.Sprintf("Failed to parse line: %s. Should it have been 'env.%s %s'?", line, k, v))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", file, n+1, err)
	}
	return nil
}

// For returns the configuration of plugin name as munin-node 2.0 resolves
// it (Munin::Node::Config::apply_wildcards): the exact section first; then
// wildcard sections (`[prefix*]` or `[*suffix]`, the text used as a regular
// expression, as munin does) in reverse name order, each filling only the
// keys (and env variables) still unset. So `[if_err_*]` beats `[if_*]`,
// and `[*]` comes last.
func (pc *PluginConf) For(name string) PluginConfig {
	var out PluginConfig
	if pc == nil {
		return out
	}
	if s := pc.sections[name]; s != nil && !isWildcard(name) {
		merge(&out, s)
	}
	var wild []string
	for k := range pc.sections {
		if isWildcard(k) {
			wild = append(wild, k)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(wild)))
	for _, w := range wild {
		var expr string
		if strings.HasSuffix(w, "*") {
			expr = "^" + w[:len(w)-1]
		} else {
			expr = w[1:] + "$"
		}
		re, err := regexp.Compile(expr)
		if err != nil || !re.MatchString(name) {
			continue
		}
		merge(&out, pc.sections[w])
	}
	return out
}

func isWildcard(s string) bool { return strings.HasPrefix(s, "*") || strings.HasSuffix(s, "*") }

// merge fills what dst has not set from src.
func merge(dst, src *PluginConfig) {
	for k, v := range src.Env {
		if _, ok := dst.Env[k]; !ok {
			if dst.Env == nil {
				dst.Env = map[string]string{}
			}
			dst.Env[k] = v
		}
	}
	if dst.User == nil {
		dst.User = src.User
	}
	if dst.Groups == nil {
		dst.Groups = src.Groups
	}
	if dst.Command == nil {
		dst.Command = src.Command
	}
	if !dst.timeoutSet && src.timeoutSet {
		dst.Timeout, dst.timeoutSet = src.Timeout, true
	}
	if dst.HostName == "" {
		dst.HostName = src.HostName
	}
	if dst.UpdateRate == "" {
		dst.UpdateRate = src.UpdateRate
	}
}
