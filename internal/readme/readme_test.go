package readme

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// accidents parses a script as bash does and reports each redirection
// glued to the word before it: `watchpost grep status>=500` is the word
// "status" with its output sent to a file "=500", which is never what an
// example means. An intended redirection stands apart (`cmd > file`,
// `2>&1`, `<<'EOF'`).
func accidents(script string) ([]string, error) {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash), syntax.KeepComments(true)).Parse(strings.NewReader(script), "")
	if err != nil {
		return nil, err
	}
	var out []string
	syntax.Walk(f, func(n syntax.Node) bool {
		r, ok := n.(*syntax.Redirect)
		if !ok {
			return true
		}
		at := r.OpPos.Offset()
		if r.N != nil {
			at = r.N.Pos().Offset()
		}
		if at > 0 {
			if c := script[at-1]; c != ' ' && c != '\t' && c != '\n' {
				line := script[strings.LastIndexByte(script[:at], '\n')+1:]
				if i := strings.IndexByte(line, '\n'); i >= 0 {
					line = line[:i]
				}
				out = append(out, fmt.Sprintf("line %d: %q redirects %s glued to the word before it: %s", r.OpPos.Line(), r.Op, wordText(r.Word), line))
			}
		}
		return true
	})
	return out, nil
}

func wordText(w *syntax.Word) string {
	if w == nil {
		return ""
	}
	var b strings.Builder
	syntax.NewPrinter().Print(&b, w)
	return b.String()
}

func TestAccidentsFound(t *testing.T) {
	for script, want := range map[string]int{
		"watchpost grep status>=500 site=x\n":           1,
		"watchpost grep -o json severity<=err | jq .\n": 1,
		"watchpost grep 'status>=500' status=500..\n":   0,
		"go test ./... > out.txt 2>&1\n":                0,
		"cat > /etc/x.conf <<'EOF'\na>b\nEOF\n":         0,
		"printf '%s\\n' 'a' > access.log\n":             0,
		"watchpost grep program~'^postfix/' a=b\n":      0,
		"echo 'pass' | watchpost user hash\n":           0,
		"watchpost grep -f x>/dev/null\n":               1,
	} {
		got, err := accidents(script)
		if err != nil {
			t.Fatalf("%q: %v", script, err)
		}
		if len(got) != want {
			t.Errorf("%q: %d accidents %q, want %d", script, len(got), got, want)
		}
	}
}

// TestShellExamples: every shell example of README.md and docs/*.md
// parses with bash -n and with a bash parser, and none redirects by
// accident. A usage synopsis ([-flag text|json]) belongs in a ```text
// block, where it is not read as shell.
func TestShellExamples(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash not found")
	}
	files, _ := filepath.Glob("../../docs/*.md")
	files = append([]string{"../../README.md", "../../deploy/README.md"}, files...)
	n := 0
	for _, file := range files {
		blocks, err := Blocks(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			if !b.IsShell() {
				continue
			}
			n++
			script := b.Script()
			where := fmt.Sprintf("%s:%d", strings.TrimPrefix(b.File, "../../"), b.Line)
			if out, err := exec.Command(bash, "-n", "-c", script).CombinedOutput(); err != nil {
				t.Errorf("%s: bash -n: %v\n%s\n%s", where, err, out, script)
				continue
			}
			acc, err := accidents(script)
			if err != nil {
				t.Errorf("%s: %v\n%s", where, err, script)
			}
			for _, a := range acc {
				t.Errorf("%s: %s", where, a)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d shell examples found: the block reader is broken", n)
	}
}

// The README speaks to its users: no word of the project's issues or
// work sessions, and no link out of the repository (a reader of a
// release has no "../shared").
func TestReadmeSpeaksToUsers(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	bad := regexp.MustCompile(`(?i)\b(session notes?|sessions\b|issue \d+|open issues?|the \w+ issue\b)|\]\(\.\./`)
	for i, l := range strings.Split(string(b), "\n") {
		if m := bad.FindString(l); m != "" {
			t.Errorf("README.md:%d speaks of %q: %s", i+1, m, l)
		}
	}
}
