package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/watchpost/watchpost/munin"
)

// maxMetricName bounds graph and field names: they become keys of the
// metric store and parts of URLs.
const maxMetricName = 255

// checkMetric validates a metric item (munin.Item) before it is stored.
func checkMetric(line []byte) error {
	var it munin.Item
	if err := json.Unmarshal(line, &it); err != nil {
		return fmt.Errorf("metric: %w", err)
	}
	if err := checkName("graph.name", it.Graph.Name); err != nil {
		return err
	}
	if len(it.Values) == 0 {
		return errors.New("metric: no values")
	}
	if it.Time <= 0 {
		return errors.New("metric: ts: want Unix seconds")
	}
	fields := make(map[string]bool, len(it.Graph.Fields))
	for _, f := range it.Graph.Fields {
		if err := checkName("graph.fields.name", f.Name); err != nil {
			return err
		}
		switch f.Type {
		case "", munin.Gauge, munin.Counter, munin.Derive, munin.Absolute:
		default:
			return fmt.Errorf("metric: field %s: unknown type %q", f.Name, f.Type)
		}
		fields[f.Name] = true
	}
	for _, v := range it.Values {
		if !fields[v.Field] {
			return fmt.Errorf("metric: value for %q, which the graph does not describe", v.Field)
		}
	}
	return nil
}

func checkName(key, s string) error {
	if s == "" {
		return fmt.Errorf("metric: %s: missing", key)
	}
	if len(s) > maxMetricName {
		return fmt.Errorf("metric: %s: longer than %d bytes", key, maxMetricName)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '/' || unicode.IsSpace(r) }) >= 0 {
		return fmt.Errorf("metric: %s: %q has a space, slash or control character", key, s)
	}
	return nil
}
