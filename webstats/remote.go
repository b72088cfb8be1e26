package webstats

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// storedMonth is one entry of the loghost's GET /api/v1/webstats.
type storedMonth struct {
	Site  string `json:"site"`
	Month string `json:"month"`
}

// remoteReports fetches the months the loghost at server keeps, through
// its admin API: of site (all sites when empty), and month "YYYY-MM",
// "all", or "" for each site's newest.
func remoteReports(ctx context.Context, hc *http.Client, server, token, site, month string) ([]*Report, error) {
	base := strings.TrimSuffix(server, "/")
	var list []storedMonth
	if err := getJSON(ctx, hc, base+"/api/v1/webstats", token, &list); err != nil {
		return nil, err
	}
	newest := map[string]string{}
	for _, m := range list {
		newest[m.Site] = max(newest[m.Site], m.Month)
	}
	var want []storedMonth
	for _, m := range list {
		if (site == "" || m.Site == site) && (month == "all" || m.Month == month || month == "" && m.Month == newest[m.Site]) {
			want = append(want, m)
		}
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("the loghost keeps no web statistics for site %q, month %q", site, cmp.Or(month, "newest"))
	}
	sort.Slice(want, func(i, j int) bool {
		if want[i].Site != want[j].Site {
			return want[i].Site < want[j].Site
		}
		return want[i].Month < want[j].Month
	})
	reports := make([]*Report, 0, len(want))
	for _, m := range want {
		r := &Report{}
		if err := getJSON(ctx, hc, base+"/api/v1/webstats/"+url.PathEscape(m.Site)+"/"+m.Month, token, r); err != nil {
			return nil, err
		}
		reports = append(reports, r)
	}
	return reports, nil
}

// getJSON decodes a 200 answer into out; other answers become errors
// carrying the loghost's JSON error message.
func getJSON(ctx context.Context, hc *http.Client, u, token string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("loghost request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("loghost: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("loghost: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body[:min(len(body), 200)]))
		}
		return fmt.Errorf("loghost: %s: %s", resp.Status, e.Error)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("loghost: decode answer: %w", err)
	}
	return nil
}
