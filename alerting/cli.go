package alerting

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/watchpost/watchpost/alerting/msgtmpl"
	"github.com/watchpost/watchpost/config"
)

// Main is `watchpost alerts test -config FILE`: it sends a test message to
// the configured email and Matrix receivers, so an admin knows alerts
// will arrive before they are needed.
//
// `watchpost alerts route-test LABEL=VALUE... -config FILE` prints where
// an alert with those labels would go.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "route-test" {
		return routeTest(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, "usage: watchpost alerts test -config FILE\n       watchpost alerts route-test LABEL=VALUE... -config FILE")
		return 2
	}
	fs := flag.NewFlagSet("alerts test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the loghost's configuration file")
	rest := args[1:]
	receiver := ""
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		receiver, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if fs.NArg() == 1 && receiver == "" {
		receiver = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: watchpost alerts test [RECEIVER] -config FILE")
		return 2
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "usage: watchpost alerts test [RECEIVER] -config FILE")
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	return testReceiver(ctx, &cfg.Alerting, cmp.Or(receiver, DefaultReceiver), stdout, stderr)
}

// routeTest takes its flags anywhere among the labels, as the usage
// shows them after.
func routeTest(args []string, stdout, stderr io.Writer) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: watchpost alerts route-test LABEL=VALUE... -config FILE\n\nPrints the routes and receivers an alert with these labels goes to.")
		return 2
	}
	var cfgPath string
	l := Labels{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-config" || a == "--config":
			if i+1 == len(args) {
				return usage()
			}
			i++
			cfgPath = args[i]
		case strings.HasPrefix(a, "-config=") || strings.HasPrefix(a, "--config="):
			_, cfgPath, _ = strings.Cut(a, "=")
		case a == "-h" || a == "-help" || a == "--help":
			return usage()
		default:
			name, value, ok := strings.Cut(a, "=")
			if !ok || name == "" {
				fmt.Fprintf(stderr, "want LABEL=VALUE, got %q\n", a)
				return 2
			}
			l[name] = value
		}
	}
	if cfgPath == "" {
		return usage()
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	router, err := NewRouter(&cfg.Alerting)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	receivers, err := BuildReceivers(&cfg.Alerting, "localhost")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintf(stdout, "labels %s\n", l)
	for _, rt := range router.Match(l) {
		fmt.Fprintf(stdout, "%s\n", describeRoute(rt))
		dests := receivers[rt.Receiver].describe
		if len(dests) == 0 {
			dests = []string{"nothing: the receiver has no destination"}
		}
		for _, d := range dests {
			fmt.Fprintf(stdout, "  -> %s: %s\n", rt.Receiver, d)
		}
		if rt.EscalateTo != "" {
			fmt.Fprintf(stdout, "  escalates to %s after %s unacknowledged\n", rt.EscalateTo, rt.EscalateAfter)
		}
	}
	return 0
}

func describeRoute(rt Route) string {
	var b strings.Builder
	if rt.Index < 0 {
		b.WriteString("no route matches: the default receiver")
	} else {
		ms := make([]string, len(rt.Matchers))
		for i, m := range rt.Matchers {
			ms[i] = m.String()
		}
		fmt.Fprintf(&b, "route %d {%s}", rt.Index+1, strings.Join(ms, ", "))
		if rt.Continue {
			b.WriteString(" (continue)")
		}
	}
	if len(rt.GroupBy) > 0 {
		fmt.Fprintf(&b, "; grouped by %s, wait %s, interval %s", strings.Join(rt.GroupBy, ","), rt.GroupWait, rt.GroupInterval)
	}
	if rt.RepeatInterval > 0 {
		fmt.Fprintf(&b, "; reminders every %s, at most %d", rt.RepeatInterval, rt.RepeatMax)
	}
	if len(rt.DependsOn) > 0 {
		fmt.Fprintf(&b, "; muted while %s is down", strings.Join(rt.DependsOn, " or "))
	}
	return b.String()
}

// testReceiver sends a test message through each destination of a
// receiver, rendered by its templates as an alert would be.
func testReceiver(ctx context.Context, a *config.Alerting, name string, stdout, stderr io.Writer) int {
	if _, ok := a.Receivers[name]; !ok && name != DefaultReceiver {
		fmt.Fprintf(stderr, "no receiver is named %q\n", name)
		return 2
	}
	host, _ := os.Hostname()
	rs, err := BuildReceivers(a, host)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	rc := rs[name]
	if len(rc.describe) == 0 || (len(rc.channels(name)) == 0) {
		fmt.Fprintln(stderr, "no alerting.email or alerting.matrix (or any other destination) is configured")
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	now := time.Now()
	text := fmt.Sprintf("This is a test of the receiver %s from the Watchpost loghost %s at %s.\nIf you read it, alerts will reach you.\n", name, host, now.Format(time.RFC1123))
	subject := "[watchpost] test message"
	alert := &msgtmpl.Alert{Subject: subject, Text: text, Severity: "info", State: "firing", Kind: "test", Title: "test message",
		Host: host, Labels: map[string]string{"alertname": "test"}, Start: now.UTC(), Count: 1, Receiver: name}
	type dest struct {
		what string
		send func() error
	}
	var ds []dest
	if rc.Email != nil {
		ds = append(ds, dest{"email", func() error {
			return rc.Email.Send(ctx, Message{Subject: subject, Text: text, Alert: alert,
				MessageID: fmt.Sprintf("watchpost.test.%d@%s", now.UnixNano(), idSafe(host))})
		}})
	}
	if rc.Matrix != nil {
		ds = append(ds, dest{"Matrix", func() error {
			_, err := rc.Matrix.Send(ctx, MatrixMessage{TxnID: fmt.Sprintf("watchpost-test-%d", now.UnixNano()), Text: subject + "\n" + text, Alert: alert})
			return err
		}})
	}
	if rc.Webhook != nil {
		ds = append(ds, dest{"webhook", func() error {
			return rc.Webhook.Post(ctx, WebhookPayload{ID: fmt.Sprintf("%s.test.%d", host, now.UnixNano()), Kind: "test", Subject: subject, Text: text,
				Data: []byte("{}"), alert: alert})
		}})
	}
	for _, k := range notifierKinds {
		if n := rc.Notifiers[k]; n != nil {
			ds = append(ds, dest{k, func() error {
				_, err := n.Notify(ctx, Notification{ID: fmt.Sprintf("%s.test.%d", host, now.UnixNano()), Alert: *alert})
				return err
			}})
		}
	}
	code := 0
	for i, d := range ds {
		if err := d.send(); err != nil {
			fmt.Fprintf(stderr, "receiver %s, %s: %v\n", name, rc.describe[i], err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "sent a test message to %s (%s)\n", name, rc.describe[i])
	}
	return code
}
