package munin

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// pcDir writes a plugin-conf.d: Debian's stock file plus local overrides
// exercising every precedence rule.
func pcDir(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	stock, err := os.ReadFile("testdata/plugin-conf.d/munin-node")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"munin-node": string(stock),
		"zzz-local": `[*]
env.global yes
timeout 30
[if_*]
env.speed 1000
[if_eth0]
env.speed 10
user nobody
[*_eth0]
group adm, (nosuchgroup)
[df]
env.warning 80 # a comment
env.hash a\#b
command /usr/bin/nice -n 5 %c
`,
		"zzz-later":   "[df]\nenv.warning 85\n[load]\nhost_name other.example\nupdate_rate 60\n",
		".hidden":     "[cpu]\nuser root\n",
		"x.dpkg-old":  "[cpu]\nuser root\n",
		"bad name!":   "[cpu]\nuser root\n",
		"zz-broken":   "[memory]\nenv.a 1\nbogus directive here\n[memory]\nenv.b 2\n",
		"zz-clutter":  "user root\n",
		"zz-deprecat": "[uptime]\nenv x=y\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, []string{"if_eth0", "if_err_eth0", "if_ifb0", "df", "df_inode", "postfix_mailqueue", "cpu", "munin_stats", "memory", "load", "uptime", "mysql_x", "exim_mailqueue"}
}

// asMunin renders our resolved config in the shape of munin-node's
// $config->{sconf}{$service}, for comparison with the Perl original.
func asMunin(pc PluginConfig) map[string]any {
	m := map[string]any{}
	if len(pc.Env) > 0 {
		env := map[string]any{}
		for k, v := range pc.Env {
			env[k] = v
		}
		m["env"] = env
	}
	if pc.User != nil {
		m["user"] = *pc.User
	}
	list := func(ss []string) []any {
		out := []any{}
		for _, s := range ss {
			out = append(out, s)
		}
		return out
	}
	if pc.Groups != nil {
		m["group"] = list(pc.Groups)
	}
	if pc.Command != nil {
		m["command"] = list(pc.Command)
	}
	if pc.timeoutSet {
		m["timeout"] = strconv.FormatFloat(pc.Timeout.Seconds(), 'f', -1, 64)
	}
	if pc.HostName != "" {
		m["host_name"] = pc.HostName
	}
	if pc.UpdateRate != "" {
		m["update_rate"] = pc.UpdateRate
	}
	return m
}

// TestPluginConfMatchesMuninNode resolves the same plugin-conf.d with
// munin-node's own Perl code (Munin::Node::Config: process_plugin_
// configuration_files, apply_wildcards) and with ours.
func TestPluginConfMatchesMuninNode(t *testing.T) {
	perl := peers.Require(t, "munin-node", "perl")["perl"]
	dir, svcs := pcDir(t)
	script := `use strict; use warnings; use Munin::Node::Config; use JSON::PP;
my $c = Munin::Node::Config->instance();
$c->reinitialize({sconfdir => shift @ARGV});
push @{$c->{ignores}}, $_ for ('[\#~]$', 'DEADJOE$', '\.bak$', '%$', '\.dpkg-(tmp|new|old|dist)$', '\.rpm(save|new)$', '\.pod$');
$c->process_plugin_configuration_files();
$c->apply_wildcards(@ARGV);
print JSON::PP->new->canonical->encode({map { $_ => ($c->{sconf}{$_} || {}) } @ARGV});`
	cmd := exec.Command(perl, append([]string{"-e", script, dir}, svcs...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("munin's Config.pm: %v\n%s", err, stderr.String())
	}
	var want map[string]map[string]any
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	pc, errs := LoadPluginConfDir(dir, DefaultIgnores())
	for _, s := range svcs {
		got := asMunin(pc.For(s))
		if !reflect.DeepEqual(got, want[s]) {
			t.Errorf("%s:\n ours  %v\n munin %v", s, got, want[s])
		}
	}
	// munin-node carps the same three files; we name file:line.
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, strings.TrimPrefix(e.Error(), dir+"/"))
	}
	wantErrs := []string{
		"zz-broken:3: Failed to parse line: bogus directive here. Should it have been 'env.bogus directive here'?",
		"zz-clutter:1: Parse error: Clutter before section start.",
		"zz-deprecat:2: Deprecated format: 'env x=y' should be rewritten to 'env.x y'",
	}
	if !reflect.DeepEqual(msgs, wantErrs) {
		t.Errorf("errors:\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(wantErrs, "\n"))
	}
	for _, w := range wantErrs {
		file := strings.SplitN(w, ":", 2)[0]
		if !strings.Contains(stderr.String(), file) {
			t.Errorf("munin-node did not complain about %s: %s", file, stderr.String())
		}
	}
}

func TestPluginConfPrecedence(t *testing.T) {
	pc, err := ParsePluginConf(strings.NewReader("[*]\ntimeout 5\nenv.a star\n[if_*]\nuser root\nenv.a if\n[if_err_*]\nuser nobody\n[if_err_eth0]\nenv.b exact\n"), "t")
	if err != nil {
		t.Fatal(err)
	}
	got := pc.For("if_err_eth0")
	if *got.User != "nobody" || got.Env["a"] != "if" || got.Env["b"] != "exact" || got.Timeout != 5*time.Second {
		t.Errorf("if_err_eth0: %+v", got)
	}
	if got := pc.For("cpu"); got.User != nil || got.Env["a"] != "star" {
		t.Errorf("cpu: %+v", got)
	}
	if _, err := ParsePluginConf(strings.NewReader("[x]\ntimeout soon\n"), "f"); err == nil || !strings.HasPrefix(err.Error(), "f:2: ") {
		t.Errorf("bad timeout: %v", err)
	}
}

func FuzzPluginConf(f *testing.F) {
	stock, _ := os.ReadFile("testdata/plugin-conf.d/munin-node")
	f.Add(string(stock))
	f.Add("[*]\nenv.a b\n[*x]\n[(]*]\ntimeout 1e9\n")
	f.Fuzz(func(t *testing.T, s string) {
		pc, _ := ParsePluginConf(strings.NewReader(s), "f")
		pc.For("if_eth0")
		pc.For("")
	})
}

func BenchmarkPluginConf(b *testing.B) {
	stock, _ := os.ReadFile("testdata/plugin-conf.d/munin-node")
	for b.Loop() {
		pc, _ := ParsePluginConf(strings.NewReader(string(stock)), "f")
		pc.For("if_eth0")
	}
}
