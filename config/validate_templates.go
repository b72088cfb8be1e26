//go:build !agent

package config

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
)

// validTemplate parses a template key ("" is the receiver's default) and
// places its error at the template's own line and column in the file
// where that can be known.
func validTemplate(p *positions, key, src string, check func(string) error) {
	if src == "" {
		return
	}
	if _, err := msgtmpl.Parse(key, src, check); err != nil {
		var pe *msgtmpl.PosError
		if errors.As(err, &pe) && pe.Col > 0 {
			// text/template counts bytes; the file's columns are
			// characters.
			if lines := strings.Split(src, "\n"); pe.Line <= len(lines) && pe.Col-1 <= len(lines[pe.Line-1]) {
				pe.Col = utf8.RuneCountInString(lines[pe.Line-1][:pe.Col-1]) + 1
			}
		}
		p.addTemplate(key, err)
	}
}

// addTemplate records a template error: at the line and column inside
// the value when the error gives one and the value's style lets it be
// found (a single-line value, or a literal | block), else at the key.
func (p *positions) addTemplate(path string, err error) {
	var pe *msgtmpl.PosError
	n := p.pos[path]
	if !errors.As(err, &pe) || n == nil {
		p.add(path, "%v", err)
		return
	}
	e := &Error{File: p.file, Key: path, Msg: pe.Msg}
	switch {
	case n.Style&yaml.LiteralStyle != 0:
		e.Line = n.Line + pe.Line
		e.Col = max(pe.Col, 1) + p.indent(e.Line)
	case n.Style&yaml.FoldedStyle != 0:
		e.Line, e.Col = n.Line, n.Column
		e.Msg = fmt.Sprintf("template line %d: %s", pe.Line, pe.Msg)
	case pe.Line == 1:
		e.Line, e.Col = n.Line, n.Column+max(pe.Col, 1)-1
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			e.Col++
		}
	default:
		e.Line, e.Col = n.Line, n.Column
		e.Msg = pe.Error()
	}
	p.errs = append(p.errs, e)
}
