package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/watchpost/watchpost/uptime"
)

func TestBucketSamples(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name    string
		samples []uptime.Sample
		want    string // per bucket: ms/ok/degraded
	}{
		{"all up", []uptime.Sample{{Time: t0, OK: true, Duration: ms(10)}, {Time: t0.Add(time.Minute), OK: true, Duration: ms(30)}}, "20/ok "},
		{"degraded in a bucket marks it", []uptime.Sample{{Time: t0, OK: true, Duration: ms(10)}, {Time: t0.Add(time.Minute), OK: true, Degraded: true, Duration: ms(30)}}, "20/ok/degraded "},
		{"down wins over degraded", []uptime.Sample{{Time: t0, OK: true, Degraded: true, Duration: ms(10)}, {Time: t0.Add(time.Minute), OK: false}}, "10/down "},
		{"buckets apart", []uptime.Sample{{Time: t0, OK: true, Degraded: true, Duration: ms(10)}, {Time: t0.Add(6 * time.Minute), OK: true, Duration: ms(20)}}, "10/ok/degraded 20/ok "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			for _, s := range bucketSamples(tt.samples, 5*time.Minute) {
				st := "down"
				if s.OK {
					st = "ok"
				}
				if s.Degraded {
					st += "/degraded"
				}
				got += fmt.Sprintf("%.0f/%s ", s.MS, st)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
