package collector

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// journalSource follows the systemd journal through journalctl, which
// stays the one reader of journal files: their format is journald's own.
type journalSource struct {
	command   []string // journalctl and fixed arguments
	follow    bool
	fromStart bool
	loc       *time.Location
	out       chan<- Line
	logf      func(msg string, args ...any)
}

type journalEntry struct {
	Message   json.RawMessage `json:"MESSAGE"`
	Hostname  string          `json:"_HOSTNAME"`
	Ident     string          `json:"SYSLOG_IDENTIFIER"`
	Comm      string          `json:"_COMM"`
	PID       string          `json:"_PID"`
	SyslogPID string          `json:"SYSLOG_PID"`
	Priority  string          `json:"PRIORITY"`
	Facility  string          `json:"SYSLOG_FACILITY"`
	Realtime  string          `json:"__REALTIME_TIMESTAMP"`
	Cursor    string          `json:"__CURSOR"`
}

// parseJournalEntry reads one line of `journalctl --output=json`. MESSAGE
// is a string, null, or an array of bytes when it is not valid UTF-8.
func parseJournalEntry(b []byte) (journalEntry, []byte, error) {
	var e journalEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return e, nil, fmt.Errorf("journal entry: %w", err)
	}
	if e.Cursor == "" {
		return e, nil, errors.New("journal entry without __CURSOR")
	}
	var msg []byte
	switch m := strings.TrimSpace(string(e.Message)); {
	case m == "" || m == "null":
	case m[0] == '"':
		var s string
		if err := json.Unmarshal(e.Message, &s); err != nil {
			return e, nil, fmt.Errorf("journal MESSAGE: %w", err)
		}
		msg = []byte(s)
	case m[0] == '[':
		var bs []int
		if err := json.Unmarshal(e.Message, &bs); err != nil {
			return e, nil, fmt.Errorf("journal MESSAGE: %w", err)
		}
		msg = make([]byte, len(bs))
		for i, v := range bs {
			if v < 0 || v > 255 {
				return e, nil, errors.New("journal MESSAGE: byte out of range")
			}
			msg[i] = byte(v)
		}
	default:
		return e, nil, errors.New("journal MESSAGE: neither string, bytes nor null")
	}
	return e, msg, nil
}

// line renders an entry as the traditional syslog line users grep for
// ("Nov 22 10:00:01 host prog[pid]: message"), with its exact fields beside.
func (e *journalEntry) line(msg []byte, loc *time.Location) Line {
	l := Line{Source: "journal", Priority: -1, Facility: -1, Host: e.Hostname, Format: "journal"}
	if us, err := strconv.ParseInt(e.Realtime, 10, 64); err == nil {
		l.Time = time.UnixMicro(us)
	}
	l.Program = e.Ident
	if l.Program == "" {
		l.Program = e.Comm
	}
	l.PID = e.SyslogPID
	if l.PID == "" {
		l.PID = e.PID
	}
	if p, err := strconv.Atoi(e.Priority); err == nil && p >= 0 && p <= 7 {
		l.Priority = p
	}
	if f, err := strconv.Atoi(e.Facility); err == nil && f >= 0 && f <= 23 {
		l.Facility = f
	}
	var b strings.Builder
	t := l.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.In(loc).Format(time.Stamp))
	b.WriteByte(' ')
	host := l.Host
	if host == "" {
		host = "-"
	}
	b.WriteString(host)
	b.WriteByte(' ')
	prog := l.Program
	if prog == "" {
		prog = "-"
	}
	b.WriteString(prog)
	if l.PID != "" {
		b.WriteString("[" + l.PID + "]")
	}
	b.WriteString(": ")
	b.Write(msg)
	l.Text = []byte(b.String())
	return l
}

// run reads entries after the saved cursor (none: from now, or from the
// start) and sends them on. It returns when journalctl exits or ctx ends.
//
// Identity: a lineage of runs shares one generation, made at random when
// there is no checkpoint, and numbers its entries on from the saved count,
// so that entries re-read after a crash between the loghost's ack and the
// checkpoint save get the (gen, offset) they had and are dropped as replays.
func (j *journalSource) run(ctx context.Context, saved checkpoint, haveSaved bool) error {
	cursor, gen, n := "", "", int64(0)
	if haveSaved && saved.Cursor != "" && saved.Gen != "" {
		cursor, gen, n = saved.Cursor, saved.Gen, saved.Offset
	} else {
		var r [8]byte
		rand.Read(r[:])
		gen = hex.EncodeToString(r[:])
	}
	args := append([]string(nil), j.command[1:]...)
	args = append(args, "--output=json", "--no-pager")
	if j.follow {
		args = append(args, "--follow")
	}
	switch {
	case cursor != "":
		args = append(args, "--after-cursor="+cursor)
	case !j.fromStart:
		args = append(args, "--lines=0")
	}
	cmd := exec.CommandContext(ctx, j.command[0], args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("journalctl: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("journalctl: %w", err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		e, msg, err := parseJournalEntry(sc.Bytes())
		if err != nil {
			j.logf("skipping unreadable journal entry", "err", err)
			continue
		}
		l := e.line(msg, j.loc)
		l.Gen, l.Offset, l.end = gen, n, n+1
		l.mark = &checkpoint{Gen: gen, Cursor: e.Cursor}
		n++
		select {
		case j.out <- l:
		case <-ctx.Done():
			cmd.Wait()
			return ctx.Err()
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("journalctl: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
