package msgtmpl

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestHelpersKeepDataData(t *testing.T) {
	line := Samples()[0].Line
	tests := []struct {
		src  string
		want string
	}{
		{`{"text": {{ .Line | json }}}`, `{"text": "\u003cscript\u003ealert(1)\u003c/script\u003e **bold** [x](http://evil.example) @everyone \u003c!channel\u003e \"quoted\" \u0026 more"}`},
		{`{{ .Line | html }}`, `&lt;script&gt;alert(1)&lt;/script&gt; **bold** [x](http://evil.example) @everyone &lt;!channel&gt; &#34;quoted&#34; &amp; more`},
		{`{{ .Line | markdown }}`, `\<script\>alert\(1\)\</script\> \*\*bold\*\* \[x\]\(http://evil\.example\) @` + "\u200b" + `everyone \<\!channel\> "quoted" & more`},
		{`{{ .Line | slack }}`, "&lt;script&gt;alert(1)&lt;/script&gt; *\u200b*\u200bbold*\u200b*\u200b [x](http://evil.example) @everyone &lt;!channel&gt; \"quoted\" &amp; more"},
		{`{{ "a\nb" | matrixhtml }}`, `a<br>b`},
		{`{{ .Labels.host }} {{ .Labels.nosuch }}|`, `web1 |`},
		{`{{ .Duration | duration }} {{ date "2006-01-02 15:04" .Start }}`, `1m30s 2026-03-01 02:03`},
		{`{{ trunc 5 "abcdefgh" }} {{ "a  b\n c" | oneline }} {{ default "none" "" }}`, `abcd… a b c none`},
		{`{{ if .Firing }}{{ .Severity | upper }}{{ end }}`, `CRITICAL`},
	}
	for _, tc := range tests {
		tp, err := Parse("t", tc.src, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		got, err := tp.Execute(Samples()[0])
		if err != nil || got != tc.want {
			t.Errorf("%s\n got %q %v\nwant %q", tc.src, got, err, tc.want)
		}
	}
	var v map[string]string
	tp, _ := Parse("t", `{"text": {{ .Line | json }}}`, nil)
	out, _ := tp.Execute(Samples()[0])
	if json.Unmarshal([]byte(out), &v) != nil || v["text"] != line {
		t.Errorf("json round trip: %q", out)
	}
}

func TestParseErrors(t *testing.T) {
	for src, want := range map[string]string{
		"{{ .Sevrity }}":                                 "template line 1, column 3: at <.Sevrity>: can't evaluate field Sevrity",
		"ok\n{{ .Subject | nosuch }}":                    `template line 2: function "nosuch" not defined`,
		"{{ if .Firing }}":                               "template line 1: unexpected EOF",
		"{{ range 100000000 }}xxxxxxxxxxxxxxxx{{ end }}": "template writes more than 256 KiB",
		`{{ trunc "x" .Subject }}`:                       `template line 1, column 9: at <"x">: expected integer`,
	} {
		_, err := Parse("t", src, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second: "5s", 90 * time.Second: "1m30s", 10 * time.Minute: "10m", 2*time.Hour + 5*time.Minute: "2h5m",
		27 * time.Hour: "1d3h", 2 * time.Hour: "2h", time.Hour + 30*time.Second: "1h1m",
	} {
		if got := Duration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

// FuzzTemplate: no template source, parsed and run, panics or runs away.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{`{{ .Subject | json }}`, `{{ range .Labels }}{{ . }}{{ end }}`, `{{ .Line | markdown | slack }}`,
		`{{ template "x" }}`, `{{ define "x" }}{{ template "x" }}{{ end }}{{ template "x" }}`, `{{ printf "%*d" 1000000 1 }}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tp, err := Parse("f", src, nil)
		if err != nil {
			return
		}
		for _, a := range Samples() {
			out, err := tp.Execute(a)
			if err == nil && len(out) > maxOutput {
				t.Fatalf("output of %d bytes", len(out))
			}
		}
	})
}

// FuzzEscapers: the escapers never panic and Markdown escaping leaves no
// unescaped formatting character.
func FuzzEscapers(f *testing.F) {
	f.Add(Samples()[0].Line)
	f.Fuzz(func(t *testing.T, s string) {
		JSON(s)
		Slack(s)
		MatrixHTML(s)
		Trunc(10, s)
		OneLine(s)
		m := Markdown(s)
		for i := 0; i < len(m); i++ {
			if strings.IndexByte("*_[]`<>", m[i]) >= 0 && (i == 0 || m[i-1] != '\\') {
				t.Fatalf("unescaped %q at %d in %q", m[i], i, m)
			}
			if m[i] == '\\' {
				i++
			}
		}
	})
}
