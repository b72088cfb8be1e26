package checker

import (
	"strings"
	"testing"
	"time"
)

func TestConditionEval(t *testing.T) {
	body := `{"status":"up","db":{"ok":true,"lag":3},"items":[{"id":7},{"id":8}],"tags":["a","b"]}`
	values := map[string]any{
		"status":          200,
		"response_time":   123 * time.Millisecond,
		"body":            body,
		"cert_expires_in": 20 * 24 * time.Hour,
		"connected":       true,
		"header.server":   "nginx/1.22",
	}
	dnsValues := map[string]any{
		"rcode":         "NOERROR",
		"answer":        []string{"192.0.2.1", "192.0.2.2"},
		"authoritative": true,
		"ttl":           300 * time.Second,
	}
	tests := []struct {
		typ, cond string
		values    map[string]any
		want      bool
	}{
		{"http", "status == 200", values, true},
		{"http", "status != 200", values, false},
		{"http", "status < 400", values, true},
		{"http", "status >= 500", values, false},
		{"http", "[STATUS] == 200", values, true},
		{"http", "response_time < 500ms", values, true},
		{"http", "response_time > 100ms", values, true},
		{"http", "response_time <= 123ms", values, true},
		{"http", "response_time < 0.1s", values, false},
		{"http", "cert_expires_in > 14d", values, true},
		{"http", "cert_expires_in > 3w", values, false},
		{"http", "[CERTIFICATE_EXPIRATION] > 48h", values, true},
		{"http", `body contains "\"up\""`, values, true},
		{"http", `body contains 'down'`, values, false},
		{"http", `body !contains down`, values, true},
		{"http", `body not contains down`, values, true},
		{"http", `body matches "\"lag\":[0-9]+"`, values, true},
		{"http", "body.json.status == up", values, true},
		{"http", `body.json.status == "up"`, values, true},
		{"http", "body.json.status != up", values, false},
		{"http", "body.json.db.ok == true", values, true},
		{"http", "body.json.db.lag < 5", values, true},
		{"http", "body.json.db.lag > 5", values, false},
		{"http", "body.json.db.lag == 3.0", values, true},
		{"http", "body.json.items[1].id == 8", values, true},
		{"http", "body.json.items.0.id == 7", values, true},
		{"http", "body.json.items[5].id == 7", values, false},
		{"http", "body.json.tags contains b", values, true},
		{"http", "body.json.db contains lag", values, true},
		{"http", "len(body.json.items) == 2", values, true},
		{"http", "[BODY].status == up", values, true},
		{"http", "body.json.nope == x", values, false},
		{"http", "len(body) > 10", values, true},
		{"http", "connected == true", values, true},
		{"http", "header.server contains nginx", values, true},
		{"http", "header.x-missing == a", values, false},
		{"dns", "rcode == NOERROR", dnsValues, true},
		{"dns", "rcode == noerror", dnsValues, true},
		{"dns", "rcode != NXDOMAIN", dnsValues, true},
		{"dns", "answer contains 192.0.2.1", dnsValues, true},
		{"dns", "answers contains 192.0.2.9", dnsValues, false},
		{"dns", "answer == 192.0.2.2,192.0.2.1", dnsValues, true},
		{"dns", "answer == 192.0.2.1", dnsValues, false},
		{"dns", "answer != 192.0.2.1", dnsValues, true},
		{"dns", "len(answer) == 2", dnsValues, true},
		{"dns", `answer matches "^192\\.0\\.2\\."`, dnsValues, true},
		{"dns", "authoritative == true", dnsValues, true},
		{"dns", "ttl >= 5m", dnsValues, true},
		{"dns", "response_time < 1s", dnsValues, false}, // no value: fails
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.cond, func(t *testing.T) {
			c, err := ParseCondition(tt.typ, tt.cond)
			if err != nil {
				t.Fatal(err)
			}
			got, detail := c.Eval(tt.values)
			if got != tt.want {
				t.Errorf("Eval = %v (%s), want %v", got, detail, tt.want)
			}
			if detail == "" {
				t.Error("empty detail")
			}
		})
	}
}

func TestConditionCompileErrors(t *testing.T) {
	tests := []struct{ typ, cond, want string }{
		{"http", "rcode == NOERROR", "unknown placeholder"},
		{"dns", "status == 200", "unknown placeholder"},
		{"tcp", "cert_expires_in > 14d", "unknown placeholder"},
		{"http", "stauts == 200", "unknown placeholder"},
		{"http", "status == ok", "want a number"},
		{"http", `status == "200"`, "want a number"},
		{"http", "response_time < 500", "want a duration"},
		{"http", "cert_expires_in > 14x", "want a duration"},
		{"http", "status", "missing operator"},
		{"http", "status ==", "missing value"},
		{"http", "status ~ 200", "unknown operator"},
		{"http", "status contains 2", "contains needs"},
		{"http", "body < 5", "a string takes"},
		{"http", "connected > true", "a boolean takes"},
		{"http", "connected == yes", "want true or false"},
		{"dns", "rcode == FINE", "unknown DNS rcode"},
		{"dns", "rcode < NOERROR", "an rcode takes"},
		{"dns", "answer < 3", "a list takes"},
		{"http", `body matches "("`, "bad regular expression"},
		{"http", `body contains "unterminated`, "quote"},
		{"http", "body.json..a == 1", "bad JSON path"},
		{"http", "body.json.a[x] == 1", "bad JSON path"},
		{"http", "body.json.a > high", "needs a number"},
		{"http", "len(status) > 1", "len() takes"},
		{"http", "len(status > 1", "missing placeholder"},
		{"dns", "header.server == x", "no headers"},
		{"cmd", "body contains x", "unknown placeholder"},
		{"http", "perfdata.time < 1", "no perfdata"},
		{"", "status == 200", "unknown placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.cond, func(t *testing.T) {
			_, err := ParseCondition(tt.typ, tt.cond)
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestPlaceholdersForEveryType(t *testing.T) {
	for _, typ := range Types() {
		ps := PlaceholdersFor(typ)
		if len(ps) < 2 {
			t.Errorf("%s has placeholders %v", typ, ps)
		}
		for _, p := range ps {
			if strings.HasSuffix(p, "PATH") || strings.HasSuffix(p, "NAME") || strings.HasSuffix(p, "LABEL") {
				continue
			}
			op, val := "==", "x"
			k := placeholders[p].kind
			if tp, ok := typedPlaceholders[typ][p]; ok {
				k = tp.kind
			}
			switch k {
			case kindInt, kindFloat:
				val = "1"
			case kindDuration:
				op, val = "<", "1s"
			case kindBool:
				val = "true"
			case kindRcode:
				val = "NOERROR"
			}
			if _, err := ParseCondition(typ, p+" "+op+" "+val); err != nil {
				t.Errorf("listed placeholder does not compile: %v", err)
			}
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{123 * time.Millisecond, "123ms"},
		{1500 * time.Millisecond, "1.5s"},
		{90 * time.Second, "1m30s"},
		{20*24*time.Hour + 5*time.Hour, "20d5h"},
		{-3 * 24 * time.Hour, "-3d0h"},
		{250 * time.Microsecond, "250µs"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
