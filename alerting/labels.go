package alerting

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Labels describe an alert for routing, silencing and grouping: severity,
// service, check, host, source (check, heartbeat, rule, metric,
// host_silent) and whatever a check or rule adds.
type Labels map[string]string

// String is the labels sorted, name="value", for logs and route-test.
func (l Labels) String() string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(l[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// CheckInfo is what the configuration says about a check or heartbeat
// that its outbox rows do not carry.
type CheckInfo struct {
	Labels    map[string]string
	Heartbeat bool
	DependsOn []string // checks whose outage mutes this one's alerts
}

// labelsOf derives a row's labels from its kind and payload; a payload's
// own "labels" object (host_silent rows, later sources) is merged last
// but never overrides source.
func (d *Dispatcher) labelsOf(kind string, payload []byte) Labels {
	l := Labels{}
	if kind == "reminder" || kind == "escalation" {
		// A reminder of an incident other than a check's carries the
		// incident's labels.
		var c change
		if json.Unmarshal(payload, &c) == nil && c.Source != "" {
			for k, v := range c.Labels {
				l[k] = v
			}
			l["source"] = c.Source
			if l["severity"] == "" {
				l["severity"] = "warning"
			}
			return l
		}
	}
	switch kind {
	case KindIncident:
		var ev incidentEvent
		json.Unmarshal(payload, &ev)
		for k, v := range ev.Labels {
			l[k] = v
		}
		l["source"], l["severity"] = ev.Source, cmp.Or(ev.Severity, l["severity"])
		return cmpLabels(l)
	case KindLoghostDisk:
		var ev diskEvent
		json.Unmarshal(payload, &ev)
		l["source"], l["severity"], l["service"] = SourceLoghost, cmp.Or(ev.Severity, "warning"), "loghost"
		return l
	case "check_down", "check_up", "check_degraded", "flap_start", "flap_stop", "reminder", "escalation":
		var c change
		json.Unmarshal(payload, &c)
		info := d.cfg.Checks[c.Check]
		l["source"] = "check"
		if info.Heartbeat {
			l["source"] = "heartbeat"
		}
		l["check"], l["service"] = c.Check, c.Check
		l["severity"] = "critical"
		if kind == "check_degraded" || c.To == "degraded" {
			l["severity"] = "warning"
		}
		for k, v := range info.Labels {
			l[k] = v
		}
	case "rule_alert":
		var a alert
		json.Unmarshal(payload, &a)
		for k, v := range a.Labels {
			l[k] = v
		}
		l["source"] = "rule"
		if a.Severity != "" {
			l["severity"] = a.Severity
		}
	case "metric_threshold":
		var ev metricEvent
		json.Unmarshal(payload, &ev)
		l["source"], l["host"], l["service"], l["graph"], l["field"] = "metric", ev.Host, ev.Graph, ev.Graph, ev.Field
		l["severity"] = ev.To
		if ev.To == "ok" {
			l["severity"] = ev.From
		}
	case "host_silent", "host_back":
		l["source"], l["severity"] = "host_silent", "critical"
	case KindMonthlyReport:
		l["source"], l["severity"] = "report", "info"
	}
	var extra struct {
		Labels map[string]string `json:"labels"`
	}
	if json.Unmarshal(payload, &extra) == nil {
		for k, v := range extra.Labels {
			if k != "source" || l["source"] == "" {
				l[k] = v
			}
		}
	}
	if l["severity"] == "" {
		l["severity"] = "warning"
	}
	return l
}

func cmpLabels(l Labels) Labels {
	if l["severity"] == "" {
		l["severity"] = "warning"
	}
	return l
}

// Matcher tests one label: Op is "=", "!=", "=~" or "!~"; regular
// expressions are anchored.
type Matcher struct {
	Name  string `json:"name"`
	Op    string `json:"op"`
	Value string `json:"value"`
	re    *regexp.Regexp
}

// NewMatcher compiles a matcher.
func NewMatcher(name, op, value string) (Matcher, error) {
	m := Matcher{Name: name, Op: op, Value: value}
	if name == "" {
		return m, fmt.Errorf("matcher without a label name")
	}
	switch op {
	case "=", "!=":
	case "=~", "!~":
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return m, fmt.Errorf("label %s: bad regular expression: %w", name, err)
		}
		m.re = re
	default:
		return m, fmt.Errorf("label %s: unknown operator %q (want =, !=, =~ or !~)", name, op)
	}
	return m, nil
}

// ParseMatch reads a route's match value: "=~RE", "!~RE", "!=V" or a
// plain value (equality).
func ParseMatch(name, v string) (Matcher, error) {
	for _, op := range []string{"=~", "!~", "!="} {
		if rest, ok := strings.CutPrefix(v, op); ok {
			return NewMatcher(name, op, rest)
		}
	}
	return NewMatcher(name, "=", v)
}

// ParseMatcher reads "name=value", "name=~re", "name!=value" or
// "name!~re" (route-test arguments, silences given as text).
func ParseMatcher(s string) (Matcher, error) {
	i := strings.IndexAny(s, "=!")
	if i <= 0 {
		return Matcher{}, fmt.Errorf("want LABEL=VALUE, LABEL=~REGEX, LABEL!=VALUE or LABEL!~REGEX, got %q", s)
	}
	name, rest := s[:i], s[i:]
	for _, op := range []string{"=~", "!~", "!=", "="} {
		if v, ok := strings.CutPrefix(rest, op); ok {
			return NewMatcher(name, op, v)
		}
	}
	return Matcher{}, fmt.Errorf("want LABEL=VALUE, got %q", s)
}

// Matches reports whether the labels satisfy the matcher; a missing label
// is the empty string, as in Alertmanager.
func (m Matcher) Matches(l Labels) bool {
	v := l[m.Name]
	switch m.Op {
	case "=":
		return v == m.Value
	case "!=":
		return v != m.Value
	case "=~":
		return m.re != nil && m.re.MatchString(v)
	case "!~":
		return m.re != nil && !m.re.MatchString(v)
	}
	return false
}

func (m Matcher) String() string { return m.Name + m.Op + strconv.Quote(m.Value) }

// matchAll is true when every matcher matches (and for none).
func matchAll(ms []Matcher, l Labels) bool {
	for _, m := range ms {
		if !m.Matches(l) {
			return false
		}
	}
	return true
}

// compileMatchers restores the regular expressions of stored matchers.
func compileMatchers(ms []Matcher) ([]Matcher, error) {
	out := make([]Matcher, len(ms))
	for i, m := range ms {
		c, err := NewMatcher(m.Name, m.Op, m.Value)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}
