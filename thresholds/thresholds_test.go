package thresholds

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/munin"
)

func TestObserve(t *testing.T) {
	g := &munin.Graph{Name: "df", Title: "Disk usage in percent"}
	root := &munin.Field{Name: "_dev_sda1", Label: "/", Warning: "92", Critical: "98"}
	t0 := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name   string
		rules  []Rule
		values []float64
		want   []string // "i:from>to" for each event
	}{
		{"plugin ranges, confirmed by two samples", nil,
			[]float64{50, 93, 50, 93, 93, 99, 99, 90, 90, 80, 80},
			[]string{"4:ok>warning", "6:warning>critical", "8:critical>warning", "10:warning>ok"}},
		{"hovering at the line does not flap", nil,
			[]float64{93, 93, 91.9, 91.9, 92.5, 91.5, 91.5, 87, 87},
			[]string{"1:ok>warning", "8:warning>ok"}},
		{"unknown values change nothing", nil,
			[]float64{99, math.NaN(), 99, 10, math.NaN(), 10},
			[]string{"2:ok>critical", "5:critical>ok"}},
		{"config rule wins over the plugin", []Rule{{Graph: "df", Field: "_dev_*", Warning: "60", Critical: ":99"}},
			[]float64{70, 70, 99.5, 99.5},
			[]string{"1:ok>warning", "3:warning>critical"}},
		{"a rule for another host leaves the plugin's", []Rule{{Host: "db*", Warning: "10"}},
			[]float64{70, 70},
			nil},
		{"lower bounds", []Rule{{Field: "_dev_sda1", Critical: "5:"}},
			[]float64{4, 4, 5.1, 5.1, 6, 6},
			[]string{"1:ok>critical", "5:critical>ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(Options{Rules: tc.rules})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, v := range tc.values {
				if ev, ok := e.Observe("web1", g, root, t0.Add(time.Duration(i)*time.Minute), v); ok {
					got = append(got, fmt.Sprintf("%d:%s>%s", i, ev.From, ev.To))
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("events %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStateRoundTrip(t *testing.T) {
	g := &munin.Graph{Name: "load"}
	f := &munin.Field{Name: "load", Critical: "4"}
	e, _ := New(Options{})
	e.Observe("h", g, f, time.Unix(0, 0), 9)
	e.Observe("h", g, f, time.Unix(60, 0), 9)
	e.Observe("h", g, f, time.Unix(120, 0), 1) // pending recovery
	b, err := e.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	e2, _ := New(Options{})
	if err := e2.UnmarshalState(b); err != nil {
		t.Fatal(err)
	}
	ev, ok := e2.Observe("h", g, f, time.Unix(180, 0), 1)
	if !ok || ev.To != "ok" || ev.Range != "4" {
		t.Fatalf("after restore: %+v %v", ev, ok)
	}
	if err := e2.UnmarshalState([]byte("{")); err == nil {
		t.Fatal("bad state accepted")
	}
}

func TestNewErrors(t *testing.T) {
	for _, r := range []Rule{{Warning: "x"}, {Critical: "1:y"}, {Host: "["}, {Graph: "df"}} {
		if _, err := New(Options{Rules: []Rule{r}}); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}
