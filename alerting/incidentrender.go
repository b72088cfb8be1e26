package alerting

import (
	"fmt"
	"html"
	"strings"
	"time"
)

// renderIncident words a KindIncident row: an incident resolved without
// a source-specific message (a rule alert gone quiet, or resolved by
// hand). The subject is the one the incident opened with, so that mail
// clients thread it.
func renderIncident(ev incidentEvent) Message {
	subject := "[watchpost] " + ev.Title
	if ev.Source == SourceRule {
		subject = fmt.Sprintf("[watchpost] %s: %s", strings.ToUpper(ev.Severity), ev.Title)
	}
	var text string
	switch ev.Event {
	case EventResolved:
		text = fmt.Sprintf("RESOLVED at %s: %s\n%s\n\nIt fired %d time(s) since %s.\n", ev.Time.UTC().Format(time.RFC1123), ev.Title,
			ev.Text, ev.Fired, ev.Started.UTC().Format(time.RFC1123))
	default:
		text = fmt.Sprintf("%s (%s) since %s\n%s\n", ev.Title, ev.Severity, ev.Started.UTC().Format(time.RFC1123), ev.Text)
	}
	return Message{Subject: headerSafe(subject), Text: text, HTML: "<pre>" + html.EscapeString(text) + "</pre>"}
}

// KindLoghostDisk is the outbox kind of the loghost's own disk filling
// up (DiskWatcher).
const KindLoghostDisk = "loghost_disk"

// diskEvent is the payload of KindLoghostDisk rows.
type diskEvent struct {
	Path      string    `json:"path"`
	Free      uint64    `json:"free"`
	Total     uint64    `json:"total"`
	Threshold uint64    `json:"threshold"`
	Severity  string    `json:"severity"`
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	// Full: the store's writes fail for a full disk.
	Full bool `json:"full,omitempty"`
}

func renderDisk(ev diskEvent) Message {
	subject := headerSafe(fmt.Sprintf("[watchpost] loghost disk %s is filling up", ev.Path))
	pct := 0.0
	if ev.Total > 0 {
		pct = 100 * float64(ev.Free) / float64(ev.Total)
	}
	var text string
	if ev.Event == EventResolved {
		text = fmt.Sprintf("The loghost's storage %s has room again at %s: %s free (%.1f %%).\n",
			ev.Path, ev.Time.UTC().Format(time.RFC1123), bytesIEC(ev.Free), pct)
	} else if ev.Full {
		subject = headerSafe(fmt.Sprintf("[watchpost] loghost disk %s is full", ev.Path))
		text = fmt.Sprintf("The loghost's storage %s is full at %s: %s free of %s. New logs and metrics are refused "+
			"(collectors keep them and retry; syslog senders over UDP lose theirs). Free space or lower the retention (store.retention).\n",
			ev.Path, ev.Time.UTC().Format(time.RFC1123), bytesIEC(ev.Free), bytesIEC(ev.Total))
	} else {
		text = fmt.Sprintf("The loghost's storage %s is %s at %s: %s free of %s (%.1f %%), under the %s it should keep.\n"+
			"When it is full, logs are refused. Free space or lower the retention (store.retention).\n",
			ev.Path, strings.ToUpper(ev.Severity), ev.Time.UTC().Format(time.RFC1123), bytesIEC(ev.Free), bytesIEC(ev.Total), pct, bytesIEC(ev.Threshold))
	}
	return Message{Subject: subject, Text: text, HTML: "<pre>" + html.EscapeString(text) + "</pre>"}
}

func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
