package grep

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/watchpost/watchpost/logapi"
)

// FuzzArgs: any command line gives words or an error, never a panic, and
// every word it returns was an argument.
func FuzzArgs(f *testing.F) {
	for _, s := range []string{"sshd -since 10m", "-n 5 host=web1", "-- -f x", "-v", "--since=1h a -cron", "-sinse", "-n", "-o=json -C 3 a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("since", "", "")
		fs.Int("n", 0, "")
		fs.Bool("f", false, "")
		fs.String("o", "", "")
		fs.String("token-file", "", "")
		fs.Usage = func() {}
		args := strings.Fields(line)
		words, err := parseInterleaved(fs, args)
		if err != nil {
			return
		}
		in := strings.Join(args, "\x00")
		for _, w := range words {
			if !strings.Contains(in, w) {
				t.Fatalf("%q: word %q was not an argument", args, w)
			}
		}
	})
}

// FuzzTextLine: whatever an event holds, its text line is one line: no
// CR or LF reaches the output unescaped.
func FuzzTextLine(f *testing.F) {
	f.Add("syslog", "web1", "sshd", "1", "msg\nweb2:forged", "raw")
	f.Add("", "h\r", "", "", "", "a\nb")
	f.Fuzz(func(t *testing.T, format, host, prog, pid, msg, raw string) {
		e := logapi.Event{Format: format, Host: host, Program: prog, PID: pid, Message: msg, Line: raw, Time: time.Unix(0, 0)}
		for _, term := range []bool{false, true} {
			var b bytes.Buffer
			p := &printer{w: bufioWriter(&b), terminal: term, loc: time.UTC}
			if err := p.event(e); err != nil {
				t.Fatal(err)
			}
			p.w.Flush()
			out := b.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || strings.Contains(out, "\r") {
				t.Fatalf("terminal=%v: %q is not one line", term, out)
			}
		}
	})
}

func bufioWriter(w io.Writer) *bufio.Writer { return bufio.NewWriter(w) }
