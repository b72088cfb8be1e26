//go:build agent

package main

const usage = `usage: watchpost COMMAND [flags]   (the agent build: host commands only)

commands:
  collect        the host agent: host metrics, munin plugins, the journal and log files, shipped to the loghost
  munin          run munin plugins, poll a munin-node, or answer munin masters (run, poll, node, ...)
  hoststat       this host's built-in metrics now, as munin plugin output (or JSON)
  version        print version, commit and Go version

Run 'watchpost COMMAND -h' for a command's flags.
`

// missingHint: the loghost's commands are not in this build, and saying
// so saves a confused admin a search.
const missingHint = " (this is the agent build; the loghost and the other tools are in the full build)"

func commands() map[string]command { return agentCommands() }
