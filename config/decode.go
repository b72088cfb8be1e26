// Package config reads Watchpost's YAML configuration files strictly:
// unknown keys, wrong types and bad values are errors that name
// file:line:column and the key, and every error of a file is reported at
// once.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a configuration file.
type Error struct {
	File      string
	Line, Col int
	Key       string // dotted path: checks[0].interval
	Msg       string
}

func (e *Error) Error() string {
	pos := e.File
	if e.Line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col)
	}
	if e.Key == "" {
		return pos + ": " + e.Msg
	}
	return pos + ": " + e.Key + ": " + e.Msg
}

// Errors is every problem found in a file, in line order.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Duration is a Go duration that also takes d (days) and w (weeks).
type Duration time.Duration

// ParseDuration reads "90s", "1h30m", "14d", "1w2d".
func ParseDuration(s string) (time.Duration, error) {
	var total time.Duration
	rest := strings.TrimSpace(s)
	if rest == "" {
		return 0, errors.New("empty duration")
	}
	if rest == "0" {
		return 0, nil // "off", as Go's time.ParseDuration reads it
	}
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 90s, 5m, 2h, 14d, 1w)", s)
		}
		j := i
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
			j++
		}
		num, unit := rest[:i], rest[i:j]
		switch unit {
		case "d", "w":
			n, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			per := 24 * time.Hour
			if unit == "w" {
				per *= 7
			}
			if n*float64(per) > float64(1<<62) {
				return 0, fmt.Errorf("duration %q is too long", s)
			}
			total += time.Duration(n * float64(per))
		default:
			d, err := time.ParseDuration(num + unit)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q (want e.g. 90s, 5m, 2h, 14d, 1w)", s)
			}
			total += d
		}
		rest = rest[j:]
	}
	return total, nil
}

// ByteSize is a size in bytes written as 500MB, 2GiB, 10G or a number.
type ByteSize int64

// ParseByteSize reads a size: decimal (kB, MB, GB, TB, K, M, G, T) and
// binary (KiB, MiB, GiB, TiB) units, or plain bytes.
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 500MB, 2GiB)", s)
	}
	n, err := strconv.ParseFloat(t[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	mult := map[string]float64{"": 1, "B": 1, "K": 1e3, "KB": 1e3, "kB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[strings.TrimSpace(t[i:])]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q", s, strings.TrimSpace(t[i:]))
	}
	if n*mult > 1<<62 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(n * mult), nil
}

// Secret is a value that may instead be read from a file: a key `token`
// of type Secret also accepts `token_file`.
type Secret string

var (
	durationType = reflect.TypeOf(Duration(0))
	sizeType     = reflect.TypeOf(ByteSize(0))
	secretType   = reflect.TypeOf(Secret(""))
)

// decoder walks a YAML node tree into a Go value, collecting errors.
type decoder struct {
	file string
	dir  string // relative *_file paths are read from here
	errs Errors
	pos  map[string]*yaml.Node // where each key path was given, for validation errors
}

func (d *decoder) fail(n *yaml.Node, key, format string, a ...any) {
	e := &Error{File: d.file, Key: key, Msg: fmt.Sprintf(format, a...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decode fills v (a pointer's target) from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.pos != nil && len(d.pos) < 100000 {
		d.pos[path] = n
	}
	switch v.Type() {
	case durationType:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "expected a duration (90s, 2h, 14d), got %s", kindName(n))
			return
		}
		dur, err := ParseDuration(n.Value)
		if err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		v.SetInt(int64(dur))
		return
	case sizeType:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "expected a size (500MB, 2GiB), got %s", kindName(n))
			return
		}
		b, err := ParseByteSize(n.Value)
		if err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		v.SetInt(b)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if n.Tag == "!!null" {
			return
		}
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, join(path, k.Value))
			m.SetMapIndex(reflect.ValueOf(k.Value), ev)
		}
		v.Set(m)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			d.fail(n, path, "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil || n.Tag != "!!bool" {
			d.fail(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "expected a whole number, got %s", kindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "expected a number, got %s", kindName(n))
			return
		}
		v.SetFloat(f)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		d.fail(n, path, "cannot read into %s", v.Type())
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	t := v.Type()
	fields, index := structFields(t)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		if seen[key] {
			d.fail(k, join(path, key), "given twice")
			continue
		}
		seen[key] = true
		if _, ok := fields[key]; ok {
			d.decode(val, fieldOf(v, index[key]), join(path, key))
			continue
		}
		if base, ok := strings.CutSuffix(key, "_file"); ok {
			if _, ok := fields[base]; ok && t.FieldByIndex(index[base]).Type == secretType {
				if seen[base] {
					d.fail(k, join(path, key), "give %s or %s, not both", base, key)
					continue
				}
				d.readSecret(val, fieldOf(v, index[base]), join(path, key))
				continue
			}
		}
		d.fail(k, join(path, key), "unknown key%s", suggest(key, fields))
	}
}

// structFields maps the YAML keys of a struct to their fields; the keys
// of a field tagged ",inline" (a struct, or a pointer to one) are read
// as the outer struct's own.
func structFields(t reflect.Type) (names map[string]int, index map[string][]int) {
	names, index = map[string]int{}, map[string][]int{}
	for i := 0; i < t.NumField(); i++ {
		parts := strings.Split(t.Field(i).Tag.Get("yaml"), ",")
		if len(parts) > 1 && parts[0] == "" && parts[1] == "inline" && t.Field(i).Type.Kind() == reflect.Struct {
			_, inner := structFields(t.Field(i).Type)
			for k, idx := range inner {
				names[k] = len(names)
				index[k] = append([]int{i}, idx...)
			}
			continue
		}
		if parts[0] != "" && parts[0] != "-" {
			names[parts[0]] = i
			index[parts[0]] = []int{i}
		}
	}
	return names, index
}

// fieldOf is v.FieldByIndex for the paths structFields returns.
func fieldOf(v reflect.Value, index []int) reflect.Value {
	return v.FieldByIndex(index)
}

func (d *decoder) readSecret(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		d.fail(n, path, "expected a file path, got %s", kindName(n))
		return
	}
	p := n.Value
	if !filepath.IsAbs(p) {
		p = filepath.Join(d.dir, p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		d.fail(n, path, "cannot read the secret: %v", err)
		return
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		d.fail(n, path, "the secret file %s is empty", p)
		return
	}
	v.SetString(s)
}

// suggest names a known key one edit away, for typos like "lisen".
func suggest(key string, fields map[string]int) string {
	var best string
	for f := range fields {
		if editDistance(key, f) <= 2 && (best == "" || f < best) {
			best = f
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 40 || len(b) > 40 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// positions maps a key path (checks[0].interval) to where it was given.
type positions struct {
	file string
	pos  map[string]*yaml.Node
	errs Errors
	data []byte // the file, for places inside a value (templates)
}

// add records a validation error at path, or at the nearest enclosing key
// that was given in the file.
func (p *positions) add(path, format string, a ...any) {
	e := &Error{File: p.file, Key: path, Msg: fmt.Sprintf(format, a...)}
	for q := path; ; {
		if n, ok := p.pos[q]; ok {
			e.Line, e.Col = n.Line, n.Column
			break
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	p.errs = append(p.errs, e)
}

func (p *positions) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	sortErrors(p.errs)
	return p.errs
}

// decodeFile parses data (from file) into v, strictly, over the values v
// already holds (the defaults).
func decodeFile(file string, data []byte, v any) (*positions, error) {
	d := &decoder{file: file, dir: filepath.Dir(file), pos: map[string]*yaml.Node{}}
	p := &positions{file: file, pos: d.pos, data: data}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return p, Errors{syntaxError(file, data, err)}
	}
	if len(root.Content) == 0 {
		return p, nil // an empty file: all defaults
	}
	d.decode(root.Content[0], reflect.ValueOf(v).Elem(), "")
	if len(d.errs) > 0 {
		sortErrors(d.errs)
		return p, d.errs
	}
	return p, nil
}

func sortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}

// syntaxError turns the YAML parser's error into file:line:column. The
// parser's own message names a line only sometimes, and then the line
// where the enclosing construct began (often 1, and never a column), so
// the line is found by parsing ever longer beginnings of the file: the
// first that fails ends on the line with the error, or where a construct
// that is never closed (a quote, a bracket) begins. The column is that
// line's first character, or a colon the parser objects to.
func syntaxError(file string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if _, err := strconv.Atoi(rest[:i]); err == nil {
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	e := &Error{File: file, Msg: "YAML syntax: " + msg}
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > 5000 {
		lines = lines[:5000] // bounded work on a huge file; the line may then be missing
	}
	var prefix strings.Builder
	for i, l := range lines {
		prefix.WriteString(l)
		var n yaml.Node
		if yaml.Unmarshal([]byte(prefix.String()), &n) == nil {
			continue
		}
		e.Line = i + 1
		text := strings.TrimRight(l, "\r\n")
		e.Col = len(text) - len(strings.TrimLeft(text, " ")) + 1
		if strings.Contains(msg, "mapping values") {
			if j := strings.Index(text, ": "); j >= 0 || strings.HasSuffix(text, ":") {
				if j < 0 {
					j = len(text) - 1
				}
				e.Col = j + 1
			}
		}
		if e.Col > len(text) {
			e.Col = 1
		}
		break
	}
	return e
}
