package munin

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

//go:embed lib/plugin.sh
var pluginSh []byte

// ensurePluginSh makes LIBDIR/plugins/plugin.sh exist, writing ours when
// munin's is absent; stock shell plugins source it.
func ensurePluginSh(libDir string) error {
	p := filepath.Join(libDir, "plugins", "plugin.sh")
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("munin lib dir: %w", err)
	}
	// Readable by the plugin users (nobody), written atomically so a
	// plugin starting now never sources half a file.
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, pluginSh, 0o644); err != nil {
		return fmt.Errorf("write plugin.sh: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("write plugin.sh: %w", err)
	}
	return nil
}

// credential resolves the user and groups of a run as munin-node does
// (Service.pm _resolve_uid/_resolve_gids): only when we are root; the
// plugin-conf.d user or the default; the listed groups ("(g)" optional)
// or the default group. It also returns the user name, which names the
// MUNIN_PLUGSTATE subdirectory.
func (r *Runner) credential(name string, pc PluginConfig) (*syscall.Credential, string, int, error) {
	uname := r.o.DefaultUser
	if pc.User != nil {
		uname = *pc.User
	}
	u, err := lookupUser(uname)
	if err != nil {
		return nil, "", 0, fmt.Errorf("user %q required for %q does not exist: %w", uname, name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	if !r.asRoot {
		cur, err := user.Current()
		if err != nil {
			return nil, "", 0, fmt.Errorf("current user: %w", err)
		}
		return nil, cur.Username, os.Geteuid(), nil
	}
	var gids []uint32
	for _, g := range pc.Groups {
		optional := strings.HasPrefix(g, "(") && strings.HasSuffix(g, ")")
		if optional {
			g = g[1 : len(g)-1]
		}
		gid, err := lookupGroup(g)
		if err != nil {
			if optional {
				continue
			}
			return nil, "", 0, fmt.Errorf("group %q required for %q does not exist", g, name)
		}
		gids = append(gids, gid)
	}
	if len(gids) == 0 {
		gid, err := lookupGroup(r.o.DefaultGroup)
		if err != nil {
			g, _ := strconv.Atoi(u.Gid)
			gid = uint32(g)
		}
		gids = []uint32{gid}
	}
	if uid == 0 && gids[0] == 0 {
		return nil, u.Username, 0, nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: gids[0], Groups: gids}, u.Username, uid, nil
}

func lookupUser(s string) (*user.User, error) {
	if _, err := strconv.Atoi(s); err == nil {
		return user.LookupId(s)
	}
	return user.Lookup(s)
}

func lookupGroup(s string) (uint32, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(n), nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(n), err
}

// Capabilities reads a plugin file's magic markers as munin-node-configure
// does: `#%# family=auto` and `#%# capabilities=autoconf suggest`.
func Capabilities(path string) (family string, caps []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, fmt.Errorf("plugin capabilities: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(l, "#%#")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(strings.TrimSpace(rest), "=")
		switch strings.TrimSpace(k) {
		case "family":
			family = strings.TrimSpace(v)
		case "capabilities":
			caps = strings.Fields(v)
		}
	}
	return family, caps, nil
}

// Autoconf asks the plugin file at path whether it applies to this host
// (`plugin autoconf`: "yes", or "no (reason)"), run as munin-node would
// run a service of that name.
func (r *Runner) Autoconf(ctx context.Context, path string) (ok bool, reason string, err error) {
	name := filepath.Base(path)
	out, err := r.Run(ctx, name, path, "autoconf")
	if err != nil {
		return false, "", err
	}
	first, _, _ := bytes.Cut(bytes.TrimSpace(out), []byte("\n"))
	s := strings.TrimSpace(string(first))
	if s == "yes" {
		return true, "", nil
	}
	if rest, ok := strings.CutPrefix(s, "no"); ok {
		rest = strings.TrimSpace(rest)
		return false, strings.TrimSuffix(strings.TrimPrefix(rest, "("), ")"), nil
	}
	return false, "", fmt.Errorf("autoconf %s: unexpected answer %q", name, s)
}

// Suggest runs `plugin suggest` for a wildcard plugin (if_, df_...) and
// returns the suffixes it proposes; each becomes a link NAME+suffix.
func (r *Runner) Suggest(ctx context.Context, path string) ([]string, error) {
	name := filepath.Base(path)
	out, err := r.Run(ctx, name, path, "suggest")
	if err != nil {
		return nil, err
	}
	var s []string
	for _, l := range strings.FieldsFunc(string(out), func(c rune) bool { return c == '\n' || c == '\r' }) {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || !serviceName.MatchString(l) {
			continue
		}
		s = append(s, l)
	}
	return s, nil
}
