package report

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"text/tabwriter"
	"time"
)

const stamp = "2006-01-02 15:04"

func pct(s Service) string {
	if !s.Known {
		return "no data"
	}
	// Three decimals: 99.9 % and 99.99 % are different promises.
	return fmt.Sprintf("%.3f %%", s.Uptime*100)
}

func dur(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if d >= 24*time.Hour {
		days := d / (24 * time.Hour)
		return fmt.Sprintf("%dd%s", days, (d - days*24*time.Hour).Round(time.Second))
	}
	return d.Round(time.Second).String()
}

func (r *Report) at(t time.Time) string { return t.In(r.Location).Format(stamp) }

func (r *Report) end(in Incident) string {
	if in.End.IsZero() {
		return "still open"
	}
	return r.at(in.End)
}

func size(n int64) string {
	if n < 0 {
		return ""
	}
	return FormatSize(n)
}

func exit(run Run) string {
	s := "failed"
	if run.ExitCode >= 0 {
		s = fmt.Sprintf("exit %d", run.ExitCode)
	}
	if run.Detail != "" {
		s += ": " + run.Detail
	}
	return s
}

// clean keeps one cell to one line of printable text, whatever a job's
// log held.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Coverage says which part of the month the loghost watched, or ""
// when it watched all of it.
func (r *Report) Coverage() string {
	switch {
	case r.NotWatched && r.WatchedSince.IsZero():
		return "This loghost has no data yet: it was not watching during this month."
	case r.NotWatched:
		return fmt.Sprintf("This loghost was not watching during this month (it started on %s): it has no data for it.", r.at(r.WatchedSince))
	case !r.WatchedSince.IsZero():
		return fmt.Sprintf("Watched since %s, when this loghost started; the time before is not counted.", r.at(r.WatchedSince))
	}
	return ""
}

func (r *Report) title() string {
	return fmt.Sprintf("Watchpost monthly report: %s (%s)", r.Month.Format("January 2006"), r.Location)
}

// Text is the report as plain text.
func (r *Report) Text() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nFrom %s to %s; generated %s.\n", r.title(), r.at(r.Month), r.at(r.End), r.at(r.Generated))
	if c := r.Coverage(); c != "" {
		fmt.Fprintln(&b, c)
	}
	b.WriteString("\n")
	b.WriteString("UPTIME\n")
	if len(r.Services) == 0 {
		b.WriteString("  No checks or heartbeats are configured.\n")
	}
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	if len(r.Services) > 0 {
		fmt.Fprintln(tw, "  CHECK\tKIND\tUPTIME\tDOWN\tMAINTENANCE\tNOT WATCHED\tINCIDENTS")
	}
	for _, s := range r.Services {
		kind := "check"
		if s.Heartbeat {
			kind = "heartbeat"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%d\n", clean(s.Name), kind, pct(s), dur(s.Down), dur(s.Maintenance), dur(s.Unknown), s.Incidents)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nINCIDENTS (%d)\n", len(r.Incidents))
	if len(r.Incidents) == 0 {
		b.WriteString("  None.\n")
	}
	tw = tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	for _, in := range r.Incidents {
		fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s\n", in.ID, clean(in.Check), r.at(in.Start), r.end(in), dur(in.Duration))
	}
	tw.Flush()
	b.WriteString("\nBACKUPS AND JOBS\n")
	if len(r.Backups) == 0 {
		b.WriteString("  No heartbeats are configured.\n")
	}
	for _, bk := range r.Backups {
		fmt.Fprintf(&b, "  %s: %s\n", clean(bk.Name), runCount(bk))
		if bk.Partial {
			fmt.Fprintf(&b, "    (pings before %s were pruned; the store keeps the last %d)\n", r.at(bk.Since), keptPings)
		}
		tw = tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
		for _, run := range merged(bk) {
			if run.failed {
				fmt.Fprintf(tw, "    %s\tFAILED\t%s\t\t%s\n", r.at(run.Time), durOrDash(run.Duration), clean(exit(run.Run)))
			} else {
				fmt.Fprintf(tw, "    %s\tok\t%s\t%s\t\n", r.at(run.Time), durOrDash(run.Duration), size(run.Size))
			}
		}
		tw.Flush()
	}
	// tabwriter pads the last cell: trailing spaces are noise in mail.
	lines := strings.Split(b.String(), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n")
}

func durOrDash(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return dur(d)
}

type runRow struct {
	Run
	failed bool
}

// runCount counts the runs the list below it shows, successes and
// failures alike: "2 runs, 1 failed".
func runCount(b Backup) string {
	n := len(b.Runs) + len(b.Failures)
	s := fmt.Sprintf("%d runs, %d failed", n, len(b.Failures))
	if n == 1 {
		s = fmt.Sprintf("1 run, %d failed", len(b.Failures))
	}
	return s
}

// merged lists a backup's runs and failures in time order.
func merged(b Backup) []runRow {
	out := make([]runRow, 0, len(b.Runs)+len(b.Failures))
	i, j := 0, 0
	for i < len(b.Runs) || j < len(b.Failures) {
		if j >= len(b.Failures) || (i < len(b.Runs) && !b.Failures[j].Time.Before(b.Runs[i].Time)) {
			out = append(out, runRow{b.Runs[i], false})
			i++
		} else {
			out = append(out, runRow{b.Failures[j], true})
			j++
		}
	}
	return out
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": pct, "dur": dur, "durOrDash": durOrDash, "size": size, "exit": exit, "merged": merged, "runCount": runCount,
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.R.Title}}</title></head>
<body>
<h1>{{.R.Title}}</h1>
<p>From {{.R.At .R.Month}} to {{.R.At .R.End}}; generated {{.R.At .R.Generated}}.</p>
{{with .R.Coverage}}<p><strong>{{.}}</strong></p>
{{end}}<h2>Uptime</h2>
{{if .R.Services}}<table border="1" cellpadding="4" cellspacing="0">
<tr><th>Check</th><th>Kind</th><th>Uptime</th><th>Down</th><th>Maintenance</th><th>Not watched</th><th>Incidents</th></tr>
{{range .R.Services}}<tr><td>{{.Name}}</td><td>{{if .Heartbeat}}heartbeat{{else}}check{{end}}</td><td>{{pct .}}</td><td>{{dur .Down}}</td><td>{{dur .Maintenance}}</td><td>{{dur .Unknown}}</td><td>{{.Incidents}}</td></tr>
{{end}}</table>{{else}}<p>No checks or heartbeats are configured.</p>{{end}}
<h2>Incidents ({{len .R.Incidents}})</h2>
{{if .R.Incidents}}<table border="1" cellpadding="4" cellspacing="0">
<tr><th>#</th><th>Check</th><th>Start</th><th>End</th><th>Duration</th></tr>
{{range .R.Incidents}}<tr><td>{{.ID}}</td><td>{{.Check}}</td><td>{{$.R.At .Start}}</td><td>{{$.R.EndOf .}}</td><td>{{dur .Duration}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
<h2>Backups and jobs</h2>
{{range .R.Backups}}<h3>{{.Name}}: {{runCount .}}</h3>
{{if .Partial}}<p>(pings before {{$.R.At .Since}} were pruned; the store keeps the last {{$.Kept}})</p>{{end}}
{{with merged .}}<table border="1" cellpadding="4" cellspacing="0">
<tr><th>Time</th><th>Result</th><th>Duration</th><th>Size</th></tr>
{{range .}}<tr><td>{{$.R.At .Time}}</td>{{if .Failed}}<td><strong>{{exit .Run}}</strong></td>{{else}}<td>ok</td>{{end}}<td>{{durOrDash .Duration}}</td><td>{{size .Size}}</td></tr>
{{end}}</table>{{end}}
{{else}}<p>No heartbeats are configured.</p>{{end}}
</body></html>
`))

// HTML is the report as an HTML page; every value is escaped.
func (r *Report) HTML() string {
	var b bytes.Buffer
	if err := page.Execute(&b, struct {
		R    htmlReport
		Kept int
	}{htmlReport{r}, keptPings}); err != nil {
		// The template is fixed and its data typed: an error is a bug here.
		return "<pre>" + template.HTMLEscapeString(err.Error()) + "</pre>"
	}
	return b.String()
}

// htmlReport gives the template the report's helpers.
type htmlReport struct{ *Report }

func (h htmlReport) Title() string            { return h.title() }
func (h htmlReport) At(t time.Time) string    { return h.at(t) }
func (h htmlReport) EndOf(in Incident) string { return h.end(in) }
func (r runRow) Failed() bool                 { return r.failed }
