package alerting

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/watchpost/watchpost/config"
)

// Main is `watchpost alerts test -config FILE`: it sends a test message to
// the configured email receiver, so an admin knows alerts will arrive
// before they are needed.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, "usage: watchpost alerts test -config FILE")
		return 2
	}
	fs := flag.NewFlagSet("alerts test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "the loghost's configuration file")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "usage: watchpost alerts test -config FILE")
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	e := cfg.Alerting.Email
	if e == nil {
		fmt.Fprintf(stderr, "%s: no alerting.email receiver configured\n", *cfgPath)
		return 1
	}
	host, _ := os.Hostname()
	sender, err := NewEmail(EmailConfig{SMTP: e.SMTP, TLS: e.TLS, From: e.From, To: e.To, Username: e.Username, Password: string(e.Password), HELO: host})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	now := time.Now()
	msg := Message{
		Subject:   "[watchpost] test message",
		Text:      fmt.Sprintf("This is a test from the Watchpost loghost %s at %s.\nIf you read it, alerts will reach you.\n", host, now.Format(time.RFC1123)),
		MessageID: fmt.Sprintf("watchpost.test.%d@%s", now.UnixNano(), host),
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := sender.Send(ctx, msg); err != nil {
		fmt.Fprintf(stderr, "email to %v through %s: %v\n", e.To, e.SMTP, err)
		return 1
	}
	fmt.Fprintf(stdout, "sent a test message to %v through %s\n", e.To, e.SMTP)
	return 0
}
