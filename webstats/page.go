package webstats

// pageHTML is the static report. Kept apart from render.go so each stays
// readable; it has no script and loads nothing.
const pageHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Web statistics{{range .}} · {{.Site}} {{.Month}}{{end}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left;max-width:40em;overflow-wrap:anywhere}
th{background:#f3f3f3}.totals td{font-size:1.2em;font-weight:600}
svg{display:block;margin:.5em 0;max-width:100%}.visits{fill:#f4b400}.pages{fill:#4a90d9}.hits{fill:#9ec5ee}
.legend span{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em;vertical-align:middle}.legend .visits{background:#f4b400}.legend .pages{background:#4a90d9}.legend .hits{background:#9ec5ee}
.grid{display:flex;flex-wrap:wrap;gap:2em}
</style></head><body>
{{range .}}<section class="month">
<h1>Web statistics for {{.Site}} — {{.Month}}</h1>
<p>Days and hours in {{.TimeZone}}. Definitions {{.DefinitionsText}}.</p>
<table class="totals" id="totals"><tr><th></th><th>Unique visitors</th><th>Visits</th><th>Pages</th><th>Hits</th><th>Bandwidth</th><th>GoAccess visitors</th></tr>
<tr><td>Viewed traffic</td><td id="unique">{{.Totals.Unique}}</td><td id="visits">{{.Totals.Visits}}</td><td id="pages">{{.Totals.Pages}}</td><td id="hits">{{.Totals.Hits}}</td><td id="bandwidth">{{bytes .Totals.Bytes}}</td><td>{{.Totals.GoAccessUnique}}</td></tr>
<tr><td>Not viewed (robots, errors)</td><td></td><td></td><td></td><td>{{.Totals.NotViewedHits}}</td><td>{{bytes .Totals.NotViewedBytes}}</td><td></td></tr></table>
<h2>Days of month</h2>
<div class="legend"><span class="visits"></span>visits<span class="pages"></span>pages<span class="hits"></span>hits</div>
<svg viewBox="0 0 720 160" width="720" height="160" role="img" aria-label="Visits, pages and hits per day">{{range .DayChart}}<g class="{{.Class}}">{{range .Bars}}<rect x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .Y}}" width="{{printf "%.1f" .W}}" height="{{printf "%.1f" .H}}"><title>{{.Label}}</title></rect>{{end}}</g>{{end}}</svg>
<table><tr><th>Day</th><th>Visits</th><th>Pages</th><th>Hits</th><th>Bandwidth</th><th>GoAccess visitors</th></tr>
{{range .Days}}<tr><td>{{.Date}} {{.Weekday}}</td><td>{{.Visits}}</td><td>{{.Pages}}</td><td>{{.Hits}}</td><td>{{bytes .Bytes}}</td><td>{{.GoAccessUnique}}</td></tr>
{{end}}</table>
<div class="grid"><div><h2>Days of week</h2><table><tr><th>Day</th><th>Pages</th><th>Hits</th><th>Bandwidth</th></tr>
{{range .Weekdays}}<tr><td>{{.Key}}</td><td>{{.Pages}}</td><td>{{.Hits}}</td><td>{{bytes .Bytes}}</td></tr>{{end}}</table></div>
<div><h2>Hours</h2><svg viewBox="0 0 720 160" width="720" height="160" role="img" aria-label="Pages and hits per hour">{{range .HourChart}}<g class="{{.Class}}">{{range .Bars}}<rect x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .Y}}" width="{{printf "%.1f" .W}}" height="{{printf "%.1f" .H}}"><title>{{.Label}}</title></rect>{{end}}</g>{{end}}</svg></div></div>
<h2>Pages</h2><table><tr><th>URL</th><th>Views</th><th>Entry</th><th>Exit</th><th>Bandwidth</th></tr>
{{range .Pages}}<tr><td>{{.URL}}</td><td>{{.Pages}}</td><td>{{.Entry}}</td><td>{{.Exit}}</td><td>{{bytes .Bytes}}</td></tr>{{end}}</table>
<div class="grid"><div><h2>Status codes (all requests)</h2><table id="status"><tr><th>Code</th><th>Hits</th><th>Bandwidth</th></tr>
{{range .Status}}<tr><td>{{.Code}}</td><td>{{.Hits}}</td><td>{{bytes .Bytes}}</td></tr>{{end}}</table></div>
<div><h2>Errors (not viewed)</h2><table><tr><th>Code</th><th>Hits</th><th>Bandwidth</th></tr>
{{range .Errors}}<tr><td>{{.Code}}</td><td>{{.Hits}}</td><td>{{bytes .Bytes}}</td></tr>{{end}}</table></div>
<div><h2>Robots and spiders</h2><table id="robots"><tr><th>Robot</th><th>Hits</th><th>Bandwidth</th><th>robots.txt</th></tr>
{{range .Robots}}<tr><td>{{.Name}}</td><td>{{.Hits}}</td><td>{{bytes .Bytes}}</td><td>{{.RobotsTxt}}</td></tr>{{end}}</table></div></div>
<h2>Not found (404)</h2><table><tr><th>URL</th><th>Hits</th><th>Referrer</th></tr>
{{range .NotFound}}<tr><td>{{.URL}}</td><td>{{.Hits}}</td><td>{{.Referer}}</td></tr>{{end}}</table>
<div class="grid">
{{template "rows" (rowsOf "Search engines" .Engines)}}{{template "counts" (countsOf "Search keyphrases" "Searches" .Phrases)}}
{{template "rows" (rowsOf "Referring sites" .RefSites)}}{{template "rows" (rowsOf "Browsers" .Browsers)}}
{{template "rows" (rowsOf "Operating systems" .OSes)}}{{template "rows" (rowsOf "File types" .FileTypes)}}
{{template "counts" (countsOf "Visit durations" "Visits" .Durations)}}{{if .Countries}}{{template "rows" (rowsOf "Countries" .Countries)}}{{end}}
</div>
<h2>Referring pages</h2><table><tr><th>Page</th><th>Pages</th><th>Hits</th></tr>
{{range .RefPages}}<tr><td>{{.Key}}</td><td>{{.Pages}}</td><td>{{.Hits}}</td></tr>{{end}}</table>
<h2>Downloads</h2><table><tr><th>File</th><th>Hits</th><th>Partial (206)</th><th>Bandwidth</th></tr>
{{range .Downloads}}<tr><td>{{.URL}}</td><td>{{.Hits}}</td><td>{{.Partial}}</td><td>{{bytes .Bytes}}</td></tr>{{end}}</table>
</section>{{end}}
</body></html>
{{define "rows"}}<div><h2>{{.Title}}</h2><table><tr><th></th><th>Pages</th><th>Hits</th><th>Bandwidth</th></tr>
{{range .Rows}}<tr><td>{{.Key}}</td><td>{{.Pages}}</td><td>{{.Hits}}</td><td>{{bytes .Bytes}}</td></tr>{{end}}</table></div>{{end}}
{{define "counts"}}<div><h2>{{.Title}}</h2><table><tr><th></th><th>{{.Count}}</th><th>Percent</th></tr>
{{range .Rows}}<tr><td>{{.Key}}</td><td>{{.Count}}</td><td>{{printf "%.1f" .Percent}} %</td></tr>{{end}}</table></div>{{end}}`
