package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// SourceCollectorLoss is the incident a host's collector raises when it
// reports log lines it could not read: a file truncated or removed
// before its end was read (logrotate's copytruncate, a rotation while
// the collector was stopped). One open incident per host.
const SourceCollectorLoss = "host"

// collectorLossReport is what CollectorLoss reads of a collector's
// self-report (collector.Report).
type collectorLossReport struct {
	Started time.Time `json:"started"`
	Losses  []struct {
		Source      string `json:"source"`
		File        string `json:"file"`
		Bytes       int64  `json:"bytes"`
		Lines       int64  `json:"lines"`
		Generations int64  `json:"generations"`
	} `json:"losses"`
}

// lossState is what the loghost last saw of a host's collector run: its
// start and each source's counted loss, so that a report repeating the
// same totals raises nothing.
type lossState struct {
	Started time.Time        `json:"started"`
	Bytes   map[string]int64 `json:"bytes"`
	Gens    map[string]int64 `json:"generations"`
}

// CollectorLoss reads a collector's self-report, in the transaction of
// the consumer that reads it once: when it counts more loss than the
// host's last report from the same run, the host's incident is opened
// (or updated) naming the files, and the totals are kept.
func CollectorLoss(ctx context.Context, tx *sql.Tx, host string, report []byte, now time.Time) error {
	var rep collectorLossReport
	if host == "" || json.Unmarshal(report, &rep) != nil || len(rep.Losses) == 0 {
		return nil
	}
	name := "collector_loss:" + host
	var st lossState
	var data []byte
	err := tx.QueryRowContext(ctx, `SELECT data FROM component_state WHERE name = ?`, name).Scan(&data)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("collector loss: %w", err)
	}
	json.Unmarshal(data, &st)
	if !st.Started.Equal(rep.Started) {
		st = lossState{Started: rep.Started} // a new run counts from zero
	}
	if st.Bytes == nil {
		st.Bytes, st.Gens = map[string]int64{}, map[string]int64{}
	}
	type grown struct {
		file         string
		bytes, lines int64
		gens         int64
	}
	var news []grown
	for _, l := range rep.Losses {
		if l.Bytes > st.Bytes[l.Source] || l.Generations > st.Gens[l.Source] {
			news = append(news, grown{file: l.File, bytes: l.Bytes - st.Bytes[l.Source], lines: l.Lines, gens: l.Generations - st.Gens[l.Source]})
		}
		st.Bytes[l.Source], st.Gens[l.Source] = max(st.Bytes[l.Source], l.Bytes), max(st.Gens[l.Source], l.Generations)
	}
	b, _ := json.Marshal(st)
	if _, err := tx.ExecContext(ctx, `INSERT INTO component_state(name, data) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET data = excluded.data`, name, b); err != nil {
		return fmt.Errorf("collector loss: %w", err)
	}
	if len(news) == 0 {
		return nil
	}
	sort.Slice(news, func(i, j int) bool { return news[i].bytes > news[j].bytes })
	var text strings.Builder
	files := make([]string, 0, len(news))
	for _, g := range news {
		files = append(files, g.file)
		switch {
		case g.bytes > 0:
			fmt.Fprintf(&text, "%s: %d bytes (about %d lines) could not be read.\n", g.file, g.bytes, g.lines)
		default:
			fmt.Fprintf(&text, "%s: rotated away while the collector was stopped, before its end was read; how much is not known.\n", g.file)
		}
	}
	text.WriteString("The file was truncated or removed before the collector read it to its end. " +
		"logrotate's copytruncate loses what is written between its copy and its truncation; " +
		"create (with the daemon told to reopen) and delaycompress lose nothing.\n")
	title := fmt.Sprintf("collector on %s lost log lines of %s", host, files[0])
	if len(files) > 1 {
		title = fmt.Sprintf("collector on %s lost log lines of %s and %d more", host, files[0], len(files)-1)
	}
	labels := map[string]string{"source": SourceCollectorLoss, "host": host, "file": files[0], "severity": "warning"}
	ev := incidentEvent{Source: SourceCollectorLoss, Key: host, Title: title, Severity: "warning", Labels: labels,
		Started: now.UTC(), Fired: 1, Time: now.UTC(), Text: text.String()}
	_, _, err = Fire(ctx, tx, Alert{Source: SourceCollectorLoss, Key: host, Labels: labels, Severity: "warning",
		Title: title, Time: now, Kind: KindIncident, Payload: ev})
	return err
}
