package syslogd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type frameResult struct {
	Frame  string
	Status FrameStatus
}

func (r frameResult) String() string { return fmt.Sprintf("%q/%d", r.Frame, r.Status) }

// readFrames reads all frames from r, failing on anything but io.EOF.
func readFrames(t testing.TB, r io.Reader, max int) []frameResult {
	t.Helper()
	fr := NewFrameReader(r, max)
	var out []frameResult
	for range 1 << 20 {
		frame, st, err := fr.Next()
		if len(frame) > max {
			t.Fatalf("frame of %d bytes exceeds max %d", len(frame), max)
		}
		if len(fr.buf) > max+slack {
			t.Fatalf("buffer grew to %d for max %d", len(fr.buf), max)
		}
		if frame != nil {
			if len(frame) == 0 {
				t.Fatalf("empty frame returned")
			}
			out = append(out, frameResult{string(frame), st})
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("unexpected error %v", err)
			}
			return out
		}
	}
	t.Fatal("reader does not terminate")
	return nil
}

// chunkReader returns at most n bytes per Read, to split frames across
// reads the way TCP segments do.
type chunkReader struct {
	r io.Reader
	n int
}

func (c chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

func TestFrameReader(t *testing.T) {
	long := strings.Repeat("a", 20)
	tests := []struct {
		name string
		in   string
		max  int
		want []frameResult
	}{
		{"octet counted", "5 hello6 world!", 64, []frameResult{{"hello", 0}, {"world!", 0}}},
		{"LF", "a\nb\n", 64, []frameResult{{"a", 0}, {"b", 0}}},
		{"CRLF", "a\r\nb\r\n", 64, []frameResult{{"a", 0}, {"b", 0}}},
		{"NUL", "a\x00b\x00", 64, []frameResult{{"a", 0}, {"b", 0}}},
		{"mixed on one connection", "5 hello<13>x\n3 abc\x00d\n13 <13>1 - - - -\n", 64,
			[]frameResult{{"hello", 0}, {"<13>x", 0}, {"abc", 0}, {"d", 0}, {"<13>1 - - - -", 0}}},
		{"octet counted message holding LF and NUL", "7 a\nb\x00c\n\nd\n", 64, []frameResult{{"a\nb\x00c", 0}, {"d", 0}}},
		{"LF after octet frames", "3 abc\n3 def\n", 64, []frameResult{{"abc", 0}, {"def", 0}}},
		{"blank lines skipped", "\n\n\r\n\x00a\n", 64, []frameResult{{"a", 0}}},
		{"digits starting a line", "123abc\n12:00 x\n", 64, []frameResult{{"123abc", 0}, {"12:00 x", 0}}},
		{"zero length prefix", "0 zero\nb\n", 64, []frameResult{{"0 zero", BadPrefix}, {"b", 0}}},
		{"ten digit prefix", "1234567890 x\nb\n", 64, []frameResult{{"1234567890 x", BadPrefix}, {"b", 0}}},
		{"endless digits", strings.Repeat("9", 100) + " x\nb\n", 200, []frameResult{{strings.Repeat("9", 100) + " x", 0}, {"b", 0}}},
		{"oversized octet frame", "20 " + long + "5 hello", 8, []frameResult{{"aaaaaaaa", Truncated}, {"hello", 0}}},
		{"huge declared length", "999999999 abc", 8, []frameResult{{"abc", Unterminated}}},
		{"oversized line", long + "\nb\n", 8, []frameResult{{"aaaaaaaa", Truncated}, {"b", 0}}},
		{"line of exactly max", "aaaaaaaa\nb", 8, []frameResult{{"aaaaaaaa", 0}, {"b", Unterminated}}},
		{"EOF inside octet frame", "10 abc", 64, []frameResult{{"abc", Unterminated}}},
		{"EOF after prefix", "10 ", 64, nil},
		{"EOF inside digits", "12", 64, []frameResult{{"12", Unterminated}}},
		{"EOF inside line", "abc", 64, []frameResult{{"abc", Unterminated}}},
		{"empty", "", 64, nil},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1 << 20, 1, 2, 3, 7} {
			t.Run(fmt.Sprintf("%s/chunk%d", tt.name, chunk), func(t *testing.T) {
				got := readFrames(t, chunkReader{strings.NewReader(tt.in), chunk}, tt.max)
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
	}
}

func TestFrameReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	fr := NewFrameReader(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)), 64)
	var frames []string
	for {
		f, _, err := fr.Next()
		if f != nil {
			frames = append(frames, string(f))
		}
		if err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("err = %v, want boom", err)
			}
			break
		}
	}
	if strings.Join(frames, ",") != "a,b" {
		t.Errorf("frames = %v", frames)
	}
}

// zeroReader returns 0, nil forever, which io.Reader discourages but allows.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestFrameReaderNoProgress(t *testing.T) {
	if _, _, err := NewFrameReader(zeroReader{}, 64).Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("err = %v, want io.ErrNoProgress", err)
	}
}

// FuzzFraming feeds arbitrary bytes through the frame reader in one piece
// and split into small reads: no panic, no hang, frames within the limit,
// bounded buffer, and the same frames however the stream is split.
func FuzzFraming(f *testing.F) {
	for _, s := range []string{
		"5 hello6 world!", "a\nb\n", "0 x\n", "999999999 a", "1234567890 x\n", "3 abc\n\n\x00",
		"20 aaaaaaaaaaaaaaaaaaaa5 hello", strings.Repeat("9", 40) + " x", "12", "\r\n\r\n",
		"76 <13>1 2026-11-22T10:00:00Z host app - - [a b=\"c\"] msg\n<13>Nov 22 10:00:00 h a: b\n",
	} {
		f.Add([]byte(s), uint8(8), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, max, chunk uint8) {
		m := int(max%64) + 1
		whole := readFrames(t, bytes.NewReader(data), m)
		split := readFrames(t, chunkReader{bytes.NewReader(data), int(chunk%8) + 1}, m)
		if fmt.Sprint(whole) != fmt.Sprint(split) {
			t.Fatalf("framing depends on read sizes:\n whole %v\n split %v", whole, split)
		}
		if len(whole) > len(data) {
			t.Fatalf("%d frames from %d bytes", len(whole), len(data))
		}
	})
}

// BenchmarkFrameReader measures frames/s through the TCP frame reader for
// LF-terminated and octet-counted streams.
func BenchmarkFrameReader(b *testing.B) {
	line := "<86>Nov 22 12:59:01 web1 sshd[4242]: Accepted publickey for deploy from 192.0.2.7 port 50522 ssh2"
	for _, tc := range []struct{ name, frame string }{
		{"lf", line + "\n"},
		{"octet", fmt.Sprintf("%d %s", len(line), line)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const perStream = 1000
			stream := []byte(strings.Repeat(tc.frame, perStream))
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.frame)))
			r := bytes.NewReader(stream)
			fr := NewFrameReader(r, 64<<10)
			n := 0
			for b.Loop() {
				if n == perStream {
					r.Reset(stream)
					fr = NewFrameReader(r, 64<<10)
					n = 0
				}
				if _, _, err := fr.Next(); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
