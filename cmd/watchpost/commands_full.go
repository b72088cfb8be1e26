//go:build !agent

package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/checker"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/grep"
	"github.com/watchpost/watchpost/report"
	"github.com/watchpost/watchpost/rules"
	"github.com/watchpost/watchpost/server"
	"github.com/watchpost/watchpost/webstats"
)

const usage = `usage: watchpost COMMAND [flags]

commands:
  serve          run the loghost (no config needed: embedded defaults)
  check          run one uptime probe (http, tcp, tls, dns, smtp, cmd): a Nagios plugin line, exit 0-3
  collect        the host agent: host metrics, munin plugins, the journal and log files, shipped to the loghost
  grep           search parsed logs, locally or on a loghost; -f follows
  munin          run munin plugins, poll a munin-node, or answer munin masters (run, poll, node, ...)
  hoststat       this host's built-in metrics now, as munin plugin output (or JSON)
  status export  the public status page as static files, to publish elsewhere
  report monthly the month's uptime, incidents and backups (text or HTML; -send mails it)
  stats          awstats-style web statistics from access logs (text, JSON or HTML)
  config check   validate a configuration file
  alerts test    send a test alert through the configured receivers (alerts route-test: where labels go)
  backup         a consistent copy of the store while the loghost runs
  user hash      print a bcrypt hash of a password read from stdin (for server.users)
  healthcheck    probe a loghost's /healthz (for container health checks)
  rules test     run logsurfer-style rule files over a log and print every action (rules check: validate)
  version        print version, commit and Go version

Run 'watchpost COMMAND -h' for a command's flags.
`

const missingHint = ""

func commands() map[string]command {
	senv := func(e env) server.Env { return server.Env{Stdin: e.stdin, Stdout: e.stdout, Stderr: e.stderr} }
	cmds := agentCommands()
	for name, c := range map[string]command{
		"serve": func(ctx context.Context, args []string, e env) int {
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return server.ServeMain(ctx, args, senv(e), hup)
		},
		"rules": func(ctx context.Context, args []string, e env) int {
			return rules.Main(ctx, args, e.stdout, e.stderr)
		},
		"check": func(ctx context.Context, args []string, e env) int {
			return checker.Main(ctx, args, e.stdout, e.stderr)
		},
		"grep": func(ctx context.Context, args []string, e env) int {
			return grep.Main(ctx, args, e.stdout, e.stderr)
		},
		"status": func(ctx context.Context, args []string, e env) int {
			return server.StatusExportMain(ctx, args, senv(e))
		},
		"report": func(ctx context.Context, args []string, e env) int {
			return report.Main(ctx, args, e.stdout, e.stderr)
		},
		"stats": func(ctx context.Context, args []string, e env) int {
			return webstats.Main(ctx, args, e.stdout, e.stderr)
		},
		"config": func(ctx context.Context, args []string, e env) int {
			if len(args) < 1 || args[0] != "check" {
				fmt.Fprintln(e.stderr, "usage: watchpost config check FILE")
				return 2
			}
			return config.CheckMain(args[1:], e.stdout, e.stderr, server.ValidateChecks, server.ValidateRules)
		},
		"alerts": func(ctx context.Context, args []string, e env) int {
			return alerting.Main(ctx, args, e.stdout, e.stderr)
		},
		"backup": func(ctx context.Context, args []string, e env) int {
			return server.BackupMain(ctx, args, senv(e))
		},
		"user": func(ctx context.Context, args []string, e env) int {
			return server.UserMain(args, senv(e))
		},
		"healthcheck": func(ctx context.Context, args []string, e env) int {
			return server.HealthcheckMain(ctx, args, senv(e))
		},
	} {
		cmds[name] = c
	}
	return cmds
}
