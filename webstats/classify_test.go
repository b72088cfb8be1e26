package webstats

import "testing"

func TestRobotLabel(t *testing.T) {
	for _, tc := range []struct{ name, agent, want string }{
		{"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot"},
		{"Mozilla/5.0 (compatible; archive.org_bot +http://archive.org/details/archive.org_bot)",
			"Mozilla/5.0 (compatible; archive.org_bot +http://archive.org/details/archive.org_bot)", "archive.org_bot"},
		{"", "Mozilla/5.0 (compatible; ExampleSpider/1.0; +https://spider.example/bot.html)", "ExampleSpider"},
		{"", "fetcher/3 (+https://fetch.example/)", "fetcher"},
		{"", "Mozilla/5.0 (compatible)", "unknown"},
		{"", "", "unknown"},
	} {
		if got := robotLabel(tc.name, tc.agent); got != tc.want {
			t.Errorf("robotLabel(%q, %q) = %q, want %q", tc.name, tc.agent, got, tc.want)
		}
	}
}
