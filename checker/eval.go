package checker

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// evalEnv is what conditions are evaluated against. The body is parsed as
// JSON at most once, however many conditions look into it.
type evalEnv struct {
	values   map[string]any
	jsonDone bool
	jsonVal  any
	jsonErr  error
}

func (e *evalEnv) json() (any, error) {
	if !e.jsonDone {
		e.jsonDone = true
		body, _ := e.values["body"].(string)
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		e.jsonErr = dec.Decode(&e.jsonVal)
		if e.jsonErr != nil {
			e.jsonErr = fmt.Errorf("body is not JSON: %w", e.jsonErr)
		}
	}
	return e.jsonVal, e.jsonErr
}

// Eval tests the condition against a probe's values and says why it
// failed or what it saw.
func (c *Condition) Eval(values map[string]any) (bool, string) {
	return c.eval(&evalEnv{values: values})
}

func (c *Condition) eval(env *evalEnv) (bool, string) {
	var v any
	if c.path != nil {
		js, err := env.json()
		if err != nil {
			return false, err.Error()
		}
		var ok bool
		v, ok = walkJSON(js, c.path)
		if !ok {
			return false, fmt.Sprintf("%s: no such JSON path", c.leftName())
		}
	} else {
		var ok bool
		v, ok = env.values[c.key]
		if !ok {
			return false, fmt.Sprintf("%s: no value", c.leftName())
		}
	}
	if c.length {
		n, ok := lengthOf(v)
		if !ok {
			return false, fmt.Sprintf("%s: has no length", c.leftName())
		}
		v = n
	}
	ok := c.compare(v)
	return ok, c.leftName() + " " + describe(v)
}

func (c *Condition) leftName() string {
	name := c.key
	if c.path != nil {
		name = "body.json"
		for _, p := range c.path {
			name += "." + p
		}
	}
	if c.length {
		return "len(" + name + ")"
	}
	return name
}

func (c *Condition) compare(v any) bool {
	switch c.kind {
	case kindInt, kindFloat:
		n, ok := toFloat(v)
		return ok && c.order(cmpFloat(n, c.num))
	case kindDuration:
		d, ok := v.(time.Duration)
		return ok && c.order(cmpFloat(float64(d), float64(c.dur)))
	case kindBool:
		b, ok := v.(bool)
		return ok && (b == c.bool) == (c.op == opEq)
	case kindRcode:
		s, ok := v.(string)
		return ok && strings.EqualFold(s, c.str) == (c.op == opEq)
	case kindString:
		s, ok := v.(string)
		return ok && c.stringOp(s)
	case kindList:
		l, ok := v.([]string)
		return ok && c.listOp(l)
	case kindJSON:
		return c.jsonOp(v)
	}
	return false
}

func (c *Condition) order(cmp int) bool {
	switch c.op {
	case opEq:
		return cmp == 0
	case opNe:
		return cmp != 0
	case opLt:
		return cmp < 0
	case opLe:
		return cmp <= 0
	case opGt:
		return cmp > 0
	case opGe:
		return cmp >= 0
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	return 2 // NaN: equal to nothing, ordered against nothing
}

func (c *Condition) stringOp(s string) bool {
	switch c.op {
	case opEq:
		return s == c.str
	case opNe:
		return s != c.str
	case opContains:
		return strings.Contains(s, c.str)
	case opNotContains:
		return !strings.Contains(s, c.str)
	case opMatches:
		return c.re.MatchString(s)
	}
	return false
}

// sameItem compares list items as DNS names and SMTP keywords are
// compared: without case and without a final dot.
func sameItem(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

func (c *Condition) listOp(l []string) bool {
	has := func(x string) bool {
		for _, y := range l {
			if sameItem(x, y) {
				return true
			}
		}
		return false
	}
	switch c.op {
	case opEq, opNe:
		// Set equality: answers come back in any order.
		eq := true
		for _, x := range c.list {
			eq = eq && has(x)
		}
		for _, y := range l {
			found := false
			for _, x := range c.list {
				found = found || sameItem(x, y)
			}
			eq = eq && found
		}
		return eq == (c.op == opEq)
	case opContains, opNotContains:
		all := true
		for _, x := range c.list {
			all = all && has(x)
		}
		return all == (c.op == opContains)
	case opMatches:
		for _, y := range l {
			if c.re.MatchString(y) {
				return true
			}
		}
	}
	return false
}

func (c *Condition) jsonOp(v any) bool {
	if c.op.ordering() {
		n, ok := toFloat(v)
		return ok && c.order(cmpFloat(n, c.num))
	}
	switch c.op {
	case opEq, opNe:
		return jsonEqual(v, c.str) == (c.op == opEq)
	case opContains, opNotContains:
		return jsonContains(v, c.str) == (c.op == opContains)
	case opMatches:
		return c.re.MatchString(jsonText(v))
	}
	return false
}

func jsonEqual(v any, want string) bool {
	if n, ok := v.(json.Number); ok {
		a, err1 := n.Float64()
		b, err2 := strconv.ParseFloat(want, 64)
		if err1 == nil && err2 == nil {
			return a == b
		}
	}
	return jsonText(v) == want
}

func jsonContains(v any, want string) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, want)
	case []any:
		for _, e := range x {
			if jsonEqual(e, want) {
				return true
			}
		}
	case map[string]any:
		_, ok := x[want]
		return ok
	}
	return false
}

// jsonText is a JSON value as a condition compares it: strings bare,
// scalars as written, containers as compact JSON.
func jsonText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func walkJSON(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func lengthOf(v any) (int, bool) {
	switch x := v.(type) {
	case string:
		return len(x), true
	case []string:
		return len(x), true
	case []any:
		return len(x), true
	case map[string]any:
		return len(x), true
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// describe renders a value for a condition's detail, short enough for a
// Nagios line and an alert.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 60 {
			return fmt.Sprintf("%q... (%d bytes)", x[:60], len(x))
		}
		return strconv.Quote(x)
	case time.Duration:
		return formatDuration(x)
	case []string:
		if len(x) > 8 {
			return "[" + strings.Join(x[:8], " ") + fmt.Sprintf(" ... %d more]", len(x)-8)
		}
		return "[" + strings.Join(x, " ") + "]"
	case json.Number, bool, nil, map[string]any, []any:
		return clip(jsonText(x), 60)
	}
	return fmt.Sprint(v)
}

// formatDuration prints 123ms, 1.5s, 13d4h: what people write in
// conditions, not Go's 1.5e+06ns.
func formatDuration(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch {
	case d >= 48*time.Hour:
		days := d / (24 * time.Hour)
		h := (d % (24 * time.Hour)) / time.Hour
		s = fmt.Sprintf("%dd%dh", days, h)
	case d >= time.Minute:
		s = d.Round(time.Second).String()
	case d >= time.Second:
		s = d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		s = fmt.Sprintf("%dms", d.Round(time.Millisecond)/time.Millisecond)
	default:
		s = d.Round(time.Microsecond).String()
	}
	if neg {
		return "-" + s
	}
	return s
}

func sortStrings(s []string) { sort.Strings(s) }
