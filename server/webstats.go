package server

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/dashboard"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/webstats"
)

// webStats folds access-log lines into each site's monthly web
// statistics; it runs in the host statistics consumer's transaction. A
// month is stored per (site, year-month) as mergeable aggregates (a row
// and the parts added since it was last merged, webstats_store.go),
// written in the transaction that advances the consumer's cursor: a
// crash neither loses nor doubles a request, late lines land in their own
// month, and nothing is ever overwritten by a later year (retention never
// touches these rows).
type webStats struct {
	opts webstats.Options
	now  func() time.Time
	log  *slog.Logger
	// sites maps a site name or alias (lower case) to the site; when
	// the config lists sites, lines of other sites are not counted.
	sites    map[string]string
	restrict bool
	// setups are the listed sites' privacy promises and definitions;
	// other sites get defaults.
	setups   map[string]siteSetup
	defaults siteSetup
	geoPath  string
	// known are the sites stored when the config lists none (loaded at
	// the first batch), so that their number can be bounded.
	known map[string]bool
}

// maxAutoSites bounds the sites kept when the config lists none: with
// Apache's UseCanonicalName Off, a vhost_combined line's vhost is the
// client's Host header, and every new name would be a row kept forever.
const maxAutoSites = 200

// otherSites collects the lines of sites beyond maxAutoSites.
const otherSites = "(other sites)"

// siteSetup is what a site's months are built with. Sites with the same
// setup share an aggregator within a batch.
type siteSetup struct {
	key     string
	privacy webstats.Privacy
	defs    webstats.Definitions
}

func newSiteSetup(p webstats.Privacy, d config.WebDefinitions) siteSetup {
	defs := webstats.Definitions{VisitTimeout: time.Duration(d.VisitTimeout), SplitAtMidnight: d.SplitVisitsAtMidnight, HitCodes: d.HitCodes}
	return siteSetup{key: p.Mode + "\x00" + string(p.Key) + "\x00" + defs.Key(), privacy: p, defs: defs}
}

// newWebStats builds the consumer of cfg. On a reload prev is the one it
// replaces: its GeoIP database is kept when the file is the same, since a
// batch may still be reading it.
func newWebStats(cfg *config.Config, loc *time.Location, now func() time.Time, log *slog.Logger, prev *webStats) (*webStats, error) {
	w := &webStats{opts: webstats.Options{Location: loc}, now: now, log: log, sites: map[string]string{}, setups: map[string]siteSetup{},
		defaults: newSiteSetup(webstats.Privacy{}, cfg.Webstats.Definitions), geoPath: cfg.Webstats.GeoIP}
	switch f := cfg.Webstats.GeoIP; {
	case f == "":
	case prev != nil && prev.geoPath == f:
		w.opts.GeoIP = prev.opts.GeoIP
	default:
		g, err := webstats.OpenMaxMind(f)
		if err != nil {
			return nil, fmt.Errorf("webstats geoip_file: %w", err)
		}
		w.opts.GeoIP = g
	}
	for _, s := range cfg.Webstats.Sites {
		w.restrict = true
		w.sites[strings.ToLower(s.Name)] = s.Name
		for _, a := range s.Aliases {
			w.sites[strings.ToLower(a)] = s.Name
		}
		w.setups[s.Name] = newSiteSetup(webstats.Privacy{Mode: s.Privacy, Key: []byte(s.PrivacyKey)}, s.Definitions.Over(cfg.Webstats.Definitions))
	}
	return w, nil
}

// accessFormats are the collector format hints of access logs; lines of
// other formats count when the parser recognised an access-log request.
var accessFormats = map[string]bool{"combined": true, "common": true, "vhost_combined": true}

// siteOf names an access-log line's site: the collector's per-file site,
// else the vhost of a vhost_combined line, else the host that served it.
// It is "" for lines that are not counted.
func (w *webStats) siteOf(r *store.Record) string {
	if r.Kind != store.KindLog || (r.Format != "" && !accessFormats[r.Format]) {
		return ""
	}
	site := r.Site
	if site == "" {
		for _, f := range r.Fields {
			if f.Key == "vhost" { // logparse has taken the port off
				site = f.Value
				break
			}
		}
	}
	if site == "" {
		site = r.Host
	}
	if s, ok := w.sites[strings.ToLower(site)]; ok {
		return s
	}
	if w.restrict {
		return ""
	}
	return site
}

func (w *webStats) setupOf(site string) siteSetup {
	if s, ok := w.setups[site]; ok {
		return s
	}
	return w.defaults
}

func (w *webStats) options(s siteSetup) webstats.Options {
	o := w.opts
	o.Privacy, o.Definitions = s.privacy, s.defs
	return o
}

func (w *webStats) consume(ctx context.Context, tx *sql.Tx, recs []store.Record) error {
	// One aggregator per setup: addresses are reduced before anything
	// about them is kept.
	aggs := map[string]*webstats.Aggregator{}
	// sites[i] is the site recs[i] counts for, "" for none; made at the
	// first access-log line, as most batches have none.
	var sites []string
	for i := range recs {
		r := &recs[i]
		site := w.siteOf(r)
		if site == "" {
			continue
		}
		if !w.restrict {
			var err error
			if site, err = w.admit(ctx, tx, site); err != nil {
				return err
			}
		}
		if sites == nil {
			sites = make([]string, len(recs))
		}
		sites[i] = site
		s := w.setupOf(site)
		agg := aggs[s.key]
		if agg == nil {
			agg = webstats.New(w.options(s))
			aggs[s.key] = agg
		}
		agg.Add(site, &r.Event)
	}
	for _, agg := range aggs {
		for _, k := range agg.Months() {
			if err := w.save(ctx, tx, agg, k, recs, sites); err != nil {
				return err
			}
		}
	}
	return nil
}

// admit returns site, or otherSites once maxAutoSites others are kept.
func (w *webStats) admit(ctx context.Context, tx *sql.Tx, site string) (string, error) {
	if w.known == nil {
		rows, err := tx.QueryContext(ctx, `SELECT site FROM webstats_months UNION SELECT site FROM webstats_parts`)
		if err != nil {
			return "", fmt.Errorf("webstats: stored sites: %w", err)
		}
		w.known = map[string]bool{}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				w.known = nil
				return "", fmt.Errorf("webstats: stored sites: %w", err)
			}
			w.known[s] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			w.known = nil
			return "", fmt.Errorf("webstats: stored sites: %w", err)
		}
	}
	switch {
	case w.known[site]:
		return site, nil
	case len(w.known) < maxAutoSites:
		w.known[site] = true
		return site, nil
	}
	if !w.known[otherSites] {
		w.known[otherSites] = true
		w.log.Warn("web statistics keep no more sites; list them in webstats.sites to choose which", "kept", maxAutoSites, "others_in", otherSites)
	}
	return otherSites, nil
}

// save adds an aggregator's month to the stored one as a new part.
func (w *webStats) save(ctx context.Context, tx *sql.Tx, agg *webstats.Aggregator, k webstats.MonthKey, recs []store.Record, sites []string) error {
	month := agg.Month(k)
	defs := month.Definitions()
	stored, err := storedDefs(ctx, tx, k)
	if err != nil {
		return err
	}
	if stored != "" && stored != defs.Key() {
		// The site's definitions changed during this month: the month
		// keeps the ones it began with, and the new ones apply from the
		// next month.
		w.log.Info("web statistics definitions changed; the stored month keeps its own until it ends", "site", k.Site, "month", k.YearMonth())
		old, err := loadMonth(ctx, tx, k)
		if err != nil {
			return err
		}
		month = w.rebuild(k, old.Definitions(), recs, sites)
	}
	return addPart(ctx, tx, month, w.now())
}

// rebuild aggregates the batch's lines of k again with defs; sites are
// what consume found the records' sites to be.
func (w *webStats) rebuild(k webstats.MonthKey, defs webstats.Definitions, recs []store.Record, sites []string) *webstats.Month {
	o := w.options(w.setupOf(k.Site))
	o.Definitions = defs
	agg := webstats.New(o)
	for i := range recs {
		if sites[i] == k.Site {
			agg.Add(k.Site, &recs[i].Event)
		}
	}
	return agg.Month(k)
}

// webStatsReader reads the stored months for the dashboard.
type webStatsReader struct {
	db    *sql.DB
	opts  webstats.Options
	cache totalsCache
}

// Months implements dashboard.WebStatsSource.
func (r *webStatsReader) Months(ctx context.Context) ([]dashboard.StatsMonth, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT site, month, MAX(updated) FROM (
		SELECT site, month, updated FROM webstats_months UNION ALL SELECT site, month, added FROM webstats_parts)
		GROUP BY site, month ORDER BY site, month DESC`)
	if err != nil {
		return nil, fmt.Errorf("webstats months: %w", err)
	}
	defer rows.Close()
	var out []dashboard.StatsMonth
	for rows.Next() {
		var m dashboard.StatsMonth
		var upd int64
		if err := rows.Scan(&m.Site, &m.Month, &upd); err != nil {
			return nil, fmt.Errorf("webstats months: %w", err)
		}
		m.Updated = time.Unix(upd, 0)
		out = append(out, m)
	}
	return out, rows.Err()
}

// Report implements dashboard.WebStatsSource: nil when there is none.
func (r *webStatsReader) Report(ctx context.Context, site, month string) (*webstats.Report, error) {
	y, err1 := strconv.Atoi(month[:min(4, len(month))])
	mo, err2 := strconv.Atoi(month[min(5, len(month)):])
	if err1 != nil || err2 != nil || len(month) != 7 || mo < 1 || mo > 12 {
		return nil, nil
	}
	// One snapshot: a compaction between reading the month's row and its
	// parts would count the parts twice.
	tx, err := r.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("webstats report: %w", err)
	}
	defer tx.Rollback()
	m, err := loadMonth(ctx, tx, webstats.MonthKey{Site: site, Year: y, Month: time.Month(mo)})
	if err != nil || m == nil {
		return nil, err
	}
	return m.Report(webstats.ReportOptions{Location: r.opts.Location}), nil
}
