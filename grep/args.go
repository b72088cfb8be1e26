package grep

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `usage: watchpost grep [flags] QUERY... [flags] [-- QUERY...]

Flags may come before, between or after the query words; "--" ends them.

QUERY: every term must hold:
  word  "a phrase"     the line contains it (case-insensitive, as grep -i -F)
  -word  -"a phrase"   the line must NOT contain it
  field=value  field!=value  field~regex  field!~regex
  field=500..  field=..499  field=500..599   numeric ranges (no shell quoting needed)
  severity=..err       emerg through err; field>N field<N field>=N field<=N work
                       too, quoted for the shell: 'status>=500'
A "-word" that is also a flag name (-f, -n, -data...) goes after "--".

`)
	fs.PrintDefaults()
}

// parseInterleaved reads flags wherever they stand among the query words,
// as GNU grep and journalctl do: `watchpost grep sshd -since 10m` is the
// same search as `watchpost grep -since 10m sshd`. "--" ends the flags.
// An argument starting with "-" that names no flag is a negated query
// term (-cron: the line must not contain "cron"), except where it most
// likely is a mistaken flag: a single letter (grep's -v, -i ...) or a
// flag name misspelt by one letter. Those are errors that say how to
// mean the word, since a search quietly run with a wrong term is a false
// "no match".
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(words, args[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			words = append(words, a)
			continue
		}
		name := strings.TrimPrefix(a[1:], "-")
		name, _, hasValue := strings.Cut(name, "=")
		f := fs.Lookup(name)
		if name == "h" || name == "help" {
			fs.Usage()
			return nil, flag.ErrHelp
		}
		if f == nil {
			if strings.HasPrefix(a, "--") {
				return nil, fmt.Errorf("unknown flag %s", a)
			}
			if msg := mistakenFlag(fs, a[1:]); msg != "" {
				return nil, fmt.Errorf("%s; to leave out lines containing %q, put it after --: watchpost grep ... -- %s", msg, a[1:], a)
			}
			words = append(words, a)
			continue
		}
		one := []string{a}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && bf.IsBoolFlag()) {
			if i+1 == len(args) {
				return nil, fmt.Errorf("flag %s needs a value", a)
			}
			i++
			one = append(one, args[i])
		}
		// The error is reported once, by the caller.
		saved, out := fs.Usage, fs.Output()
		fs.Usage = func() {}
		fs.SetOutput(io.Discard)
		err := fs.Parse(one)
		fs.Usage = saved
		fs.SetOutput(out)
		if err != nil {
			return nil, err
		}
	}
	return words, nil
}

// mistakenFlag says why -word (given without its dash) looks like a flag
// typed wrong rather than a negated word, or "" when it does not.
func mistakenFlag(fs *flag.FlagSet, word string) string {
	if len(word) == 1 && (word[0]|0x20 >= 'a' && word[0]|0x20 <= 'z') {
		return fmt.Sprintf("-%s is not a flag of watchpost grep (see watchpost grep -h)", word)
	}
	if strings.ContainsAny(word, "=~<>!\"") {
		return "" // a negated field term or phrase
	}
	var near string
	fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) >= 4 && editDistance1(strings.ToLower(word), f.Name) {
			near = f.Name
		}
	})
	if near != "" {
		return fmt.Sprintf("-%s is not a flag (did you mean -%s?)", word, near)
	}
	return ""
}

// editDistance1 reports whether a and b differ by exactly one inserted,
// deleted or replaced byte, or two swapped neighbours.
func editDistance1(a, b string) bool {
	if a == b {
		return false
	}
	if len(a) == len(b) {
		diff := -1
		for i := 0; i < len(a); i++ {
			if a[i] != b[i] {
				if diff >= 0 {
					// two differences: a swap of neighbours counts as one
					return i == diff+1 && a[diff] == b[i] && a[i] == b[diff] && a[i+1:] == b[i+1:]
				}
				diff = i
			}
		}
		return true
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	if len(a) != len(b)+1 {
		return false
	}
	i := 0
	for i < len(b) && a[i] == b[i] {
		i++
	}
	return a[i+1:] == b[i:]
}
