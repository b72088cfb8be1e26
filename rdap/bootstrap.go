// Package rdap finds when a domain's registration expires: through RDAP
// (RFC 9082/9083), the registry found in IANA's bootstrap file (RFC 9224),
// following the registry's link to the registrar when the registry says
// nothing; through WHOIS only for a TLD that has no RDAP service.
//
// Registries are asked at most once a day per domain: answers are kept in
// memory and, with a cache folder, on disk across restarts. A registry
// that does not answer (a timeout, a 5xx, a 429) is ErrUnavailable: the
// expiry is unknown, not a failure of the domain.
package rdap

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DefaultBootstrapURL is IANA's RDAP bootstrap file for domain names.
const DefaultBootstrapURL = "https://data.iana.org/rdap/dns.json"

// pinned is the fallback when IANA's file can be neither fetched nor read
// from the cache: the RDAP services of the most used TLDs, as IANA's file
// lists them. It only has to be right until the next successful fetch.
//
//go:embed pinned.json
var pinned []byte

// Bootstrap maps TLDs (and other label suffixes) to RDAP base URLs.
type Bootstrap struct {
	Publication time.Time
	services    map[string][]string // "org" → ["https://rdap.publicinterestregistry.org/rdap/"]
}

// ParseBootstrap reads a bootstrap file (RFC 9224 section 4).
func ParseBootstrap(data []byte) (*Bootstrap, error) {
	var f struct {
		Publication string       `json:"publication"`
		Services    [][][]string `json:"services"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("bootstrap file: %w", err)
	}
	b := &Bootstrap{services: map[string][]string{}}
	b.Publication, _ = time.Parse(time.RFC3339, f.Publication)
	for _, s := range f.Services {
		if len(s) != 2 {
			continue
		}
		var urls []string
		for _, u := range s[1] {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
				continue
			}
			if !strings.HasSuffix(u, "/") {
				u += "/"
			}
			urls = append(urls, u)
		}
		// RFC 9224: prefer https.
		for i := range urls {
			if strings.HasPrefix(urls[i], "https:") {
				urls[0], urls[i] = urls[i], urls[0]
				break
			}
		}
		if len(urls) == 0 {
			continue
		}
		for _, tld := range s[0] {
			b.services[strings.ToLower(strings.TrimSuffix(tld, "."))] = urls
		}
	}
	if len(b.services) == 0 {
		return nil, errors.New("bootstrap file: no services")
	}
	return b, nil
}

// Lookup returns the RDAP base URLs of the longest matching label suffix
// of a domain name, or nil when none serves it.
func (b *Bootstrap) Lookup(domain string) []string {
	labels := strings.Split(strings.ToLower(strings.TrimSuffix(domain, ".")), ".")
	for i := range labels {
		if u, ok := b.services[strings.Join(labels[i:], ".")]; ok {
			return u
		}
	}
	return nil
}

// Pinned is the built-in fallback bootstrap.
func Pinned() *Bootstrap {
	b, err := ParseBootstrap(pinned)
	if err != nil {
		panic(err)
	}
	return b
}
