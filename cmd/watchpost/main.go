// Command watchpost is the loghost, the host agent and the command-line
// tools of Watchpost. This file only dispatches to the subcommands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/buildinfo"
	"github.com/watchpost/watchpost/checker"
	"github.com/watchpost/watchpost/collector"
	"github.com/watchpost/watchpost/collector/hoststat"
	"github.com/watchpost/watchpost/config"
	"github.com/watchpost/watchpost/grep"
	"github.com/watchpost/watchpost/munin"
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	env := server.Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	switch args[0] {
	case "serve":
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		return server.ServeMain(ctx, args[1:], env, hup)
	case "rules":
		return rules.Main(ctx, args[1:], stdout, stderr)
	case "check":
		return checker.Main(ctx, args[1:], stdout, stderr)
	case "collect":
		return collector.Main(ctx, args[1:], stdout, stderr)
	case "grep":
		return grep.Main(ctx, args[1:], stdout, stderr)
	case "munin":
		return munin.Main(ctx, args[1:], stdout, stderr)
	case "hoststat":
		return hoststat.Main(ctx, args[1:], stdout, stderr)
	case "status":
		return server.StatusExportMain(ctx, args[1:], env)
	case "report":
		return report.Main(ctx, args[1:], stdout, stderr)
	case "stats":
		return webstats.Main(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprintln(stderr, "usage: watchpost config check FILE")
			return 2
		}
		return config.CheckMain(args[2:], stdout, stderr, server.ValidateChecks, server.ValidateRules)
	case "alerts":
		return alerting.Main(ctx, args[1:], stdout, stderr)
	case "backup":
		return server.BackupMain(ctx, args[1:], env)
	case "user":
		return server.UserMain(args[1:], env)
	case "healthcheck":
		return server.HealthcheckMain(ctx, args[1:], env)
	case "version", "-version", "--version":
		buildinfo.Print(stdout)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "watchpost: unknown command %q\n\n%s", args[0], usage)
	return 2
}
