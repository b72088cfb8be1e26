// Package vlogs keeps the loghost's log lines in VictoriaLogs
// (storage.victorialogs_url) behind the same query language, search API
// and grep as the embedded store.
//
//   - Shipper copies the store's event stream to VictoriaLogs' jsonline
//     API from a durable cursor: in seq order, in gzip batches, retried
//     with backoff, each line stored once (lines are keyed by their seq and
//     looked up before anything is sent again).
//   - Filter translates a query to LogsQL; Searcher runs it and tests every
//     row with the query's own matcher, giving the SQLite store's answers:
//     the same lines, newest-N with ties by seq, context from the same
//     source.
//   - Watcher reads VictoriaLogs' own drop counters and raises a loghost
//     incident when it drops lines it accepted.
//
// VictoriaLogs is reached only over HTTP; it is never linked in.
package vlogs
