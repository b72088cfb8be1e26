// Package rules is Watchpost's rule engine. It reads logsurfer 1.8 rule
// files and acts exactly as logsurfer does — rules tried top to bottom,
// continue, stop regexes, timeouts, contexts with line limits, absolute and
// relative timeouts and min_lines, dynamic rules, and the actions ignore,
// exec, pipe, open, delete, report, rule, echo and syslog, with $0..$9 and
// $lines filled in at the moments logsurfer fills them in — plus thresholds,
// alerts and a log clock. It imports no storage and no HTTP.
//
// # Differences from logsurfer, all on purpose
//
// Safe substitution is the default. logsurfer substitutes log data into a
// command line and then splits that line into argv again, so a log line
// with quotes or spaces chooses the arguments, and data that lands in a new
// regex (a dynamic rule, a context name) is regex syntax. Here a value
// substituted into exec/pipe/report stays inside the one argument it was
// written in (an empty value is still one, empty, argument), and a value
// substituted into a regex is escaped. Quotes and escapes written in the
// rule file work as in logsurfer. A file that starts with the line
//
//	#!watchpost compat unsafe-substitution
//
// gets logsurfer's exact behaviour instead.
//
// Other directives: "#!watchpost clock log" (or a line "clock log") makes
// the events' own timestamps drive timeouts, so replaying a log times
// contexts out as living through it did; "clock wall" (the default) is
// logsurfer's wall clock. logsurfer reads "#!" lines as comments.
//
// A context opened with escaped data is also found by the name logsurfer
// would have given it, so a name written by hand in report or delete
// reaches it in both modes.
//
// A file is checked as a whole when loaded, and any error rejects it with
// FILE:LINE and the reason: regexes that do not compile, timeouts and
// context numbers that are not numbers, commands that are not absolute
// paths (exec runs no shell and does no PATH lookup), unknown actions,
// syslog facilities and levels, unterminated quotes. GNU back-references
// (\1) are refused: neither matcher has them.
//
// Regexes are read as GNU regex 0.12 reads them for logsurfer, on bytes
// (ere.go); DFAs decide most lines, Go's regexp or the VM (vm.go) the rest.
// Where GNU regex 0.12 has plain bugs (the README lists them), the regex
// means what it says.
//
// Every exec, pipe and report command runs: at most Config.MaxChildren at
// once, each with a time limit (Config.ExecTimeout); the others wait in
// order, and Feed waits when Config.MaxQueued do. The loghost takes the
// commands instead (Config.Commands), queues them durably with its batch
// and runs them with an Executor.
//
// # New keywords
//
// A threshold clause before the action:
//
//	'Failed password for .* from ([0-9.]+)' - - - 0 threshold 5 60s by $2 alert warning "ssh brute force from $2" service=ssh
//
// counts the lines the rule matches per key (the "by" word after
// substitution, one shared key without it). The action runs when the N-th
// line falls within DURATION of the oldest still counted; lines then go
// uncounted until DURATION after that oldest one — SEC's
// SingleWithThreshold. A line the threshold swallows still ends the rule
// walk (unless continue) and is still checked against the stop regex.
//
// The alert action, alert SEVERITY "TITLE" [NAME=VALUE]..., hands an Alert
// to Config.Alerter; SEVERITY is critical, error, warning or info, and the
// label rule=FILE:LINE is added unless given.
//
// Render turns a parsed syslog or journal event back into the classic line
// ("Nov 22 08:00:01 web1 sshd[812]: message") that logsurfer rules expect.
package rules
