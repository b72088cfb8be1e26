package rules

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/watchpost/watchpost/logparse"
)

const usage = `usage: watchpost rules test [-exec] [-t] -rules FILE [LOG|-]
       watchpost rules check FILE...`

// Main is `watchpost rules ...`.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] {
	case "test":
		return mainTest(ctx, args[1:], stdout, stderr)
	case "check":
		return mainCheck(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "rules: unknown command %q\n%s\n", args[0], usage)
	return 2
}

func mainCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	rc := 0
	for _, name := range args {
		data, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(stderr, "rules check: %v\n", err)
			rc = 1
			continue
		}
		if err := Check(File{Name: name, Data: data}); err != nil {
			fmt.Fprintln(stderr, err)
			rc = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: OK\n", name)
	}
	return rc
}

// printAlerter prints alerts in `rules test -exec`, which has no alerting.
type printAlerter struct{ w io.Writer }

func (p printAlerter) Alert(_ context.Context, a Alert) error {
	_, err := fmt.Fprintf(p.w, "alert: %s\n", formatAlert(a))
	return err
}

func mainTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rules test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	execFlag := fs.Bool("exec", false, "run exec, pipe, report and syslog actions as logsurfer does")
	rulesFile := fs.String("rules", "", "the rule file")
	fireAtEnd := fs.Bool("t", false, "at end of input, fire contexts that have a timeout (logsurfer -t)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *rulesFile == "" || fs.NArg() > 1 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	data, err := os.ReadFile(*rulesFile)
	if err != nil {
		fmt.Fprintf(stderr, "rules test: %v\n", err)
		return 2
	}
	var in io.Reader = os.Stdin
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			fmt.Fprintf(stderr, "rules test: %v\n", err)
			return 2
		}
		defer f.Close()
		in = f
	}
	// One write per echo line cost half the time of echo-heavy files:
	// the output is buffered, and flushed before each child starts (the
	// children write to stdout itself).
	sout := &lockedWriter{w: stdout} // children's output meets ours here
	bw := bufio.NewWriterSize(sout, 64*1024)
	defer bw.Flush()
	out := &lockedWriter{w: bw}
	cfg := Config{
		Files:       []File{{Name: *rulesFile, Data: data}},
		Stdout:      bw,
		ChildStdout: sout,
		Stderr:      stderr,
		DryRun:      !*execFlag,
		// What the engine could not do (a command that failed to start,
		// an action it could not read) is said on stderr.
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: stderr}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if *execFlag {
		cfg.Alerter = printAlerter{w: out}
	} else {
		cfg.Trace = func(a Action) {
			if a.Kind == "echo" && !strings.HasPrefix(a.Args, ">") {
				fmt.Fprintf(out, "%s\n", a.Args)
				return
			}
			fmt.Fprintf(out, "%s: %s\n", a.Kind, a.Args)
		}
	}
	e, err := New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	clockLog := e.surfers[0].opts.clockLog
	if err := feedReader(ctx, e, in, clockLog); err != nil {
		fmt.Fprintf(stderr, "rules test: %v\n", err)
		return 2
	}
	// Every queued command runs (each within its own time limit) before
	// the test ends, as logsurfer waits for its children.
	e.Close(ctx, *fireAtEnd)
	return 0
}

// feedReader feeds the lines of r as logsurfer reads its input: a last line
// without a newline is never processed (logsurfer waits for the rest).
// What one read returns becomes one string (one copy, one allocation and
// one clock read for all its lines); lines are fed as soon as they are
// read, so a pipe is followed line by line.
func feedReader(ctx context.Context, e *Engine, r io.Reader, clockLog bool) error {
	// What the lines of one read printed is written out before the next
	// read, which may wait (tail -f | watchpost rules test ... -).
	defer e.flushOutput()
	buf := make([]byte, 256*1024)
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := r.Read(buf[n:])
		n += m
		if last := bytes.LastIndexByte(buf[:n], '\n'); last >= 0 {
			chunk := string(buf[:last+1])
			n = copy(buf, buf[last+1:n])
			wall := e.cfg.Now()
			for len(chunk) > 0 {
				i := strings.IndexByte(chunk, '\n')
				line := chunk[:i]
				chunk = chunk[i+1:]
				var t time.Time
				if clockLog {
					t = logparse.Parse("", []byte(line), wall, time.Local).Time
				}
				e.FeedAt(ctx, line, t, wall)
			}
			e.flushOutput()
		} else if n == len(buf) {
			buf = append(buf, make([]byte, len(buf))...) // a line longer than the buffer
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read log: %w", err)
		}
	}
}

// Render writes an event as the classic syslog line logsurfer rules expect:
// "Mmm dd hh:mm:ss host prog[pid]: message".
func Render(ev logparse.Event) string {
	var b strings.Builder
	b.Grow(32 + len(ev.Host) + len(ev.Program) + len(ev.Message))
	b.WriteString(ev.Time.Format(time.Stamp))
	b.WriteByte(' ')
	host := ev.Host
	if host == "" {
		host = "-"
	}
	b.WriteString(host)
	b.WriteByte(' ')
	if ev.Program != "" {
		b.WriteString(ev.Program)
		if ev.PID != "" {
			b.WriteByte('[')
			b.WriteString(ev.PID)
			b.WriteByte(']')
		}
		b.WriteString(": ")
	}
	b.WriteString(ev.Message)
	return b.String()
}
