package server

import (
	"path/filepath"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/rdap"
)

// domainRegistry is the RDAP client of the configuration's domain checks:
// one for all, so that a domain is asked about at most once a day, with
// IANA's bootstrap file and the answers kept under the data folder.
func domainRegistry(cfg *config.Config) *rdap.Client {
	dir := ""
	if d := cfg.DataDir(); d != "" {
		dir = filepath.Join(d, "rdap")
	}
	return rdap.New(rdap.Options{CacheDir: dir})
}
