package config

import (
	"strings"
	"testing"
	"time"
)

func TestVantageErrors(t *testing.T) {
	tests := []struct {
		name, yml string
		want      []string
	}{
		{"alert_on", "checks:\n  - {name: a, type: tcp, target: 'x:1', alert_on: majority}\n", []string{"x.yml:2:51: checks[0].alert_on: want quorum"}},
		{"all stands alone", "checks:\n  - {name: a, type: tcp, target: 'x:1', vantages: [all, fra1]}\n", []string{"checks[0].vantages[0]: all stands alone"}},
		{"bad location", "checks:\n  - {name: a, type: tcp, target: 'x:1', vantages: ['fra 1']}\n", []string{"checks[0].vantages[0]: want all, loghost or a collector's location"}},
		{"twice", "checks:\n  - {name: a, type: tcp, target: 'x:1', vantages: [fra1, fra1]}\n", []string{"checks[0].vantages[1]: \"fra1\" is named twice"}},
		{"cmd elsewhere", "checks:\n  - {name: a, type: cmd, target: '/bin/true', vantages: [fra1]}\n", []string{"checks[0].vantages: cmd checks run on the loghost only"}},
		{"ca file elsewhere", "checks:\n  - {name: a, type: http, target: 'https://x/', tls_ca_file: /etc/ca.pem, vantages: [loghost, fra1]}\n", []string{"checks[0].vantages: checks that read a CA or client certificate file run on the loghost only"}},
		{"canary", "vantages:\n  canaries: ['ftp://x']\n", []string{"x.yml:2:14: vantages.canaries[0]: want http(s)://…, tcp://host:port or ping://host"}},
		{"tcp canary port", "vantages:\n  canaries: ['tcp://x']\n", []string{"vantages.canaries[0]: tcp canary \"tcp://x\": want tcp://host:port"}},
		{"canary timeout", "vantages:\n  canary_interval: 2s\n  canary_timeout: 5s\n", []string{"vantages.canary_timeout: want 0 < canary_timeout <= canary_interval"}},
		{"public name", "vantages:\n  public_names: {fra1: ''}\n", []string{"vantages.public_names.fra1: want a name of 1 to 100 characters"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yml", []byte(tt.yml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestVantagesParse(t *testing.T) {
	c, err := Parse("x.yml", []byte(`vantages:
  canaries: ["tcp://192.0.2.53:53", "https://www.debian.org/", "ping://192.0.2.1"]
  canary_interval: 10s
  public_names: {fra1: Frankfurt}
checks:
  - {name: a, type: http, target: "https://x/", vantages: [fra1], alert_on: any}
  - {name: b, type: cmd, target: /bin/true, vantages: [all]}
  - {name: c, type: tcp, target: "x:1", vantages: [loghost]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.Vantages.CanaryInterval) != 10*time.Second || c.Vantages.PublicNames["fra1"] != "Frankfurt" {
		t.Errorf("%+v", c.Vantages)
	}
	if RunsOnLoghost(c.Checks[0]) || !RunsOnLoghost(c.Checks[1]) || !RunsOnLoghost(c.Checks[2]) {
		t.Error("where checks run")
	}
	if !RunsRemotely(c.Checks[0]) || RunsRemotely(c.Checks[1]) {
		t.Error("what collectors may run")
	}
	for _, tgt := range c.Vantages.Canaries {
		cc, err := CanaryCheck(tgt, time.Second)
		if err != nil || cc.Type == "" || cc.Target == "" {
			t.Errorf("canary %q: %+v %v", tgt, cc, err)
		}
	}
	col, err := ParseCollector("c.yml", []byte("server: https://x\ntoken: abcdefghij\nprobes: true\nlocation: fra1\nprobe_spool_max_size: 8MiB\nprobe_spool_max_age: 12h\n"))
	if err != nil || !col.Probes || col.Location != "fra1" || col.ProbeSpoolMax != 8<<20 || time.Duration(col.ProbeSpoolMaxAge) != 12*time.Hour {
		t.Errorf("collector %+v %v", col, err)
	}
	if _, err := ParseCollector("c.yml", []byte("server: https://x\ntoken: abcdefghij\nprobes: true\nlocation: loghost\n")); err == nil || !strings.Contains(err.Error(), "c.yml:4:11: location: \"loghost\" is reserved") {
		t.Errorf("reserved location: %v", err)
	}
}
