package webstats

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Privacy says how client addresses are stored, for sites that promise
// not to keep them. Unique visitors and visits are then counted on the
// stored form: truncation merges the clients of one network.
type Privacy struct {
	// Mode is "" (addresses as logged), "truncate" (IPv4 to /24, IPv6 to
	// /48) or "hash" (HMAC-SHA-256 with Key, 16 hex digits).
	Mode string
	Key  []byte
}

// Validate reports a bad mode or a hash without a key.
func (p Privacy) Validate() error {
	switch p.Mode {
	case "", "truncate":
		return nil
	case "hash":
		if len(p.Key) < 16 {
			return fmt.Errorf("privacy hash: key shorter than 16 bytes")
		}
		return nil
	}
	return fmt.Errorf("privacy: unknown mode %q", p.Mode)
}

type privacy struct {
	p     Privacy
	cache map[string]string
}

func newPrivacy(p Privacy) *privacy {
	if p.Mode == "" {
		return nil
	}
	return &privacy{p: p, cache: map[string]string{}}
}

// host returns the stored form of a client address. Without a privacy
// mode it is the address itself (no allocation).
func (p *privacy) host(client string) string {
	if p == nil {
		return client
	}
	if h, ok := p.cache[client]; ok {
		return h
	}
	var h string
	switch p.p.Mode {
	case "truncate":
		h = Truncate(client)
	default:
		mac := hmac.New(sha256.New, p.p.Key)
		mac.Write([]byte(client))
		h = hex.EncodeToString(mac.Sum(nil)[:8])
	}
	if len(p.cache) >= maxUACache {
		clear(p.cache)
	}
	p.cache[strings.Clone(client)] = h
	return h
}

// Truncate keeps an IPv4 address's /24 and an IPv6 address's /48; a
// host name (logs with HostnameLookups) is kept to its domain.
func Truncate(client string) string {
	a, err := netip.ParseAddr(client)
	if err != nil {
		if i := strings.IndexByte(client, '.'); i >= 0 {
			return "*" + client[i:]
		}
		return "*"
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	pfx, err := a.Prefix(bits)
	if err != nil {
		return "*"
	}
	return pfx.String()
}

// MaxMind reads country codes from a MaxMind-format (GeoIP2, GeoLite2,
// DB-IP) database.
type MaxMind struct {
	r *maxminddb.Reader
}

// OpenMaxMind opens an .mmdb file.
func OpenMaxMind(path string) (*MaxMind, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open geoip database: %w", err)
	}
	return &MaxMind{r: r}, nil
}

// Close releases the database.
func (g *MaxMind) Close() error { return g.r.Close() }

// Country returns the ISO code of addr's country, or "".
func (g *MaxMind) Country(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	var rec struct {
		Country struct {
			ISOCode string `maxminddb:"iso_code"`
		} `maxminddb:"country"`
	}
	if err := g.r.Lookup(a.Unmap()).Decode(&rec); err != nil {
		return ""
	}
	return rec.Country.ISOCode
}
