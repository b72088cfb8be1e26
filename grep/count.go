package grep

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/watchpost/watchpost/logapi"
	"github.com/watchpost/watchpost/query"
	"github.com/watchpost/watchpost/store"
)

// countOpts are the flags of `grep -c` and `grep -by FIELD`.
type countOpts struct {
	query           *query.Query
	since, until    time.Time
	by              string
	top             int
	json            bool
	server, token   string
	tokenFile, data string
	follow          bool
	ctxN            int
}

// countMain prints how many lines match (-c), or the values of a field
// among them with their counts (-by), exactly, from the store or the
// loghost's API. It exits 0 when something matched, as grep -c does.
func countMain(ctx context.Context, env Env, o countOpts) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "watchpost grep: "+format+"\n", a...)
		return 2
	}
	if o.follow || o.ctxN > 0 {
		return fail("-c and -by count what is stored: they take neither -f nor -C")
	}
	if o.by != "" && strings.ContainsAny(o.by, ", ") {
		return fail("-by takes one field")
	}
	top := o.top
	if top == 0 {
		top = 20
	}
	var ans logapi.SummaryAnswer
	if o.server != "" {
		tok := o.token
		if o.tokenFile != "" {
			b, err := os.ReadFile(o.tokenFile)
			if err != nil {
				return fail("read token: %v", err)
			}
			tok = strings.TrimSpace(string(b))
		}
		if tok == "" {
			return fail("-server needs -token-file (the admin token)")
		}
		c := &logapi.Client{Server: o.server, Token: tok, HTTP: env.HTTP}
		params := url.Values{"q": {o.query.String()}}
		if !o.since.IsZero() {
			params.Set("since", o.since.Format(time.RFC3339Nano))
		}
		if !o.until.IsZero() {
			params.Set("until", o.until.Format(time.RFC3339Nano))
		}
		path := "/api/v1/logs/count"
		if o.by != "" {
			path = "/api/v1/logs/fields"
			params.Set("by", o.by)
			params.Set("top", strconv.Itoa(top))
		}
		var err error
		if o.by == "" {
			var c2 struct {
				Count int64 `json:"count"`
			}
			err = c.GetJSON(ctx, path, params, &c2)
			ans.Total = c2.Count
		} else {
			err = c.GetJSON(ctx, path, params, &ans)
		}
		if err != nil {
			return fail("%v", err)
		}
	} else {
		s, err := store.Open(ctx, store.Options{Path: filepath.Join(o.data, "watchpost.db"), ReadOnly: true})
		if err != nil {
			return fail("%v", err)
		}
		defer s.Close()
		so := store.SummaryOptions{Query: o.query, Since: o.since, Until: o.until}
		if o.by != "" {
			so.Fields = []string{o.by}
		}
		sum, err := s.Summarize(ctx, so)
		if err != nil {
			return fail("%v", err)
		}
		ans.Total, ans.Fields = sum.Total, sum.Fields
		for i := range ans.Fields {
			ans.Fields[i].TopValues(top)
		}
	}
	w := env.Stdout
	switch {
	case o.json && o.by == "":
		json.NewEncoder(w).Encode(map[string]int64{"count": ans.Total})
	case o.json:
		f := logapi.FieldCounts(ans.Total, ans.Fields)
		json.NewEncoder(w).Encode(f)
	case o.by == "":
		fmt.Fprintln(w, ans.Total)
	default:
		esc := func(s string) string {
			if env.Terminal {
				return query.EscapeControl(s)
			}
			return s
		}
		for _, f := range ans.Fields {
			for _, v := range f.Values {
				fmt.Fprintf(w, "%7d %s\n", v.Count, esc(v.Value))
			}
			if f.Other > 0 {
				fmt.Fprintf(w, "%7d (other values)\n", f.Other)
			}
			if f.Missing > 0 {
				fmt.Fprintf(w, "%7d (no %s)\n", f.Missing, esc(f.Name))
			}
		}
	}
	if ans.Total > 0 {
		return 0
	}
	return 1
}
