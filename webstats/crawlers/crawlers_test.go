package crawlers

import (
	"testing"

	"github.com/x-way/crawlerdetect"
)

// TestSameAsCrawlerdetect: the copied patterns answer as the library.
func TestSameAsCrawlerdetect(t *testing.T) {
	for _, ua := range []string{
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"curl/8.5.0", "Wget/1.21.4", "python-requests/2.31.0", "", "-", "UptimeRobot/2.0", "facebookexternalhit/1.1",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
	} {
		if got, want := IsCrawler(ua), crawlerdetect.IsCrawler(ua); got != want {
			t.Errorf("%q: %v, crawlerdetect says %v", ua, got, want)
		}
	}
}
