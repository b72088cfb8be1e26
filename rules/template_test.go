package rules

import (
	"testing"
)

// flat renders words with each byte marked as log data or not, which is
// all that splitCommand and the actions look at.
func flat(ws []word) string {
	var out string
	for _, w := range ws {
		out += "["
		for _, sg := range w {
			for i := 0; i < len(sg.s); i++ {
				if sg.lit {
					out += "L"
				}
				out += string(sg.s[i])
			}
			if sg.lit && sg.s == "" {
				out += "E"
			}
		}
		out += "]"
	}
	return out
}

// FuzzTemplate: an action text read once as a template and filled in
// gives exactly the tokens of reading it with the match substituted.
func FuzzTemplate(f *testing.F) {
	f.Add(`echo "login $3 from $4"`, "Accepted publickey for bob from 192.0.2.1", 2)
	f.Add(`exec /bin/x '$2' $2$9 "a\"$0" \$1`, "line", 1)
	f.Fuzz(func(t *testing.T, body, line string, nsub int) {
		nsub = nsub & 7
		idx := make([]int, 2*nsub)
		for i := range idx {
			idx[i] = -1
		}
		if nsub > 0 && len(line) > 2 {
			idx[0], idx[1] = 1, len(line)-1
		}
		m := &match{line: line, idx: idx, nsub: nsub}
		want, ok1 := collectTokens(body, m, substPlain)
		tmpl, ok2 := collectTokens(body, nil, substTemplate)
		if ok1 != ok2 {
			t.Fatalf("ok %v vs %v", ok1, ok2)
		}
		if !ok1 {
			return
		}
		if got := fill(tmpl, m); flat(got) != flat(want) {
			t.Fatalf("%q: template gives %s, direct %s", body, flat(got), flat(want))
		}

	})
}
