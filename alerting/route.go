package alerting

import (
	"cmp"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/watchpost/watchpost/config"
)

// DefaultReceiver is the receiver made of alerting.email, alerting.matrix
// and alerting.webhook; it gets what no route claims.
const DefaultReceiver = "default"

// Route sends alerts whose labels match to a receiver, with its grouping,
// reminder and escalation settings.
type Route struct {
	Index         int // in the configuration; -1 for the default route
	Matchers      []Matcher
	Receiver      string
	Continue      bool
	GroupBy       []string // none: every alert (every incident) alone
	GroupWait     time.Duration
	GroupInterval time.Duration
	// RepeatInterval reminds about unacknowledged incidents, at most
	// RepeatMax times.
	RepeatInterval time.Duration
	RepeatMax      int
	EscalateAfter  time.Duration
	EscalateTo     string
	DependsOn      []string
	// Digest, when set, collects everything the route sends (firing and
	// resolved alike) into one message per receiver channel every Digest:
	// for low severities that nobody needs to hear about at once.
	Digest time.Duration
}

// Router picks the routes of an alert: the first matching one, and the
// ones after it while each says continue; the default route when none
// matches.
type Router struct {
	Routes         []Route
	RepeatInterval time.Duration
	RepeatMax      int
}

// NewRouter compiles the configuration's routes.
func NewRouter(a *config.Alerting) (*Router, error) {
	r := &Router{RepeatInterval: time.Duration(a.RepeatInterval), RepeatMax: a.RepeatMax}
	if r.RepeatMax == 0 {
		r.RepeatMax = 5
	}
	for i, cr := range a.Routes {
		rt := Route{Index: i, Receiver: cr.Receiver, Continue: cr.Continue, GroupBy: cr.GroupBy,
			GroupWait: time.Duration(cr.GroupWait), GroupInterval: time.Duration(cr.GroupInterval),
			RepeatInterval: time.Duration(cr.RepeatInterval), RepeatMax: cr.RepeatMax,
			EscalateAfter: time.Duration(cr.EscalateAfter), EscalateTo: cr.EscalateTo, DependsOn: cr.DependsOn,
			Digest: time.Duration(cr.Digest)}
		names := make([]string, 0, len(cr.Match))
		for k := range cr.Match {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			m, err := ParseMatch(k, cr.Match[k])
			if err != nil {
				return nil, fmt.Errorf("alerting.routes[%d]: %w", i, err)
			}
			rt.Matchers = append(rt.Matchers, m)
		}
		r.Routes = append(r.Routes, r.fill(rt))
	}
	return r, nil
}

// fill gives a route the global defaults it does not set.
func (r *Router) fill(rt Route) Route {
	if rt.RepeatInterval == 0 {
		rt.RepeatInterval = r.RepeatInterval
	}
	if rt.RepeatMax == 0 {
		rt.RepeatMax = r.RepeatMax
	}
	if rt.GroupInterval == 0 {
		rt.GroupInterval = 5 * time.Minute
	}
	return rt
}

// Rule alerts that no configured route claims are grouped by rule (the
// loghost always has a Router, routes or none): a rule whose
// title holds the line ($0) would otherwise send one message per distinct
// line, and its lines can come from anyone who can reach the syslog
// port. The first goes after ruleGroupWait, the rest of the rule's
// alerts together every group interval.
const ruleGroupWait = 30 * time.Second

func defaultRoute(r Route, l Labels) Route {
	if l["source"] == SourceRule {
		r.GroupBy, r.GroupWait = []string{"rule"}, ruleGroupWait
	}
	return r
}

// Match returns the routes an alert with these labels takes.
func (r *Router) Match(l Labels) []Route {
	if r == nil {
		// No routing at all (a Dispatcher built without one): everything
		// to the default receiver at once.
		return []Route{{Index: -1, Receiver: DefaultReceiver, GroupInterval: 5 * time.Minute}}
	}
	var out []Route
	for _, rt := range r.Routes {
		if matchAll(rt.Matchers, l) {
			out = append(out, rt)
			if !rt.Continue {
				break
			}
		}
	}
	if len(out) == 0 {
		out = append(out, defaultRoute(r.fill(Route{Index: -1, Receiver: DefaultReceiver}), l))
	}
	return out
}

// groupKey names the group an alert joins on a route: the route and the
// values of its group_by labels; without group_by each incident (or each
// alert without one) is its own group.
func groupKey(rt Route, l Labels, incident, rowID int64) string {
	if len(rt.GroupBy) == 0 {
		if incident > 0 {
			return fmt.Sprintf("r%d/incident:%d", rt.Index, incident)
		}
		return fmt.Sprintf("r%d/row:%d", rt.Index, rowID)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "r%d", rt.Index)
	for _, k := range rt.GroupBy {
		fmt.Fprintf(&b, "/%s=%q", k, l[k])
	}
	return b.String()
}

// Receiver is a named set of destinations.
type Receiver struct {
	Email     Sender
	Matrix    MatrixSender
	Webhook   *Webhook
	RateLimit int // messages per minute over all its destinations; 0: none
	// Notifiers are its chat and push destinations by channel kind
	// ("ntfy", "slack", ...; see notifierKinds).
	Notifiers map[string]Notifier

	// What route-test prints.
	describe []string
}

// channel names a delivery: the default receiver keeps the plain names
// it always had ("email"), a named one prefixes its name ("db-team/email").
func channel(receiver, kind string) string {
	if receiver == DefaultReceiver {
		return kind
	}
	return receiver + "/" + kind
}

// splitChannel undoes channel.
func splitChannel(ch string) (receiver, kind string) {
	if i := strings.LastIndexByte(ch, '/'); i >= 0 {
		return ch[:i], ch[i+1:]
	}
	return DefaultReceiver, ch
}

func (rc Receiver) channels(name string) []string {
	var out []string
	if rc.Email != nil {
		out = append(out, channel(name, "email"))
	}
	if rc.Matrix != nil {
		out = append(out, channel(name, "matrix"))
	}
	if rc.Webhook != nil {
		out = append(out, channel(name, "webhook"))
	}
	for _, k := range notifierKinds {
		if rc.Notifiers[k] != nil {
			out = append(out, channel(name, k))
		}
	}
	return out
}

// BuildReceivers makes the senders of the default and named receivers; a
// named receiver's email and Matrix settings inherit the server, sender
// and credentials of alerting.email and alerting.matrix.
func BuildReceivers(a *config.Alerting, helo string) (map[string]Receiver, error) {
	out := map[string]Receiver{}
	def, err := buildReceiver(DefaultReceiver, a.Email, a.Matrix, a.Webhook, a.Services, a.RateLimit, helo)
	if err != nil {
		return nil, err
	}
	out[DefaultReceiver] = def
	for name, r := range a.Receivers {
		var e *config.Email
		if r.Email != nil {
			c := *r.Email
			if d := a.Email; d != nil {
				c.SMTP = cmp.Or(c.SMTP, d.SMTP)
				c.TLS = cmp.Or(c.TLS, d.TLS)
				c.From = cmp.Or(c.From, d.From)
				c.Username = cmp.Or(c.Username, d.Username)
				c.Password = config.Secret(cmp.Or(string(c.Password), string(d.Password)))
			}
			e = &c
		}
		var m *config.Matrix
		if r.Matrix != nil {
			c := *r.Matrix
			if d := a.Matrix; d != nil {
				c.Homeserver = cmp.Or(c.Homeserver, d.Homeserver)
				c.AccessToken = config.Secret(cmp.Or(string(c.AccessToken), string(d.AccessToken)))
			}
			m = &c
		}
		rc, err := buildReceiver(name, e, m, r.Webhook, r.Services, r.RateLimit, helo)
		if err != nil {
			return nil, err
		}
		out[name] = rc
	}
	return out, nil
}

func buildReceiver(name string, e *config.Email, m *config.Matrix, w *config.Webhook, svc config.Services, rate int, helo string) (Receiver, error) {
	rc := Receiver{RateLimit: rate}
	if e != nil {
		s, err := NewEmail(EmailConfig{SMTP: e.SMTP, TLS: e.TLS, From: e.From, To: e.To, Username: e.Username, Password: string(e.Password), HELO: helo,
			Subject: e.Subject, Body: e.Body})
		if err != nil {
			return rc, fmt.Errorf("receiver %s: %w", name, err)
		}
		rc.Email = s
		rc.describe = append(rc.describe, fmt.Sprintf("email to %s through %s", strings.Join(e.To, ", "), e.SMTP))
	}
	if m != nil {
		s, err := NewMatrix(MatrixConfig{Homeserver: m.Homeserver, AccessToken: string(m.AccessToken), Room: m.Room, Body: m.Body, HTML: m.HTML})
		if err != nil {
			return rc, fmt.Errorf("receiver %s: %w", name, err)
		}
		rc.Matrix = s
		rc.describe = append(rc.describe, fmt.Sprintf("Matrix room %s on %s", m.Room, m.Homeserver))
	}
	if w != nil {
		rc.Webhook = NewWebhook(w.URL, string(w.Secret))
		rc.describe = append(rc.describe, "webhook "+RedactURL(w.URL))
	}
	if err := rc.addNotifiers(name, svc, w); err != nil {
		return rc, fmt.Errorf("receiver %s: %w", name, err)
	}
	if rate > 0 {
		rc.describe = append(rc.describe, fmt.Sprintf("at most %d messages a minute", rate))
	}
	return rc, nil
}
