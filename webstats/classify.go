package webstats

import (
	"net/url"
	"strings"
)

// The AWStats 7.8 default NotPageList (Debian's awstats.conf) and the
// extensions its mime.pm marks as images ('i') or downloads ('d'): a
// request for any of them is a hit but not a page. Downloads are also
// listed in the downloads table, as AWStats does.
var notPageExt = setOf("css js class gif jpg jpeg png bmp ico rss xml swf eot woff woff2")

var imageExt = setOf("bmp gif heic ico jpeg jpg png svg svgz tif tiff webp")

var downloadExt = setOf(`7z aac ace ai apk asf avi azw azw3 bin bz2 cab cdr csv deb divx dmg doc
	docx emz epub f4v flac flv frl gpx gz iso jar kml kmz lit log lzma m3u m4a m4v mdb mkv mobi mov
	mp3 mp4 mpeg mpg msi mso odb odf odg odm odp ods odt oga ogg ogv ogx otg oth otp ots ott ova ovf
	oxt pdf pkg pps ppt pptx psd qcow2 qt rar raw rm rpm rpt rtf sxc sxd sxg sxi sxm sxw tar tbz2 tgz
	toast txt vcd vdi vhdx vmdk vpc wav webm wma wmf wmv wmz xls xlsx xsl xz z zip`)

// defaultFiles are AWStats's DefaultFile: "/dir/index.html" is the page
// "/dir/", and a URL ending in "/" has the extension of the first one.
var defaultFiles = []string{"index.php", "index.html"}

func setOf(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// splitURL returns the URL without its anchor and query, as AWStats keys
// its page tables (URLWithQuery=0).
func splitURL(u string) string {
	if i := strings.IndexAny(u, "#?;"); i >= 0 {
		u = u[:i]
	}
	return u
}

// extension follows AWStats's Get_Extension: the last ".\w{1,6}" at the
// end of the path, lower-cased, "php" for a directory, else "Unknown".
// It returns a substring or a constant, so it costs no allocation for
// lower-case extensions.
func extension(path string) string {
	if strings.HasSuffix(path, "/") {
		return "php"
	}
	i := len(path) - 1
	for i >= 0 && len(path)-1-i < 7 && isWord(path[i]) {
		i--
	}
	n := len(path) - 1 - i
	if i < 0 || path[i] != '.' || n < 1 || n > 6 {
		return "Unknown"
	}
	ext := path[i+1:]
	for j := 0; j < len(ext); j++ {
		if c := ext[j]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(ext)
		}
	}
	return ext
}

func isWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isPageExt(ext string) bool {
	return !notPageExt[ext] && !imageExt[ext] && !downloadExt[ext]
}

// pageKey applies DefaultFile: "/a/index.html" counts as "/a/".
func pageKey(path string) string {
	for _, d := range defaultFiles {
		if strings.HasSuffix(path, "/"+d) {
			return path[:len(path)-len(d)]
		}
	}
	return path
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// searchEngines maps a referrer host's distinctive part to the engine's
// name and the query parameter that carries the keyphrase.
var searchEngines = []struct {
	match, name, param string
}{
	{"google.", "Google", "q"},
	{"bing.com", "Bing", "q"},
	{"duckduckgo.com", "DuckDuckGo", "q"},
	{"yandex.", "Yandex", "text"},
	{"ya.ru", "Yandex", "text"},
	{"ecosia.org", "Ecosia", "q"},
	{"search.yahoo.", "Yahoo", "p"},
	{"baidu.com", "Baidu", "wd"},
	{"qwant.com", "Qwant", "q"},
	{"search.brave.com", "Brave", "q"},
	{"startpage.com", "Startpage", "query"},
}

// referrer describes where a request came from.
type referrer struct {
	site, page     string // host and URL without query
	engine, phrase string
	empty          bool
}

// isSelf says whether a referrer's host is the site itself (with or
// without "www."), so that navigation inside the site is not a referrer.
func isSelf(host, self string) bool {
	return self != "" && (host == self || strings.TrimPrefix(host, "www.") == strings.TrimPrefix(self, "www."))
}

// classifyReferer parses ref.
func classifyReferer(ref string) referrer {
	if ref == "" || ref == "-" {
		return referrer{empty: true}
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return referrer{empty: true}
	}
	host := strings.ToLower(u.Hostname())
	r := referrer{site: host, page: u.Scheme + "://" + u.Host + u.EscapedPath()}
	for _, se := range searchEngines {
		if strings.Contains(host, se.match) {
			r.engine = se.name
			q := strings.Join(strings.Fields(strings.ToLower(u.Query().Get(se.param))), " ")
			if len(q) > 200 {
				q = q[:200]
			}
			r.phrase = q
			break
		}
	}
	return r
}

// robotLabel shortens a robot's name for the robots table: the agent
// parser gives the whole agent string for robots it does not know
// ("Mozilla/5.0 (compatible; archive.org_bot +http://...)"). The word
// naming the robot is then the one with bot, spider or crawl in it, else
// the agent's first product token.
func robotLabel(name, agent string) string {
	if name != "" && len(name) <= 40 && !strings.ContainsAny(name, "();") {
		return name
	}
	words := strings.FieldsFunc(agent, func(r rune) bool { return strings.ContainsRune(" ;()+,", r) })
	for _, w := range words {
		l := strings.ToLower(w)
		if strings.HasPrefix(l, "http") || strings.Contains(l, "@") {
			continue
		}
		if strings.Contains(l, "bot") || strings.Contains(l, "spider") || strings.Contains(l, "crawl") {
			w, _, _ = strings.Cut(w, "/")
			return truncateLabel(w)
		}
	}
	if len(words) > 0 && !strings.EqualFold(words[0], "Mozilla/5.0") {
		w, _, _ := strings.Cut(words[0], "/")
		return truncateLabel(w)
	}
	return "unknown"
}

func truncateLabel(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "")
	}
	return s
}
