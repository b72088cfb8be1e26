// Package readme reads the code blocks of the project's Markdown files, so
// that tests can check every shell example parses as bash parses it and
// run the tour and the deploy steps as written.
package readme

import (
	"os"
	"regexp"
	"strings"
)

// Block is one code block of a Markdown file.
type Block struct {
	File     string
	Line     int    // 1-based line of the block's first content line
	Lang     string // the fence's tag ("sh", "yaml", ""); "" for indented blocks
	Indented bool
	Section  string // the nearest "## " heading above it
	Text     string
}

// Blocks returns the fenced and indented code blocks of a Markdown file.
func Blocks(path string) ([]Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(data), "\n")
	var out []Block
	section := ""
	prevBlank := true
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if h, ok := strings.CutPrefix(l, "## "); ok {
			section = strings.TrimSpace(h)
		}
		if tag, ok := strings.CutPrefix(l, "```"); ok {
			b := Block{File: path, Line: i + 2, Lang: strings.TrimSpace(tag), Section: section}
			var body []string
			for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
				body = append(body, lines[i])
			}
			b.Text = strings.Join(body, "\n") + "\n"
			out = append(out, b)
			prevBlank = false
			continue
		}
		// An indented block follows a blank line and is not a list item's
		// continuation.
		if prevBlank && strings.HasPrefix(l, "    ") && strings.TrimSpace(l) != "" && !inList(lines, i) {
			b := Block{File: path, Line: i + 1, Indented: true, Section: section}
			var body []string
			for ; i < len(lines) && (strings.HasPrefix(lines[i], "    ") || strings.TrimSpace(lines[i]) == ""); i++ {
				body = append(body, strings.TrimPrefix(lines[i], "    "))
			}
			i--
			b.Text = strings.TrimRight(strings.Join(body, "\n"), "\n") + "\n"
			out = append(out, b)
			prevBlank = false
			continue
		}
		prevBlank = strings.TrimSpace(l) == ""
	}
	return out, nil
}

// inList reports whether line i continues a list item (the nearest
// non-blank, non-indented line above it starts one).
func inList(lines []string, i int) bool {
	for j := i - 1; j >= 0; j-- {
		l := lines[j]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "    ") {
			continue
		}
		return strings.HasPrefix(l, "- ") || strings.HasPrefix(l, "* ") || regexp.MustCompile(`^\d+\. `).MatchString(l)
	}
	return false
}

// commandStart is how a line that is a command begins, in blocks whose
// fence says nothing.
var commandStart = regexp.MustCompile(`^(\$ |\./watchpost |watchpost |go |bench/|scripts/|make |docker |curl |logger |[A-Z_]+=\S* )`)

// IsShell reports whether the block is shell: a sh, bash, shell or
// console fence, or an untagged or indented block whose first line is a
// command.
func (b Block) IsShell() bool {
	switch b.Lang {
	case "sh", "bash", "shell", "console":
		return true
	case "":
		first := strings.TrimSpace(strings.SplitN(strings.TrimLeft(b.Text, "\n"), "\n", 2)[0])
		return commandStart.MatchString(first)
	}
	return false
}

// Script is the block as bash would read it: for a block of "$ command"
// lines with their output, the commands alone.
func (b Block) Script() string {
	if !strings.Contains(b.Text, "$ ") || !strings.HasPrefix(strings.TrimLeft(b.Text, "\n"), "$ ") {
		return b.Text
	}
	var cmds []string
	for _, l := range strings.Split(b.Text, "\n") {
		if c, ok := strings.CutPrefix(l, "$ "); ok {
			cmds = append(cmds, c)
		}
	}
	return strings.Join(cmds, "\n") + "\n"
}
