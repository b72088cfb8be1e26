// Package webstats aggregates access-log requests into AWStats-style
// monthly web statistics per site: hits, pages, bandwidth, visits and
// unique visitors per day, weekday and hour; pages with entries and exits;
// file types, downloads, status codes and the URLs behind 404s; referrers,
// search engines and keyphrases; browsers and operating systems; robots
// apart from humans; visit durations; and countries from a MaxMind
// database. The aggregation is a pure library: no storage, no network;
// cli.go and remote.go are the "watchpost stats" command around it.
//
// The numbers follow AWStats 7.8's definitions by default (see
// Definitions), with GoAccess's unique visitors (client + day + user
// agent) beside them. A month's result does not depend on the order in
// which requests arrive: every table is a sum, and visits are kept per
// host as runs of page views that merge when a missing request joins
// them. Months serialise (Month.MarshalBinary) and merge (Month.Merge).
package webstats

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mileusna/useragent"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/webstats/crawlers"
)

// Options configure an Aggregator.
type Options struct {
	// Location is the zone of days and hours; nil means UTC.
	Location    *time.Location
	Definitions Definitions
	Privacy     Privacy
	// GeoIP, when set, adds the countries table.
	GeoIP GeoIP
	// SelfHosts maps a site to its own host name, so that links inside
	// the site are not counted as referring sites. The site name itself
	// is always taken as its own host.
	SelfHosts map[string]string
}

// GeoIP maps a client address to an ISO country code ("" when unknown).
type GeoIP interface {
	Country(addr string) string
}

// Aggregator folds requests into months. It is not safe for concurrent
// use: feed it from one goroutine, or give each goroutine its own and
// Merge them.
type Aggregator struct {
	opts    Options
	defs    resolvedDefs
	months  map[MonthKey]*Month
	ua      map[string]*uaInfo
	refs    map[string]*referrer
	sites   map[string]bool
	priv    *privacy
	geo     map[string]string
	lastKey monthCache
}

type monthCache struct {
	site       string
	year, mon  int
	m          *Month
	dayStart   int64 // Unix seconds of the cached local day's start
	dayEnd     int64
	day, wday  int
	zoneOffset int
}

type uaInfo struct {
	robot       string // "" for a human browser
	browser, os string
	hash        uint64 // of the agent, for GoAccess's visitor key
}

// New returns an empty Aggregator.
func New(opts Options) *Aggregator {
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	d := opts.Definitions.withDefaults()
	a := &Aggregator{opts: opts, months: map[MonthKey]*Month{}, ua: map[string]*uaInfo{}, refs: map[string]*referrer{},
		priv: newPrivacy(opts.Privacy), geo: map[string]string{}}
	a.defs.VisitTimeout = d.VisitTimeout
	a.defs.SplitAtMidnight = *d.SplitAtMidnight
	a.defs.HitCodes = d.HitCodes
	for _, c := range d.HitCodes {
		if c >= 0 && c < 1000 {
			a.defs.valid[c] = true
		}
	}
	return a
}

// Request is what webstats reads of one access-log line.
type Request struct {
	Time      time.Time
	Vhost     string
	Client    string
	Method    string
	Path      string
	Status    int
	Bytes     int64
	Referer   string
	UserAgent string
	// NoAgent says the log format has no user agent (common; not a "-"
	// agent): robots cannot be told from people, so every request counts
	// as a person's, as AWStats counts them.
	NoAgent bool
}

// RequestOf extracts a Request from an event of logparse's combined,
// common or vhost_combined parsers. ok is false for other events.
func RequestOf(ev *logparse.Event) (r Request, ok bool) {
	r.Time = ev.Time
	// logparse leaves out a "-" agent; a line in the combined formats
	// still ends with its quoted agent, a common one with the size.
	msg := strings.TrimRight(ev.Message, " \r\n")
	r.NoAgent = !strings.HasSuffix(msg, `"`)
	for _, f := range ev.Fields {
		switch f.Key {
		case "vhost":
			r.Vhost = f.Value
		case "client":
			r.Client = f.Value
		case "method":
			r.Method = f.Value
		case "path":
			r.Path = f.Value
		case "status":
			r.Status, _ = strconv.Atoi(f.Value)
			ok = true
		case "bytes":
			r.Bytes, _ = strconv.ParseInt(f.Value, 10, 64)
		case "referer":
			r.Referer = f.Value
		case "user_agent":
			r.UserAgent, r.NoAgent = f.Value, false
		}
	}
	return r, ok && !ev.Time.IsZero()
}

// Add folds one parsed access-log event into the site's month. An empty
// site takes the event's vhost, else "default". Events that are not
// access-log requests are ignored.
func (a *Aggregator) Add(site string, ev *logparse.Event) {
	if r, ok := RequestOf(ev); ok {
		a.AddRequest(site, &r)
	}
}

// awstatsMethods are the methods AWStats 7.8 keeps; it drops other lines.
func awstatsMethod(m string) bool {
	switch m {
	case "GET", "POST", "HEAD", "PROPFIND", "CHECKOUT", "LOCK", "PROPPATCH", "OPTIONS", "MKACTIVITY", "PUT",
		"MERGE", "DELETE", "REPORT", "MKCOL", "COPY", "RPC_IN_DATA", "RPC_OUT_DATA":
		return true
	}
	return false
}

// AddRequest folds one request into the site's month.
func (a *Aggregator) AddRequest(site string, r *Request) {
	if site == "" {
		site = r.Vhost
		if site == "" {
			site = "default"
		}
	}
	if r.Time.IsZero() {
		return
	}
	if a.sites == nil {
		a.sites = map[string]bool{}
	}
	if !a.sites[site] {
		// With UseCanonicalName Off, Apache's vhost is the client's Host
		// header: bound the sites a hostile client can create.
		if len(a.sites) >= maxSites {
			site = otherKey
		}
		a.sites[strings.Clone(site)] = true
	}
	mc := a.month(site, r.Time)
	m := mc.m
	sec := r.Time.Unix()
	hour := int((sec - mc.dayStart) / 3600)
	if hour < 0 || hour > 23 { // a DST day: ask the clock
		hour = r.Time.In(a.opts.Location).Hour()
	}
	day := mc.day
	m.Lines++
	status := r.Status
	if status < 0 || status > 999 {
		status = 999
	}
	statusCounts(m.Status, status).add(Counts{Hits: 1, Bytes: r.Bytes})
	host := a.priv.host(r.Client)
	ua := &unknownAgent
	if !r.NoAgent {
		ua = a.classify(r.UserAgent)
	}
	if status < 400 || status > 499 {
		// GoAccess leaves 4xx answers out of unique visitors unless
		// --4xx-to-unique-count is given.
		m.GoAccess[day-1][visitorKey(host, ua.hash)]++
	}

	if !awstatsMethod(r.Method) || r.Path == "" {
		m.Dropped++
		return
	}
	path := splitURL(strings.ReplaceAll(r.Path, " ", "%20"))
	ext := extension(path)
	isPage := isPageExt(ext)
	bytes := r.Bytes
	nv := &m.NotViewed[hour]
	notViewed := func(b int64) {
		nv.Hits++
		nv.Bytes += b
		if isPage {
			nv.Pages++
		}
	}
	// AWStats's order: favicon, status, robot, robots.txt, viewed.
	if hasSuffixFold(path, "/favicon.ico") {
		nv.Hits++
		if status != 404 {
			nv.Bytes += bytes
		}
		return
	}
	partial := false
	switch {
	case a.defs.valid[status]:
		if status == 304 {
			bytes = 0 // AWStats counts no body for 304
		}
	case status == 206 && downloadExt[ext]:
		partial = true // bandwidth of a resumed download, not a hit
	default:
		c := statusCounts(m.Errors, status)
		c.Hits++
		c.Bytes += bytes
		if status == 404 {
			n, ok := m.NotFound[path]
			if !ok {
				key := path
				if len(m.NotFound) >= maxKeys {
					key = otherKey
				}
				if n, ok = m.NotFound[key]; !ok {
					n = &NotFound{}
					m.NotFound[strings.Clone(key)] = n
				}
			}
			n.Hits++
			if ref := splitURL(r.Referer); ref != "-" && ref > n.Referer {
				n.Referer = strings.Clone(ref)
			}
		}
		notViewed(bytes)
		return
	}
	robotsTxt := hasSuffixFold(path, "/robots.txt")
	if ua.robot != "" || robotsTxt {
		name := ua.robot
		if name == "" {
			name = "unknown"
		}
		rb, ok := m.Robots[name]
		if !ok {
			rb = &Robot{}
			m.Robots[name] = rb
		}
		rb.Hits++
		rb.Bytes += bytes
		rb.Last = max(rb.Last, sec)
		if robotsTxt {
			rb.RobotsTxt++
		}
		notViewed(bytes)
		return
	}

	// Viewed traffic of a human.
	c := Counts{Bytes: bytes}
	if !partial {
		c.Hits = 1
		counts(m.FileTypes, ext).add(Counts{Hits: 1, Bytes: bytes})
	} else {
		counts(m.FileTypes, ext).Bytes += bytes
	}
	key := ""
	if isPage {
		c.Pages = 1
		key = pageKey(path)
		p, ok := m.Pages[key]
		if !ok {
			if len(m.Pages) >= maxKeys {
				key = otherKey
				p = m.Pages[key]
			}
			if p == nil {
				key = strings.Clone(key)
				p = &PageStat{key: key}
				m.Pages[key] = p
			}
		}
		key = p.key
		p.Pages++
		p.Bytes += bytes
	}
	if downloadExt[ext] && (status == 200 || partial) && !robotsTxt {
		d, ok := m.Downloads[path]
		if !ok && len(m.Downloads) < maxKeys {
			d = &Download{}
			m.Downloads[strings.Clone(path)] = d
		}
		if d != nil {
			if partial {
				d.Partial++
			} else {
				d.Hits++
			}
			d.Bytes += bytes
		}
	}
	m.Days[day-1].add(c)
	m.Hours[hour].add(c)

	h, ok := m.Hosts[host]
	if !ok {
		h = &Host{}
		m.Hosts[strings.Clone(host)] = h
	}
	h.Hits += c.Hits
	h.Bytes += bytes
	if isPage {
		h.Pages++
		m.addVisit(h, Visit{Start: sec, End: sec, Day: int8(day), Pages: 1, Entry: key, Exit: key})
	}
	counts(m.Browsers, ua.browser).add(c)
	counts(m.OSes, ua.os).add(c)
	if a.opts.GeoIP != nil {
		counts(m.Countries, a.country(r.Client)).add(c)
	}
	if r.Referer != "" && r.Referer != "-" {
		a.addReferer(m, site, r.Referer, c)
	}
}

func (a *Aggregator) addReferer(m *Month, site, ref string, c Counts) {
	self := a.opts.SelfHosts[site]
	if self == "" {
		self = strings.ToLower(site)
	}
	rf, ok := a.refs[ref]
	if !ok {
		v := classifyReferer(ref)
		rf = &v
		if len(a.refs) >= maxUACache {
			clear(a.refs)
		}
		a.refs[strings.Clone(ref)] = rf
	}
	if rf.empty || isSelf(rf.site, self) {
		return
	}
	c.Bytes = 0
	if rf.engine != "" {
		counts(m.Engines, rf.engine).add(c)
		if rf.phrase != "" && c.Pages > 0 && (len(m.Phrases) < maxKeys || m.Phrases[rf.phrase] > 0) {
			m.Phrases[rf.phrase]++
		}
		return
	}
	counts(m.RefSites, rf.site).add(c)
	counts(m.RefPages, rf.page).add(c)
}

// month returns the cached month and local day for t, recomputing them
// only when t leaves the cached day.
func (a *Aggregator) month(site string, t time.Time) *monthCache {
	mc := &a.lastKey
	sec := t.Unix()
	if mc.m != nil && mc.site == site && sec >= mc.dayStart && sec < mc.dayEnd {
		return mc
	}
	lt := t.In(a.opts.Location)
	y, mon, d := lt.Date()
	k := MonthKey{Site: site, Year: y, Month: mon}
	m, ok := a.months[k]
	if !ok {
		k.Site = strings.Clone(site)
		m = newMonth(k, a.defs)
		a.months[k] = m
	}
	start := time.Date(y, mon, d, 0, 0, 0, 0, a.opts.Location)
	*mc = monthCache{site: k.Site, year: y, mon: int(mon), m: m, dayStart: start.Unix(),
		dayEnd: start.AddDate(0, 0, 1).Unix(), day: d, wday: int(lt.Weekday())}
	return mc
}

// maxSites bounds the sites one aggregator keeps.
const maxSites = 10_000

// maxUACache bounds the user-agent cache; hostile clients can send a new
// agent on every request.
const maxUACache = 50_000

// unknownAgent is the agent of a log format without one.
var unknownAgent = uaInfo{browser: "Unknown", os: "Unknown", hash: fnv64("")}

// classify tells robots from browsers, once per distinct user agent.
func (a *Aggregator) classify(s string) *uaInfo {
	if u, ok := a.ua[s]; ok {
		return u
	}
	u := &uaInfo{hash: fnv64(s)}
	switch {
	case s == "" || s == "-":
		u.robot = "no_user_agent" // AWStats's name: a robot or a broken client
	default:
		p := useragent.Parse(s)
		if p.Bot || crawlers.IsCrawler(s) {
			u.robot = robotLabel(p.Name, s)
		} else {
			u.browser, u.os = p.Name, p.OS
		}
		if u.browser == "" {
			u.browser = "Unknown"
		}
		if u.os == "" {
			u.os = "Unknown"
		}
	}
	if len(a.ua) >= maxUACache {
		clear(a.ua)
	}
	a.ua[strings.Clone(s)] = u
	return u
}

func (a *Aggregator) country(client string) string {
	if c, ok := a.geo[client]; ok {
		return c
	}
	c := a.opts.GeoIP.Country(client)
	if c == "" {
		c = "Unknown"
	}
	if len(a.geo) >= maxUACache {
		clear(a.geo)
	}
	a.geo[strings.Clone(client)] = c
	return c
}

// fnv64 is FNV-1a: stable across processes and versions, so that stored
// months keep merging.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// visitorKey combines a client with its agent's hash (computed once per
// distinct agent), so a line hashes only its short address.
func visitorKey(host string, ua uint64) uint64 {
	h := fnv64(host) ^ ua*0x9e3779b97f4a7c15
	h ^= h >> 31
	return h * 0xbf58476d1ce4e5b9
}

// Months lists the months held, sorted by site then time.
func (a *Aggregator) Months() []MonthKey {
	ks := make([]MonthKey, 0, len(a.months))
	for k := range a.months {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].Site != ks[j].Site {
			return ks[i].Site < ks[j].Site
		}
		if ks[i].Year != ks[j].Year {
			return ks[i].Year < ks[j].Year
		}
		return ks[i].Month < ks[j].Month
	})
	return ks
}

// Month returns the aggregate for k, or nil. It stays owned by a.
func (a *Aggregator) Month(k MonthKey) *Month { return a.months[k] }

// MergeMonth adds m (for example one loaded from storage) into a.
func (a *Aggregator) MergeMonth(m *Month) error {
	if cur, ok := a.months[m.Key]; ok {
		return cur.Merge(m)
	}
	n := newMonth(m.Key, a.defs)
	if err := n.Merge(m); err != nil {
		return err
	}
	a.months[n.Key] = n
	a.lastKey = monthCache{}
	return nil
}

// Merge adds every month of b into a.
func (a *Aggregator) Merge(b *Aggregator) error {
	for _, k := range b.Months() {
		if err := a.MergeMonth(b.months[k]); err != nil {
			return err
		}
	}
	return nil
}

// Report builds the report of one site's month, or nil if there is none.
func (a *Aggregator) Report(site string, year int, month time.Month) *Report {
	m := a.months[MonthKey{Site: site, Year: year, Month: month}]
	if m == nil {
		return nil
	}
	return m.Report(ReportOptions{Location: a.opts.Location})
}
