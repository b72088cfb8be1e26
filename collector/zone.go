package collector

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LocalZone names this host's time zone as the IANA database does
// ("Europe/Berlin"), for the loghost to read this host's zone-less log
// times (RFC 3164 syslog lines, most file lines) in: from $TZ, else the
// /etc/localtime link, else /etc/timezone; "" when none names one (the
// loghost then uses its own zone).
func LocalZone() string {
	valid := func(name string) string {
		name = strings.TrimPrefix(strings.TrimSpace(name), ":")
		if name == "" || name == "Local" || filepath.IsAbs(name) {
			return ""
		}
		if _, err := time.LoadLocation(name); err != nil {
			return ""
		}
		return name
	}
	if tz, ok := os.LookupEnv("TZ"); ok {
		if tz == "" {
			return "UTC" // an empty TZ is UTC to the C library and to Go
		}
		return valid(tz)
	}
	if target, err := filepath.EvalSymlinks("/etc/localtime"); err == nil {
		if _, name, ok := strings.Cut(target, "/zoneinfo/"); ok {
			if n := valid(name); n != "" {
				return n
			}
		}
	}
	if b, err := os.ReadFile("/etc/timezone"); err == nil {
		return valid(string(b))
	}
	return ""
}
