// Package query is the one query language of watchpost: `watchpost grep`,
// the HTTP API's q= parameter and the tail websocket all compile queries
// here, and back ends translate its exported terms (Query.Terms).
//
// # The query language
//
// A query is a list of terms separated by spaces; a line matches when
// every term holds. The empty query matches every line.
//
//	connection refused          both words appear in the line
//	"connection refused"        the phrase appears in the line
//	host=web1 program=sshd      fields equal these values
//	status=500.. path~^/api/    a numeric range (status>=500) and a regex
//	severity=..err -cron        emerg, alert, crit or err, and no "cron"
//
// Terms:
//
//	word            the line contains word, ignoring case (grep -i -F)
//	"a phrase"      the line contains the phrase, ignoring case; inside
//	                quotes \" is a quote and \\ a backslash, any other
//	                backslash is kept as is
//	field=value     the field equals value
//	field!=value    the field is missing or differs from value
//	field~regex     the field matches the RE2 regex (Go syntax,
//	                unanchored: use ^ and $ to anchor); quote a regex
//	                with spaces: msg~"timed? out"
//	field!~regex    the field is missing or does not match (same as
//	                -field~regex)
//	field>N  field<N  field>=N  field<=N
//	                numeric comparison; a field whose value is not a
//	                number fails it
//	field=N..  field=..M  field=N..M
//	                the same as a range, with no character a shell
//	                reads as a redirection: status=500.. is status>=500,
//	                status=500..599 is both bounds (inclusive),
//	                severity=..err is emerg through err (journalctl -p
//	                emerg..err); a value is a range only when each side
//	                is empty or a number (a severity keyword for
//	                severity), so path=/a/../b stays a plain value
//	-term           negation: the term must not hold, e.g. -"health
//	                check" or -path~\.css$ ; a negated field term holds
//	                when the field is missing
//
// Field names are a letter or _ followed by letters, digits, _ . and -
// (sd.origin.ip, queue_id). Standard fields: host, program, pid, severity,
// facility, file, site, format, source, message; parsers add their own
// (status, method, path, client, user, queue_id, ...). A value is either
// quoted or runs to the next space. A word that is not meant as a field
// term, or starts with - or holds a quote, must be quoted:
// "user=root", "-v", "say \"hi\"". Words that merely contain operator
// characters without a field name before them (<html>, =>, 10.0.0.1:22)
// are plain words.
//
// Comparison rules:
//
//   - Values compare exactly, case included, except host and program, which
//     ignore the case of ASCII letters as DNS names do (host=WEB1 finds
//     web1); a regex on host or program ignores case too.
//   - A missing field fails =, ~, <, >, <= and >=, and satisfies != and !~.
//   - severity takes the RFC 5424 keywords emerg alert crit err warning
//     notice info debug, the aliases panic emergency critical error warn
//     informational, or the numbers 0-7, in any case. Ordering goes by
//     number, and a LOWER number is MORE severe: severity<=err selects
//     emerg, alert, crit and err; severity>=info selects info and debug.
//   - facility takes the keywords kern user mail daemon auth syslog lpr news
//     uucp cron authpriv ftp ntp security console solaris-cron local0-local7
//     or the numbers 0-23, with = and != only.
//   - Ignoring case means Unicode simple case folding, except that an ASCII
//     character only equals an ASCII character: "k" does not match the
//     Kelvin sign and "s" not the long s (ſ), as with grep -i in the C
//     locale; "straße" matches "STRAßE" and "σ" matches "Σ" and "ς".
//
// On the command line each argument that holds spaces (it was quoted for
// the shell) is one term, so `watchpost grep "connection refused"
// host=web1` means the phrase and the field; see ParseArgs.
package query
