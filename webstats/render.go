package webstats

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the reports as plain tables.
func WriteText(w io.Writer, reports []*Report) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	for _, r := range reports {
		t := r.Totals
		fmt.Fprintf(tw, "Site %s, %s (days and hours in %s)\nDefinitions %s.\n\n", clean(r.Site), r.Month, r.TimeZone, r.DefinitionsText())
		fmt.Fprintf(tw, "\tUnique visitors\tVisits\tPages\tHits\tBandwidth\tGoAccess visitors\t\n")
		fmt.Fprintf(tw, "Month\t%d\t%d\t%d\t%d\t%s\t%d\t\n", t.Unique, t.Visits, t.Pages, t.Hits, HumanBytes(t.Bytes), t.GoAccessUnique)
		fmt.Fprintf(tw, "Not viewed\t\t\t\t%d\t%s\t\t\n\n", t.NotViewedHits, HumanBytes(t.NotViewedBytes))
		fmt.Fprintf(tw, "Day\tVisits\tPages\tHits\tBandwidth\tGoAccess visitors\t\n")
		for _, d := range r.Days {
			fmt.Fprintf(tw, "%s %s\t%d\t%d\t%d\t%s\t%d\t\n", d.Date, d.Weekday, d.Visits, d.Pages, d.Hits, HumanBytes(d.Bytes), d.GoAccessUnique)
		}
		fmt.Fprintf(tw, "\nHour\tPages\tHits\tBandwidth\t\n")
		for _, h := range r.Hours {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", h.Key, h.Pages, h.Hits, HumanBytes(h.Bytes))
		}
		fmt.Fprintf(tw, "\nPage\tViews\tEntry\tExit\tBandwidth\t\n")
		for _, p := range r.Pages {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t\n", clean(p.URL), p.Pages, p.Entry, p.Exit, HumanBytes(p.Bytes))
		}
		fmt.Fprintf(tw, "\nStatus (all requests)\tHits\tBandwidth\t\n")
		for _, c := range r.Status {
			fmt.Fprintf(tw, "%d\t%d\t%s\t\n", c.Code, c.Hits, HumanBytes(c.Bytes))
		}
		fmt.Fprintf(tw, "\nErrors (not viewed)\tHits\tBandwidth\t\n")
		for _, c := range r.Errors {
			fmt.Fprintf(tw, "%d\t%d\t%s\t\n", c.Code, c.Hits, HumanBytes(c.Bytes))
		}
		fmt.Fprintf(tw, "\nNot found\tHits\tReferrer\t\n")
		for _, n := range r.NotFound {
			fmt.Fprintf(tw, "%s\t%d\t%s\t\n", clean(n.URL), n.Hits, clean(n.Referer))
		}
		fmt.Fprintf(tw, "\nRobot\tHits\tBandwidth\trobots.txt\tLast\t\n")
		for _, b := range r.Robots {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t\n", clean(b.Name), b.Hits, HumanBytes(b.Bytes), b.RobotsTxt, b.Last)
		}
		for _, tb := range []struct {
			title string
			rows  []Row
		}{{"File type", r.FileTypes}, {"Referring site", r.RefSites}, {"Search engine", r.Engines},
			{"Browser", r.Browsers}, {"Operating system", r.OSes}, {"Country", r.Countries}} {
			if len(tb.rows) == 0 {
				continue
			}
			fmt.Fprintf(tw, "\n%s\tPages\tHits\tBandwidth\t\n", tb.title)
			for _, x := range tb.rows {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", clean(x.Key), x.Pages, x.Hits, HumanBytes(x.Bytes))
			}
		}
		for _, tb := range []struct {
			title, count string
			rows         []CountRow
		}{{"Keyphrase", "Searches", r.Phrases}, {"Visit duration", "Visits", r.Durations}} {
			if len(tb.rows) == 0 {
				continue
			}
			fmt.Fprintf(tw, "\n%s\t%s\tPercent\t\n", tb.title, tb.count)
			for _, x := range tb.rows {
				fmt.Fprintf(tw, "%s\t%d\t%.1f %%\t\n", clean(x.Key), x.Count, x.Percent)
			}
		}
		fmt.Fprintf(tw, "\nDownload\tHits\tPartial\tBandwidth\t\n")
		for _, d := range r.Downloads {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", clean(d.URL), d.Hits, d.Partial, HumanBytes(d.Bytes))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// clean keeps hostile log text from driving the terminal: control bytes
// and tabs (which would shift the table) become '?'.
func clean(s string) string {
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return '?'
		}
		return r
	}, s)
}

// HumanBytes renders a byte count as AWStats does (KB, MB, GB with two
// decimals).
func HumanBytes(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "KB", "MB", "GB", "TB"} {
		if f < 1024 || u == "TB" {
			if u == "B" {
				return fmt.Sprintf("%d B", n)
			}
			return fmt.Sprintf("%.2f %s", f, u)
		}
		f /= 1024
	}
	return ""
}

// bar is one column of an inline SVG chart.
type bar struct {
	X, Y, W, H float64
	Label      string
}

type series struct {
	Class string
	Bars  []bar
}

// chart lays out grouped columns: one group per label, one column per
// series, heights scaled to each series' own maximum as AWStats does.
func chart(labels []string, names []string, values ...[]int64) []series {
	const width, height = 720.0, 160.0
	group := width / float64(max(len(labels), 1))
	w := group / float64(len(values)+1)
	out := make([]series, len(values))
	for s, vs := range values {
		var top int64 = 1
		for _, v := range vs {
			top = max(top, v)
		}
		out[s].Class = names[s]
		for i, v := range vs {
			h := height * float64(v) / float64(top)
			out[s].Bars = append(out[s].Bars, bar{X: float64(i)*group + float64(s)*w + w/2, Y: height - h, W: w, H: h,
				Label: fmt.Sprintf("%s %s: %d", labels[i], names[s], v)})
		}
	}
	return out
}

type htmlMonth struct {
	*Report
	DayChart, HourChart []series
}

// WriteHTML writes one self-contained page (inline CSS and SVG, no
// script, no external resource). Everything from the log is escaped by
// html/template.
func WriteHTML(w io.Writer, reports []*Report) error {
	var ms []htmlMonth
	for _, r := range reports {
		var labels []string
		var vis, pag, hit []int64
		for _, d := range r.Days {
			labels = append(labels, d.Date)
			vis = append(vis, d.Visits)
			pag = append(pag, d.Pages)
			hit = append(hit, d.Hits)
		}
		var hl []string
		var hp, hh []int64
		for _, h := range r.Hours {
			hl = append(hl, h.Key+"h")
			hp = append(hp, h.Pages)
			hh = append(hh, h.Hits)
		}
		ms = append(ms, htmlMonth{Report: r, DayChart: chart(labels, []string{"visits", "pages", "hits"}, vis, pag, hit),
			HourChart: chart(hl, []string{"pages", "hits"}, hp, hh)})
	}
	return page.Execute(w, ms)
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{"bytes": HumanBytes,
	"rowsOf": RowsOf, "countsOf": CountsOf}).Parse(pageHTML))

// Table is a titled list of rows, for templates.
type Table[R Row | CountRow] struct {
	Title, Count string // Count names a CountRow's number
	Rows         []R
}

// RowsOf and CountsOf name a table in a template (the report page here
// and the admin dashboard's).
func RowsOf(title string, rows []Row) Table[Row] { return Table[Row]{Title: title, Rows: rows} }

// CountsOf: see RowsOf; count names the number ("Searches").
func CountsOf(title, count string, rows []CountRow) Table[CountRow] {
	return Table[CountRow]{Title: title, Count: count, Rows: rows}
}
