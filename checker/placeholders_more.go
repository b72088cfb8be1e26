package checker

// typedPlaceholders are the values of the ping, udp and domain probers.
// They are kept by type because a name may mean something else for
// another type: a ping's ttl is the IP time to live (a hop count), a DNS
// answer's is a duration.
var typedPlaceholders = map[string]map[string]placeholder{
	"ping": {
		"rtt":      {kindDuration, "ping"}, // the average round trip of the replies
		"rtt_min":  {kindDuration, "ping"},
		"rtt_max":  {kindDuration, "ping"},
		"loss":     {kindFloat, "ping"}, // percent of the packets that got no reply
		"sent":     {kindInt, "ping"},
		"received": {kindInt, "ping"},
		"ttl":      {kindInt, "ping"}, // the IP TTL (IPv6: hop limit) of the last reply
		"ip":       {kindString, "ping"},
	},
	"udp": {
		"ip":      {kindString, "udp"},
		"replied": {kindBool, "udp"},
	},
	"domain": {
		"domain_expires_in": {kindDuration, "domain"},
		"registrar":         {kindString, "domain"},
		"source":            {kindString, "domain"}, // rdap or whois
	},
}
