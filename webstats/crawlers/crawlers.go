// Package crawlers tells robots' user agents from people's with the
// patterns of github.com/x-way/crawlerdetect (JayBizzle's Crawler-Detect
// lists), copied by gen.go. That package compiles its patterns when the
// program starts, 14 ms and 3 MB for every command of the one binary
// (watchpost grep included); here they are compiled on first use, by the
// web statistics only.
package crawlers

//go:generate go run gen.go

import (
	"regexp"
	"strings"
	"sync"
)

var (
	once                  sync.Once
	crawlersRe, excludeRe *regexp.Regexp
)

func compile() {
	crawlersRe = regexp.MustCompile("(?i)(" + strings.Join(crawlers, "|") + ")")
	excludeRe = regexp.MustCompile("(?i)(" + strings.Join(exclusions, "|") + ")")
}

// IsCrawler reports whether a user agent is a robot's, as
// crawlerdetect.IsCrawler does.
func IsCrawler(ua string) bool {
	once.Do(compile)
	return crawlersRe.MatchString(excludeRe.ReplaceAllString(strings.TrimSpace(ua), ""))
}
