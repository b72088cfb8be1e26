package webstats

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	webstatsfixture "github.com/watchpost/watchpost/fixtures/webstats"
)

// openPTY returns a pseudo-terminal's two ends: what the command writes
// to the terminal end is read from the other.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open tty: %v", err)
	}
	return ptmx, tty
}

// TestProgressOnTerminal: on a terminal a large input shows how far the
// reading is and its rate, and ends the line; piped, it prints nothing.
func TestProgressOnTerminal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := webstatsfixture.Config{Lines: 45_000, Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), Span: 5 * 24 * time.Hour, Seed: 3}
	if err := webstatsfixture.Generate(f, cfg); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st, _ := os.Stat(path); st.Size() < 8<<20 {
		t.Fatalf("log of %d bytes is below the progress threshold", st.Size())
	}

	ptmx, tty := openPTY(t)
	defer ptmx.Close()
	shown := make(chan string)
	go func() {
		b, _ := io.ReadAll(ptmx) // ends with EIO once the terminal end is closed
		shown <- string(b)
	}()
	if code := Main(context.Background(), []string{"-format", "json", "-o", os.DevNull, path}, io.Discard, tty); code != 0 {
		t.Fatalf("exit %d", code)
	}
	tty.Close()
	out := <-shown
	if !strings.Contains(out, "100%") || !strings.Contains(out, "45000 lines") || !strings.Contains(out, "lines/s") || !strings.HasSuffix(out, "\n") {
		t.Errorf("terminal shows %q", out)
	}

	var piped bytes.Buffer
	if code := Main(context.Background(), []string{"-format", "json", "-o", os.DevNull, path}, io.Discard, &piped); code != 0 || piped.Len() != 0 {
		t.Errorf("piped: exit %d, %q", code, piped.String())
	}
}
