package checker

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/watchpost/watchpost/config"
)

// kind is the static type of a placeholder. Conditions are type-checked
// when the configuration is loaded, so `cert_expires_in > 14x` or
// `status < "abc"` is a configuration error, not a probe that never fails.
type kind int

const (
	kindInt kind = iota + 1
	kindFloat
	kindDuration
	kindString
	kindBool
	kindList
	kindJSON // a value found in the body by a JSON path: typed at run time
	kindRcode
)

func (k kind) String() string {
	switch k {
	case kindInt, kindFloat:
		return "number"
	case kindDuration:
		return "duration"
	case kindString:
		return "string"
	case kindBool:
		return "boolean"
	case kindList:
		return "list"
	case kindJSON:
		return "JSON value"
	case kindRcode:
		return "DNS rcode"
	}
	return "unknown"
}

type op int

const (
	opEq op = iota + 1
	opNe
	opLt
	opLe
	opGt
	opGe
	opContains
	opNotContains
	opMatches
)

var opNames = map[op]string{
	opEq: "==", opNe: "!=", opLt: "<", opLe: "<=", opGt: ">", opGe: ">=",
	opContains: "contains", opNotContains: "!contains", opMatches: "matches",
}

func (o op) String() string { return opNames[o] }

func (o op) ordering() bool { return o >= opLt && o <= opGe }

// placeholder is a name a condition may test for a check type.
type placeholder struct {
	kind  kind
	types string // space-separated check types, "*" for all
}

// placeholders lists every value a probe reports, by check type. The
// prefixes body.json., header. and perfdata. are handled apart.
var placeholders = map[string]placeholder{
	"response_time":       {kindDuration, "*"},
	"connected":           {kindBool, "http tcp tls dns smtp"},
	"ip":                  {kindString, "http tcp tls smtp"},
	"status":              {kindInt, "http"},
	"body":                {kindString, "http tcp tls udp"},
	"dns_time":            {kindDuration, "http"},
	"connect_time":        {kindDuration, "http"},
	"tls_time":            {kindDuration, "http"},
	"first_byte_time":     {kindDuration, "http"},
	"redirects":           {kindInt, "http"},
	"final_url":           {kindString, "http"},
	"cert_expires_in":     {kindDuration, "http tls smtp dns"},
	"tls_version":         {kindString, "http tls smtp dns"},
	"cert_subject":        {kindString, "http tls smtp dns"},
	"cert_issuer":         {kindString, "http tls smtp dns"},
	"rcode":               {kindRcode, "dns"},
	"answer":              {kindList, "dns"},
	"authority":           {kindList, "dns"},
	"authoritative":       {kindBool, "dns"},
	"truncated":           {kindBool, "dns"},
	"recursion_available": {kindBool, "dns"},
	"ttl":                 {kindDuration, "dns"},
	"transport":           {kindString, "dns"},
	"ad":                  {kindBool, "dns"},
	"rrsig_expires_in":    {kindDuration, "dns"},
	"rrsig_count":         {kindInt, "dns"},
	"soa_serial":          {kindInt, "dns"},
	"soa_serials":         {kindList, "dns"},
	"serials_agree":       {kindBool, "dns"},
	"auth":                {kindBool, "smtp"},
	"delivery_time":       {kindDuration, "smtp"},
	"banner":              {kindString, "smtp"},
	"extensions":          {kindList, "smtp"},
	"starttls":            {kindBool, "smtp"},
	"tls":                 {kindBool, "smtp tls dns"},
	"exit_code":           {kindInt, "cmd"},
	"state":               {kindString, "cmd"},
	"output":              {kindString, "cmd"},
	"count":               {kindInt, "file"},
	"newest_age":          {kindDuration, "file"},
	"newest_size":         {kindInt, "file"},
	"size_change_pct":     {kindFloat, "file"},
}

// aliases maps other spellings, Gatus's bracketed ones among them, to the
// canonical names, so a condition copied from a Gatus file still compiles.
var aliases = map[string]string{
	"answers":                  "answer",
	"[status]":                 "status",
	"[response_time]":          "response_time",
	"[body]":                   "body",
	"[certificate_expiration]": "cert_expires_in",
	"[connected]":              "connected",
	"[dns_rcode]":              "rcode",
	"[ip]":                     "ip",
}

// Condition is one compiled test of a probe's values.
type Condition struct {
	src    string
	key    string   // canonical placeholder name; for JSON: "body"
	path   []string // JSON path below the body, when kind is kindJSON
	length bool     // len(key)
	kind   kind     // kind of the left side after len()
	op     op

	// The right side, parsed once for the kind.
	str  string
	num  float64
	dur  time.Duration
	bool bool
	list []string
	re   *regexp.Regexp
}

// String is the condition as written.
func (c *Condition) String() string { return c.src }

// ParseCondition compiles a condition for a check type ("http", "dns",
// ...). A placeholder the type does not report, an operator its kind does
// not support, or a right side that does not parse is an error.
func ParseCondition(checkType, s string) (*Condition, error) {
	c, err := parseCondition(checkType, s)
	if err != nil {
		return nil, fmt.Errorf("condition %q: %w", s, err)
	}
	return c, nil
}

func parseCondition(checkType, s string) (*Condition, error) {
	c := &Condition{src: s}
	rest := strings.TrimSpace(s)
	left, rest := splitLeft(rest)
	if left == "" {
		return nil, errors.New("missing placeholder")
	}
	if err := c.resolveLeft(checkType, left); err != nil {
		return nil, err
	}
	o, rest, err := splitOp(strings.TrimSpace(rest))
	if err != nil {
		return nil, err
	}
	c.op = o
	if err := c.parseRight(strings.TrimSpace(rest)); err != nil {
		return nil, err
	}
	return c, nil
}

// splitLeft takes the placeholder: len(...) or a run up to a space or an
// operator character.
func splitLeft(s string) (string, string) {
	if strings.HasPrefix(strings.ToLower(s), "len(") {
		if i := strings.IndexByte(s, ')'); i > 0 {
			return s[:i+1], s[i+1:]
		}
		return "", s
	}
	i := strings.IndexAny(s, " \t=!<>")
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

func splitOp(s string) (op, string, error) {
	for _, t := range []struct {
		text string
		op   op
	}{
		{"==", opEq}, {"!=", opNe}, {"<=", opLe}, {">=", opGe}, {"<", opLt}, {">", opGt},
		{"!contains ", opNotContains}, {"not contains ", opNotContains},
		{"contains ", opContains}, {"matches ", opMatches},
	} {
		if len(s) >= len(t.text) && strings.EqualFold(s[:len(t.text)], t.text) {
			return t.op, s[len(t.text):], nil
		}
	}
	if s == "" {
		return 0, "", errors.New("missing operator (==, !=, <, <=, >, >=, contains, !contains, matches)")
	}
	return 0, "", fmt.Errorf("unknown operator at %q (want ==, !=, <, <=, >, >=, contains, !contains, matches)", clip(s, 20))
}

func (c *Condition) resolveLeft(checkType, left string) error {
	name := strings.ToLower(left)
	if strings.HasPrefix(name, "len(") && strings.HasSuffix(name, ")") {
		c.length = true
		name = strings.TrimSpace(name[4 : len(name)-1])
		left = strings.TrimSpace(left[4 : len(left)-1])
	}
	if strings.HasPrefix(name, "[body].") {
		left = "body.json." + left[len("[body]."):]
		name = strings.ToLower(left)
	}
	if a, ok := aliases[name]; ok {
		name = a
	}
	k, key, err := lookupPlaceholder(checkType, name, left)
	if err != nil {
		return err
	}
	c.key = key
	if k == kindJSON {
		c.path = splitJSONPath(left[len("body.json"):])
		if c.path == nil {
			return fmt.Errorf("bad JSON path in %q", left)
		}
	}
	c.kind = k
	if c.length {
		switch k {
		case kindString, kindList, kindJSON:
			c.kind = kindInt
		default:
			return fmt.Errorf("len() takes a string, list or JSON value, not %s %s", k, name)
		}
	}
	return nil
}

func lookupPlaceholder(checkType, name, orig string) (kind, string, error) {
	switch {
	case strings.HasPrefix(name, "body.json"):
		if !hasType(placeholders["body"].types, checkType) {
			return 0, "", fmt.Errorf("%s checks have no body", checkType)
		}
		return kindJSON, name[:len("body.json")], nil
	case strings.HasPrefix(name, "header."):
		if checkType != "http" {
			return 0, "", fmt.Errorf("%s checks have no headers", checkType)
		}
		if len(name) == len("header.") {
			return 0, "", errors.New("header. needs a header name")
		}
		return kindString, name, nil
	case strings.HasPrefix(name, "perfdata."):
		if checkType != "cmd" {
			return 0, "", fmt.Errorf("%s checks have no perfdata", checkType)
		}
		if len(name) == len("perfdata.") {
			return 0, "", errors.New("perfdata. needs a label")
		}
		// Labels keep their case: plugins print them as they like.
		return kindFloat, "perfdata." + orig[len("perfdata."):], nil
	}
	if p, ok := typedPlaceholders[checkType][name]; ok {
		return p.kind, name, nil
	}
	p, ok := placeholders[name]
	if !ok || !hasType(p.types, checkType) {
		return 0, "", fmt.Errorf("unknown placeholder %q for %s checks (they have: %s)", orig, checkType, strings.Join(PlaceholdersFor(checkType), ", "))
	}
	return p.kind, name, nil
}

func hasType(types, t string) bool {
	if types == "*" {
		return true
	}
	for _, x := range strings.Fields(types) {
		if x == t {
			return true
		}
	}
	return false
}

// PlaceholdersFor lists the placeholders a check type reports, sorted.
func PlaceholdersFor(checkType string) []string {
	var out []string
	for name, p := range placeholders {
		if _, own := typedPlaceholders[checkType][name]; hasType(p.types, checkType) && !own {
			out = append(out, name)
		}
	}
	for name := range typedPlaceholders[checkType] {
		out = append(out, name)
	}
	switch checkType {
	case "http":
		out = append(out, "body.json.PATH", "header.NAME")
	case "cmd":
		out = append(out, "perfdata.LABEL")
	}
	sortStrings(out)
	return out
}

// splitJSONPath reads ".a.b[0].c" (or "" for the whole body) into
// segments; an index is a segment of digits.
func splitJSONPath(p string) []string {
	segs := []string{}
	for p != "" {
		switch p[0] {
		case '.':
			p = p[1:]
			i := strings.IndexAny(p, ".[")
			if i < 0 {
				i = len(p)
			}
			if i == 0 {
				return nil
			}
			segs = append(segs, p[:i])
			p = p[i:]
		case '[':
			j := strings.IndexByte(p, ']')
			if j < 2 {
				return nil
			}
			if _, err := strconv.Atoi(p[1:j]); err != nil {
				return nil
			}
			segs = append(segs, p[1:j])
			p = p[j+1:]
		default:
			return nil
		}
	}
	return segs
}

func (c *Condition) parseRight(raw string) error {
	if raw == "" {
		return errors.New("missing value after the operator")
	}
	val, quoted, err := unquote(raw)
	if err != nil {
		return err
	}
	c.str = val
	if c.op == opMatches {
		if c.kind != kindString && c.kind != kindJSON && c.kind != kindList {
			return fmt.Errorf("matches needs a string, not a %s", c.kind)
		}
		re, err := regexp.Compile(val)
		if err != nil {
			return fmt.Errorf("bad regular expression: %w", err)
		}
		c.re = re
		return nil
	}
	if (c.op == opContains || c.op == opNotContains) && c.kind != kindString && c.kind != kindList && c.kind != kindJSON {
		return fmt.Errorf("%s needs a string or list, not a %s", c.op, c.kind)
	}
	switch c.kind {
	case kindInt, kindFloat:
		n, err := strconv.ParseFloat(val, 64)
		if err != nil || quoted {
			return fmt.Errorf("want a number, got %q", val)
		}
		c.num = n
	case kindDuration:
		d, err := config.ParseDuration(val)
		if err != nil || quoted {
			return fmt.Errorf("want a duration like 500ms, 2s or 14d, got %q", val)
		}
		c.dur = d
	case kindBool:
		b, err := strconv.ParseBool(val)
		if err != nil || quoted {
			return fmt.Errorf("want true or false, got %q", val)
		}
		if c.op != opEq && c.op != opNe {
			return fmt.Errorf("a boolean takes == or !=, not %s", c.op)
		}
		c.bool = b
	case kindRcode:
		if c.op != opEq && c.op != opNe {
			return fmt.Errorf("an rcode takes == or !=, not %s", c.op)
		}
		if _, ok := dns.StringToRcode[strings.ToUpper(val)]; !ok {
			return fmt.Errorf("unknown DNS rcode %q (want NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...)", val)
		}
		c.str = strings.ToUpper(val)
	case kindString:
		if c.op.ordering() {
			return fmt.Errorf("a string takes ==, !=, contains, !contains or matches, not %s", c.op)
		}
	case kindList:
		if c.op.ordering() {
			return fmt.Errorf("a list takes ==, !=, contains or !contains, not %s (use len(...))", c.op)
		}
		for _, x := range strings.Split(val, ",") {
			if x = strings.TrimSpace(x); x != "" {
				c.list = append(c.list, x)
			}
		}
	case kindJSON:
		if c.op.ordering() {
			n, err := strconv.ParseFloat(val, 64)
			if err != nil {
				return fmt.Errorf("%s needs a number, got %q", c.op, val)
			}
			c.num = n
		}
	}
	return nil
}

// unquote takes "...", '...' or a bare word.
func unquote(s string) (string, bool, error) {
	switch {
	case len(s) >= 2 && s[0] == '"':
		v, err := strconv.Unquote(s)
		if err != nil {
			return "", true, fmt.Errorf("bad quoted string %s", clip(s, 40))
		}
		return v, true, nil
	case len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'':
		return s[1 : len(s)-1], true, nil
	case s[0] == '"' || s[0] == '\'':
		return "", true, fmt.Errorf("unterminated quote in %s", clip(s, 40))
	}
	return s, false, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// compileConditions compiles a list, naming every bad one.
func compileConditions(checkType, key string, srcs []string) ([]*Condition, error) {
	var out []*Condition
	var errs []error
	for i, s := range srcs {
		c, err := ParseCondition(checkType, s)
		if err != nil {
			errs = append(errs, &FieldError{Key: fmt.Sprintf("%s[%d]", key, i), Err: err})
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}
