package config

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDesignExample(t *testing.T) {
	c, err := Load("testdata/loghost.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Location().String() != "Europe/Berlin" {
		t.Errorf("timezone: %v", c.Location())
	}
	if c.Server.AdminToken != "admin-token-0123456789" {
		t.Errorf("admin token from file: %q", c.Server.AdminToken)
	}
	if c.Server.TLSCertFile != filepath.Join("testdata", "tls.crt") {
		t.Errorf("relative cert path: %q", c.Server.TLSCertFile)
	}
	if got := time.Duration(c.Storage.Retention); got != 14*24*time.Hour {
		t.Errorf("retention %v", got)
	}
	if c.Storage.MaxSize != 20<<30 || c.Storage.HostQuotaPerDay != 1e9 {
		t.Errorf("sizes %d %d", c.Storage.MaxSize, c.Storage.HostQuotaPerDay)
	}
	if got := c.Hosts["db1"].AllTokens(); len(got) != 2 || got[1] != "old-token-until-rotated" {
		t.Errorf("db1 tokens %q", got)
	}
	if got := c.Hosts["web1"].AllTokens(); len(got) != 1 || got[0] != "token-web1-abcdef" {
		t.Errorf("web1 tokens %q", got)
	}
	if c.DataDir() != "/var/lib/watchpost" {
		t.Errorf("data dir %q", c.DataDir())
	}
	if c.Alerting.Matrix.AccessToken != "syt_matrix" || c.Alerting.Receivers["db-team"].Email.To[0] != "dba@example.org" {
		t.Errorf("alerting %+v", c.Alerting)
	}
	if !c.Self.Enabled || !c.Self.Journal || c.Server.SyslogListen != "127.0.0.1:5514" {
		t.Errorf("defaults lost: %+v %+v", c.Self, c.Server)
	}
	if c.Checks[0].Conditions[1] != "response_time < 2s" || !c.Checks[0].Public {
		t.Errorf("checks %+v", c.Checks[0])
	}
}

func TestDefault(t *testing.T) {
	c := Default("/tmp/wp")
	if c.Storage.Path != "/tmp/wp/watchpost.db" || c.DataDir() != "/tmp/wp" {
		t.Errorf("paths %q %q", c.Storage.Path, c.DataDir())
	}
	if c.Server.Listen != "127.0.0.1:8080" || time.Duration(c.Storage.Retention) != 30*24*time.Hour {
		t.Errorf("defaults %+v", c)
	}
}

// TestErrors: every mistake names file:line:col and the key.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, yml string
		want      []string
	}{
		{"unknown key with suggestion", "server:\n  lisen: 1.2.3.4:80\n", []string{"x.yml:2:3: server.lisen: unknown key (did you mean \"listen\"?)"}},
		{"unknown top level", "storgae: {}\n", []string{"x.yml:1:1: storgae: unknown key (did you mean \"storage\"?)"}},
		{"bad duration", "storage:\n  retention: 14 days\n", []string{"x.yml:2:14: storage.retention: invalid duration"}},
		{"wrong type", "server:\n  metrics_public: maybe\n", []string{"x.yml:2:19: server.metrics_public: expected true or false"}},
		{"list for string", "server:\n  listen: [a, b]\n", []string{"x.yml:2:11: server.listen: expected a string, got a list"}},
		{"duplicate key", "server:\n  listen: 1.2.3.4:80\n  listen: 1.2.3.4:81\n", []string{"x.yml:3:3: server.listen: given twice"}},
		{"bad address", "server:\n  listen: localhost\n", []string{"x.yml:2:11: server.listen: want host:port"}},
		{"bad size", "storage:\n  max_size: 2 parsecs\n", []string{"x.yml:2:13: storage.max_size: invalid size"}},
		{"bad zone", "timezone: Mars/Olympus\n", []string{"x.yml:1:11: timezone: unknown time zone"}},
		{"shared token", "hosts:\n  a: {token: same-token-1}\n  b: {token: same-token-1}\n", []string{"x.yml:3:6: hosts.b: a token is also used by host a"}},
		{"host without token", "hosts:\n  a: {}\n", []string{"x.yml:2:6: hosts.a: give token, token_file or tokens"}},
		{"token and token_file", "hosts:\n  a: {token: abcdefghij, token_file: /x}\n", []string{"hosts.a.token_file: give token or token_file, not both"}},
		{"missing secret file", "server:\n  admin_token_file: /nonexistent/x\n", []string{"x.yml:2:21: server.admin_token_file: cannot read the secret"}},
		{"check type", "checks:\n  - name: a\n    type: ftp\n    target: x\n", []string{"x.yml:3:11: checks[0].type: want http, tcp, tls, dns, smtp, cmd, file, udp, ping or domain"}},
		{"duplicate check", "checks:\n  - {name: a, type: tcp, target: 'x:1'}\n  - {name: a, type: tcp, target: 'x:1'}\n", []string{"x.yml:3:12: checks[1].name: \"a\" is used twice"}},
		{"ip version", "checks:\n  - {name: a, type: tcp, target: 'x:1', ip_version: 5}\n", []string{"checks[0].ip_version: want 4 or 6"}},
		{"nameservers need SOA", "checks:\n  - {name: a, type: dns, target: ns1, query: 'A x.test', nameservers: [ns2]}\n", []string{"checks[0].nameservers: compare SOA serials"}},
		{"nameservers on tcp", "checks:\n  - {name: a, type: tcp, target: 'x:1', nameservers: [ns2]}\n", []string{"checks[0].nameservers: only dns checks"}},
		{"username without password", "checks:\n  - {name: a, type: smtp, target: mx, username: probe}\n", []string{"checks[0].username: give username and password together"}},
		{"round trip without mailbox", "checks:\n  - {name: a, type: smtp, target: mx, roundtrip_to: a@b.test}\n", []string{"checks[0].roundtrip_to: give roundtrip_to and roundtrip_mailbox together"}},
		{"unknown receiver", "alerting:\n  routes:\n    - receiver: nobody\n", []string{"x.yml:3:17: alerting.routes[0].receiver: no receiver is named"}},
		{"email tls", "alerting:\n  email: {smtp: 'm:25', from: a@b, to: [c@d], tls: ssl}\n", []string{"alerting.email.tls: want starttls, implicit or none"}},
		{"bad password hash", "server:\n  users:\n    - {name: ann, password_hash: hunter2}\n", []string{"server.users[0].password_hash: not a bcrypt hash"}},
		{"depends on nothing", "checks:\n  - {name: a, type: tcp, target: 'x:1', depends_on: [gone]}\n", []string{"checks[0].depends_on[0]: \"gone\" is not another check"}},
		{"threshold range", "thresholds:\n  - {graph: df, warning: 'ninety'}\n", []string{"x.yml:2:26: thresholds[0].warning: parse range"}},
		{"threshold without range", "thresholds:\n  - {graph: df}\n", []string{"x.yml:2:5: thresholds[0]: give warning, critical or both"}},
		{"threshold pattern", "thresholds:\n  - {host: '[', critical: 5}\n", []string{"thresholds[0].host: bad pattern"}},
		{"munin node interval", "munin_nodes:\n  - {name: old, address: 'old:4949', interval: 1s}\n", []string{"munin_nodes[0].interval: at least 10s"}},
		{"webstats privacy", "webstats:\n  sites:\n    - {name: wiki, privacy: blur}\n", []string{"x.yml:3:29: webstats.sites[0].privacy: want truncate or hash"}},
		{"webstats visit timeout", "webstats:\n  definitions: {visit_timeout: 2d}\n", []string{"x.yml:2:32: webstats.definitions.visit_timeout: want between 1s and 24h"}},
		{"webstats hit code", "webstats:\n  sites:\n    - name: wiki\n      definitions:\n        hit_codes: [200, 2000]\n", []string{"x.yml:5:26: webstats.sites[0].definitions.hit_codes[1]: want an HTTP status"}},
		{"webstats hit code type", "webstats:\n  definitions: {hit_codes: [ok]}\n", []string{"x.yml:2:29: webstats.definitions.hit_codes[0]: expected a whole number"}},
		{"host zone", "hosts:\n  router: {timezone: Mars/Olympus}\n", []string{"x.yml:2:22: hosts.router.timezone: unknown time zone"}},
		{"host without token or zone", "hosts:\n  router: {}\n", []string{"hosts.router: give token"}},
		{"sender network", "sender_timezones:\n  - {network: 10.0.0.0/33, timezone: UTC}\n", []string{"x.yml:2:15: sender_timezones[0].network"}},
		{"sender zone", "sender_timezones:\n  - {network: 10.0.0.1, timezone: Nowhere}\n", []string{"sender_timezones[0].timezone: unknown time zone"}},
		{"yaml syntax", "server:\n  listen: [\n", []string{"x.yml:2:3: YAML syntax"}},
		// The parser names line 1 (or no line) for these; the line is where
		// the error is, the column its first character or the colon.
		{"yaml syntax on line 2", "timezone: UTC\n- x\n", []string{"x.yml:2:1: YAML syntax"}},
		{"yaml bad indent", "timezone: UTC\n  bad: indent\nchecks: []\n", []string{"x.yml:2:6: YAML syntax: mapping values"}},
		{"yaml unclosed bracket", "a: b\nc: [1, 2\nd: e\n", []string{"x.yml:2:1: YAML syntax"}},
		{"yaml tab", "timezone: UTC\nserver:\n\tlisten: x\n", []string{"x.yml:3:1: YAML syntax"}},
		{"victorialogs without url", "storage:\n  victorialogs: {mode: primary}\n", []string{"x.yml:2:17: storage.victorialogs: needs storage.victorialogs_url"}},
		{"victorialogs mode", "storage:\n  victorialogs_url: http://vl:9428\n  victorialogs: {mode: only}\n", []string{"x.yml:3:24: storage.victorialogs.mode: want mirror or primary"}},
		{"victorialogs tenant", "storage:\n  victorialogs_url: http://vl:9428\n  victorialogs: {account_id: -1, project_id: 4294967296}\n", []string{"x.yml:3:30: storage.victorialogs.account_id: want a number", "x.yml:3:46: storage.victorialogs.project_id: want a number"}},
		{"victorialogs auth", "storage:\n  victorialogs_url: http://vl:9428\n  victorialogs: {username: a, password: b, bearer_token: c}\n", []string{"storage.victorialogs.bearer_token: give username and password, or bearer_token"}},
		{"victorialogs local retention", "storage:\n  victorialogs_url: http://vl:9428\n  victorialogs: {local_retention: 2d}\n", []string{"storage.victorialogs.local_retention: only with mode: primary"}},
		{"victorialogs url", "storage:\n  victorialogs_url: vl:9428\n", []string{"x.yml:2:21: storage.victorialogs_url: want an http"}},
		{"several errors, line order", "storage:\n  retention: x\nserver:\n  lisen: a\n", []string{"x.yml:2:14: storage.retention", "x.yml:4:3: server.lisen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yml", []byte(tt.yml))
			if err == nil {
				t.Fatal("no error")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) < len(tt.want) {
				t.Fatalf("got %q, want %d errors", err, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("error %d = %q, want it to contain %q", i, lines[i], w)
				}
			}
		})
	}
}

// Zone-less times belong to their sender: by host name, then network,
// else the loghost's own zone (not the display timezone).
func TestSenderZones(t *testing.T) {
	c, err := Parse("x.yml", []byte("timezone: Asia/Tokyo\nhosts:\n  router: {timezone: America/New_York}\nsender_timezones:\n  - {network: 192.0.2.0/24, timezone: Europe/Berlin}\n  - {network: 2001:db8::1, timezone: UTC}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, ip, want string
	}{
		{"router", "192.0.2.7", "America/New_York"},
		{"ROUTER", "", "America/New_York"},
		{"other", "192.0.2.7", "Europe/Berlin"},
		{"other", "2001:db8::1", "UTC"},
		{"other", "198.51.100.1", time.Local.String()},
	} {
		if got := c.SenderZone(tc.host, net.ParseIP(tc.ip)).String(); got != tc.want {
			t.Errorf("%s from %s: %s, want %s", tc.host, tc.ip, got, tc.want)
		}
	}
}

func TestDurationsAndSizes(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "14d": 14 * 24 * time.Hour, "1w2d": 9 * 24 * time.Hour, "1h30m": 90 * time.Minute, "1.5d": 36 * time.Hour, "0": 0} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "5", "5x", "1e999d", "--1s"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q): no error", bad)
		}
	}
	for in, want := range map[string]int64{"500MB": 500e6, "2GiB": 2 << 30, "10": 10, "1.5K": 1500} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %v, %v", in, got, err)
		}
	}
}

func TestCollector(t *testing.T) {
	c, err := LoadCollector("testdata/collector.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Token != "token-web1-abcdef" || len(c.Files) != 2 || c.Files[0].Site != "wiki.example.org" || c.Files[1].Multiline != `^\S` {
		t.Errorf("%+v", c)
	}
	if _, err := ParseCollector("c.yml", []byte("server: https://x\ntoken: abc\nfiles:\n  - path: '[x'\n")); err == nil || !strings.Contains(err.Error(), "c.yml:4:11: files[0].path: bad glob") {
		t.Errorf("bad glob: %v", err)
	}
}

func TestCheckMain(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("server:\n  lisen: x\n"), 0o600)
	var out, errb bytes.Buffer
	if rc := CheckMain([]string{"testdata/loghost.yml", "testdata/collector.yml"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	if !strings.Contains(out.String(), "loghost.yml: ok (loghost") || !strings.Contains(out.String(), "collector.yml: ok (collector") {
		t.Errorf("output %q", out.String())
	}
	out.Reset()
	if rc := CheckMain([]string{bad}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "bad.yml:2:3: server.lisen: unknown key") {
		t.Errorf("rc %d: %s", rc, errb.String())
	}
	if rc := CheckMain(nil, &out, &errb); rc != 2 {
		t.Errorf("no args: rc %d", rc)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/loghost.yml", "testdata/collector.yml"} {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("checks: [{name: a, interval: 1w}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yml", data)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yml") {
			t.Fatalf("error without file name: %v", err)
		}
		ParseCollector("fuzz.yml", data)
		IsCollectorFile(data)
	})
}
