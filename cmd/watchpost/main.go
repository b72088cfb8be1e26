// Command watchpost is the loghost, the host agent and the command-line
// tools of Watchpost. This file only dispatches to the subcommands; which
// subcommands exist is decided by commands_full.go (the default build) or
// commands_agent.go (`-tags agent`: the host agent alone, a third of the
// size, for hosts where the agent's memory matters).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/watchpost/watchpost/buildinfo"
	"github.com/watchpost/watchpost/collector"
	"github.com/watchpost/watchpost/collector/hoststat"
	"github.com/watchpost/watchpost/munin"
)

// env is what a subcommand gets from the process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command func(ctx context.Context, args []string, e env) int

// agentCommands are in every build: what runs on a monitored host.
func agentCommands() map[string]command {
	return map[string]command{
		"collect": func(ctx context.Context, args []string, e env) int {
			return collector.Main(ctx, args, e.stdout, e.stderr)
		},
		"munin": func(ctx context.Context, args []string, e env) int {
			return munin.Main(ctx, args, e.stdout, e.stderr)
		},
		"hoststat": func(ctx context.Context, args []string, e env) int {
			return hoststat.Main(ctx, args, e.stdout, e.stderr)
		},
	}
}

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
	switch args[0] {
	case "version", "-version", "--version":
		buildinfo.Print(stdout)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	if cmd, ok := commands()[args[0]]; ok {
		return cmd(ctx, args[1:], env{stdin: stdin, stdout: stdout, stderr: stderr})
	}
	fmt.Fprintf(stderr, "watchpost: unknown command %q%s\n\n%s", args[0], missingHint, usage)
	return 2
}
