package query

import "testing"

// Ranges are the comparisons that need no shell quoting: `status>=500`
// unquoted in bash is a redirection that creates a file "=500".
func TestRanges(t *testing.T) {
	tests := []struct{ in, want string }{
		{"status=500..", "status>=500"},
		{"status=..499", "status<=499"},
		{"status=500..599", "status>=500 status<=599"},
		{"duration=0.5..1.5", "duration>=0.5 duration<=1.5"},
		{"severity=..err", "severity<=err"},
		{"severity=warning..", "severity>=warning"},
		{"severity=err..emerg", "severity>=emerg severity<=err"},
		{"severity=0..3", "severity>=emerg severity<=err"},
		{"-status=500..", "-status>=500"},
		{"status!=..399", "-status<=399"},
		// Not ranges: plain values.
		{"path=/a/../b", "path=/a/../b"},
		{"path=..", "path=.."},
		{"version=1.2..x", "version=1.2..x"},
		{`status="500.."`, `status="500.."`},
	}
	for _, tt := range tests {
		q, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := q.String(); got != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"status=599..500", "-status=500..599"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
	q, _ := ParseArgs([]string{"status=500..599"})
	for v, want := range map[string]bool{"499": false, "500": true, "599": true, "600": false} {
		if got := q.Match(doc{fields: map[string]string{"status": v}}); got != want {
			t.Errorf("status=500..599 on %s: %v, want %v", v, got, want)
		}
	}
	q, _ = Parse("severity=..err")
	for v, want := range map[string]bool{"crit": true, "err": true, "warning": false} {
		if got := q.Match(doc{fields: map[string]string{"severity": v}}); got != want {
			t.Errorf("severity=..err on %s: %v, want %v", v, got, want)
		}
	}
}
