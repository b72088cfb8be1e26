package checker

import (
	"fmt"
	"time"
)

// summaryMore is the status line's words for ping, udp and domain; ok is
// false for the other types.
func summaryMore(typ string, v map[string]any) (string, bool) {
	switch typ {
	case "ping":
		s := fmt.Sprintf("%v of %v replies from %v, %v%% loss", v["received"], v["sent"], v["ip"], v["loss"])
		if d, ok := v["rtt"].(time.Duration); ok {
			lo, _ := v["rtt_min"].(time.Duration)
			hi, _ := v["rtt_max"].(time.Duration)
			s += fmt.Sprintf(", rtt %s (min %s, max %s)", formatDuration(d), formatDuration(lo), formatDuration(hi))
		}
		if t, ok := v["ttl"].(int); ok {
			s += fmt.Sprintf(", ttl %d", t)
		}
		if k, ok := v["icmp_socket"].(string); ok {
			s += fmt.Sprintf(" (%s ICMP socket)", k)
		}
		return s, true
	case "udp":
		if r, _ := v["replied"].(bool); r {
			b, _ := v["body"].(string)
			s := fmt.Sprintf("reply of %d bytes", len(b))
			if d, ok := v["response_time"].(time.Duration); ok {
				s += " in " + formatDuration(d)
			}
			return s, true
		}
		return "sent", true
	case "domain":
		s := ""
		if d, ok := v["domain_expires_in"].(time.Duration); ok {
			s = "registration expires in " + formatDuration(d)
		}
		if e, ok := v["expires"].(string); ok {
			s += " (" + e + ")"
		}
		if r, ok := v["registrar"].(string); ok && r != "" {
			s += ", registrar " + clip(r, 60)
		}
		if src, ok := v["source"].(string); ok {
			s += ", from " + src
		}
		return s, true
	}
	return "", false
}
