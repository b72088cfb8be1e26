package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/internal/peers"
)

// unitFile is what the emulation needs from a systemd unit.
type unitFile struct {
	name                       string
	execStart, user, group     string
	groups                     []string
	stateDir, stateMode, umask string
	strict, protectHome, tmp   bool
	noNewPrivs, noCaps         bool
}

func readUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{name: filepath.Base(path), stateMode: "0755", umask: "0022"}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		switch k {
		case "ExecStart":
			u.execStart = v
		case "User":
			u.user = v
		case "Group":
			u.group = v
		case "SupplementaryGroups":
			u.groups = strings.Fields(v)
		case "StateDirectory":
			u.stateDir = v
		case "StateDirectoryMode":
			u.stateMode = v
		case "UMask":
			u.umask = v
		case "ProtectSystem":
			u.strict = v == "strict"
		case "ProtectHome":
			u.protectHome = v == "yes"
		case "PrivateTmp":
			u.tmp = v == "yes"
		case "NoNewPrivileges":
			u.noNewPrivs = v == "yes"
		case "CapabilityBoundingSet":
			u.noCaps = v == ""
		}
	}
	// The emulation below implements exactly these; a unit that relies
	// on another sandboxing setting needs it added here.
	if u.execStart == "" || u.user == "" || u.stateDir == "" || !u.strict || !u.protectHome || !u.tmp || !u.noNewPrivs || !u.noCaps {
		t.Fatalf("%s: the emulation expects ExecStart, User, StateDirectory, ProtectSystem=strict, ProtectHome, PrivateTmp, NoNewPrivileges and no capabilities: %+v", path, u)
	}
	return u
}

// emulation is a shell script that runs a unit's ExecStart as systemd
// would: its state directory made and owned by its user, a mount
// namespace where everything is read-only except that directory, /home
// and /root hidden, a private /tmp, the unit's umask, then its user and
// groups without capabilities or new privileges, $STATE_DIRECTORY set.
func (u unitFile) emulation() string {
	group := u.group
	if group == "" {
		group = u.user
	}
	sd := "/var/lib/" + u.stateDir
	inner := fmt.Sprintf(`set -eu
mount --bind %[1]s %[1]s
for m in $(awk '{print $5}' /proc/self/mountinfo | sort -ru); do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|%[1]s) continue;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
if touch /var/lib/.rw-probe 2>/dev/null || touch /etc/.rw-probe 2>/dev/null; then echo "EMULATION BROKEN: the file system is writable"; exit 97; fi
for d in /home /root /run/user; do if [ -d "$d" ]; then mount -t tmpfs -o ro,mode=0000 tmpfs "$d"; fi; done
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
umask %[2]s
cd /
exec env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 STATE_DIRECTORY=%[1]s \
  setpriv --reuid=%[3]s --regid=%[4]s --groups=%[5]s --no-new-privs --bounding-set=-all --inh-caps=-all -- %[6]s
`, sd, u.umask, u.user, group, strings.Join(u.groups, ","), u.execStart)
	return fmt.Sprintf(`set -eu
install -d -o %s -g %s -m %s %s
exec unshare --mount --propagation private bash -c %s
`, u.user, group, u.stateMode, sd, shellQuote(inner))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// deployStep is a fenced block of deploy/README.md: a shell block to run,
// or a YAML block to write to the file the paragraph before it names.
type deployStep struct {
	shell bool
	file  string
	text  string
}

func readDeploySteps(t *testing.T) []deployStep {
	t.Helper()
	b, err := os.ReadFile("../deploy/README.md")
	if err != nil {
		t.Fatal(err)
	}
	var steps []deployStep
	lines := strings.Split(string(b), "\n")
	writeRE := regexp.MustCompile("Write `(/[^`]+)`")
	lastFile := ""
	for i := 0; i < len(lines); i++ {
		if m := writeRE.FindStringSubmatch(lines[i]); m != nil {
			lastFile = m[1]
		}
		lang, ok := strings.CutPrefix(lines[i], "```")
		if !ok || lang == "" {
			continue
		}
		var body []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			body = append(body, lines[i])
		}
		text := strings.Join(body, "\n") + "\n"
		switch lang {
		case "sh":
			steps = append(steps, deployStep{shell: true, text: text})
		case "yaml":
			if lastFile == "" {
				t.Fatalf("deploy/README.md: a YAML block without a `Write /path` before it")
			}
			steps = append(steps, deployStep{file: lastFile, text: text})
			lastFile = ""
		}
	}
	return steps
}

// TestDeploySteps runs deploy/README.md as written, as root, in private
// mount, network and PID namespaces (nothing outside them changes): the
// user, the directories, the TLS certificate, the loghost unit, rsyslog
// forwarding and a collector unit, each unit checked with systemd-analyze
// verify and its ExecStart run under the unit's user and file-system
// limits. The loghost must then hold an nginx line the collector shipped
// over TLS and a line rsyslog forwarded, the collector must keep its
// state inside its own state directory, and grep -server must answer with
// the admin token.
func TestDeploySteps(t *testing.T) {
	peers.RequireRoot(t, "running the deploy steps (useradd, mounts, setpriv)")
	peers.Require(t, "unshare", "setpriv", "systemd-analyze", "openssl", "rsyslogd", "logger", "useradd", "ip")
	T := t.TempDir()
	src := filepath.Join(T, "src")
	os.MkdirAll(filepath.Join(src, "deploy"), 0o755)
	for _, f := range []string{"watchpost.service", "watchpost-collect.service"} {
		b, err := os.ReadFile(filepath.Join("..", "deploy", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(src, "deploy", f), b, 0o644)
		u := readUnit(t, filepath.Join("..", "deploy", f))
		os.WriteFile(filepath.Join(T, "run-"+f+".sh"), []byte(u.emulation()), 0o755)
	}

	var script strings.Builder
	fmt.Fprintf(&script, `set -eu
T=%[1]s
BINARY=%[2]s
ip link set lo up
# Private copies: the steps change only this namespace.
cp -a /etc "$T/etc" && mount --bind "$T/etc" /etc
mount -t tmpfs tmpfs /var/lib
mount -t tmpfs tmpfs /usr/local/bin
mount -t tmpfs tmpfs /var/log
echo "127.0.0.1 loghost.example.org" >> /etc/hosts
install -d /var/log/nginx
echo '192.0.2.7 - - [07/Dec/2026:07:17:54 +0000] "GET /deploy-nginx-line HTTP/1.1" 200 512 "-" "curl/8.0"' > /var/log/nginx/access.log
chgrp adm /var/log/nginx/access.log && chmod 0640 /var/log/nginx/access.log

# The machine is the loghost, an rsyslog host and a collector host at once.
go() { cp "$BINARY" watchpost; }          # the e2e binary: built by this same command
scp() { cp "${1#*:}" "$2"; }
systemctl() {
  case "$1" in
  daemon-reload) ;;
  enable)
    shift; [ "$1" = --now ] && shift
    for u in "$@"; do
      u=${u%%.service}.service
      systemd-analyze verify "/etc/systemd/system/$u" || { echo "VERIFY FAILED: $u"; exit 1; }
      echo "VERIFIED: $u"
      bash "$T/run-$u.sh" > "$T/${u%%.service}.log" 2>&1 &
      echo $! > "$T/$u.pid"
      # Type=simple: systemctl does not wait, but the next step (reading its
      # tokens) comes after the admin saw it start in the journal.
      for i in $(seq 1 120); do grep -q 'started' "$T/${u%%.service}.log" 2>/dev/null && break; sleep 0.5; done
    done ;;
  restart)
    [ "$2" = rsyslog ] || exit 1
    mkdir -p "$T/rsyslog"
    printf '%%s\n' 'global(workDirectory="'"$T"'/rsyslog")' 'module(load="imuxsock" SysSock.Use="off")' \
      'input(type="imuxsock" Socket="'"$T"'/log.sock" CreatePath="on")' 'include(file="/etc/rsyslog.d/watchpost.conf")' > "$T/rsyslog.conf"
    rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslog.pid" > "$T/rsyslog.log" 2>&1 &
    sleep 1 ;;
  *) echo "systemctl $*: not emulated"; exit 1 ;;
  esac
}
journalctl() { sleep 2; cat "$T/${2%%.service}.log"; }
cd "$T/src"
`, T, binary)
	for i, st := range readDeploySteps(t) {
		if st.shell {
			fmt.Fprintf(&script, "echo '=== step %d'\n%s\n", i+1, st.text)
		} else {
			fmt.Fprintf(&script, "echo '=== step %d: %s'\ncat > %s <<'WATCHPOST_EOF'\n%sWATCHPOST_EOF\n", i+1, st.file, st.file, st.text)
		}
	}
	fmt.Fprintf(&script, `
echo '=== checks'
logger -u "$T/log.sock" -t deploytest "deploy-rsyslog-line forwarded"
for i in $(seq 1 90); do
  if watchpost grep -data /var/lib/watchpost deploy-nginx-line >/dev/null && watchpost grep -data /var/lib/watchpost deploy-rsyslog-line >/dev/null; then
    echo "ARRIVED"; break
  fi
  sleep 1
done
watchpost grep -data /var/lib/watchpost 'deploy-'
echo "--- remote grep"
cp /var/lib/watchpost/admin.token "$T/admin.token"
SSL_CERT_FILE=/etc/watchpost/tls.crt watchpost grep -server https://loghost.example.org:8443 -token-file "$T/admin.token" deploy-nginx-line && echo "REMOTE GREP OK"
echo "--- collector state"
ls -la /var/lib/watchpost-collect || true
find /var/lib/watchpost-collect -type f | sed 's/^/STATE FILE /'
echo "--- loghost log"; cat "$T/watchpost.log"
echo "--- collector log"; cat "$T/watchpost-collect.log"
echo "--- rsyslog log"; cat "$T/rsyslog.log"
`)
	os.WriteFile(filepath.Join(T, "deploy.sh"), []byte(script.String()), 0o700)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc", "--propagation", "private", "bash", filepath.Join(T, "deploy.sh"))
	cmd.Env = append(os.Environ(), "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	outB, err := cmd.CombinedOutput()
	out := string(outB)
	if err != nil {
		t.Fatalf("the deploy steps failed: %v\n%s", err, out)
	}
	for _, want := range []string{"VERIFIED: watchpost.service", "VERIFIED: watchpost-collect.service", "ARRIVED", "REMOTE GREP OK",
		"collector.token", "the loghost files this host's data"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// The collector must be able to write its state under its own unit
	// (a restart would read every file again otherwise). Reading munin's
	// root-only plugin-conf.d is not needed for the built-in metrics, and
	// a munin plugin that cannot read what it measures (postfix's queue,
	// once another test installed postfix) says so on its own stderr.
	collectorLog := out[strings.Index(out, "--- collector log"):strings.Index(out, "--- rsyslog log")]
	for _, l := range strings.Split(collectorLog, "\n") {
		low := strings.ToLower(l)
		if (strings.Contains(low, "permission denied") || strings.Contains(low, "read-only file system")) && !strings.Contains(l, "plugin-conf.d") && !strings.Contains(l, "component=munin") {
			t.Errorf("the collector cannot write under its unit: %s", l)
		}
	}
	if !regexp.MustCompile(`STATE FILE /var/lib/watchpost-collect/.*\.json`).MatchString(out) {
		t.Errorf("the collector keeps no checkpoints in its state directory (/var/lib/watchpost-collect):\n%s", out)
	}
}
