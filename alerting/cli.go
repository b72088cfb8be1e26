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
// the configured email and Matrix receivers, so an admin knows alerts
// will arrive before they are needed.
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
	e, mc := cfg.Alerting.Email, cfg.Alerting.Matrix
	if e == nil && mc == nil {
		fmt.Fprintf(stderr, "%s: no alerting.email or alerting.matrix receiver configured\n", *cfgPath)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	host, _ := os.Hostname()
	now := time.Now()
	text := fmt.Sprintf("This is a test from the Watchpost loghost %s at %s.\nIf you read it, alerts will reach you.\n", host, now.Format(time.RFC1123))
	rc := 0
	if mc != nil {
		mx, err := NewMatrix(MatrixConfig{Homeserver: mc.Homeserver, AccessToken: string(mc.AccessToken), Room: mc.Room})
		if err == nil {
			_, err = mx.Send(ctx, MatrixMessage{TxnID: fmt.Sprintf("watchpost-test-%d", now.UnixNano()), Text: "[watchpost] test message\n" + text})
		}
		if err != nil {
			fmt.Fprintf(stderr, "matrix room %s: %v\n", mc.Room, err)
			rc = 1
		} else {
			fmt.Fprintf(stdout, "sent a test message to the Matrix room %s\n", mc.Room)
		}
	}
	if e == nil {
		return rc
	}
	sender, err := NewEmail(EmailConfig{SMTP: e.SMTP, TLS: e.TLS, From: e.From, To: e.To, Username: e.Username, Password: string(e.Password), HELO: host})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	msg := Message{Subject: "[watchpost] test message", Text: text, MessageID: fmt.Sprintf("watchpost.test.%d@%s", now.UnixNano(), host)}
	if err := sender.Send(ctx, msg); err != nil {
		fmt.Fprintf(stderr, "email to %v through %s: %v\n", e.To, e.SMTP, err)
		return 1
	}
	fmt.Fprintf(stdout, "sent a test message to %v through %s\n", e.To, e.SMTP)
	return rc
}
