package collector

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/watchpost/watchpost/internal/jsonstr"
)

// checkpoint is how far a source was acknowledged, and what identifies
// the file generation the offset belongs to.
type checkpoint struct {
	// Source is the file source the generation belongs to (version 2;
	// the key is source|gen), Path where it was last read.
	Source string `json:"source,omitempty"`
	Path   string `json:"path,omitempty"`
	Gen    string `json:"gen"`
	Offset int64  `json:"offset"` // next byte to read
	Dev    uint64 `json:"dev,omitempty"`
	Ino    uint64 `json:"ino,omitempty"`
	FPLen  int    `json:"fp_len,omitempty"` // bytes the fingerprint covers
	FP     string `json:"fp,omitempty"`     // hash of the generation's first FPLen bytes
	FPAt   int64  `json:"fp_at,omitempty"`  // where its data starts (after a hole)
	Seen   int64  `json:"seen,omitempty"`   // the largest size it was seen to have
	Epoch  int    `json:"epoch,omitempty"`  // truncations seen of this file
	Cursor string `json:"cursor,omitempty"` // journal cursor of the last acknowledged entry
}

// checkpointVersion 2 keys file checkpoints by source and generation, so
// a rotated generation still being read keeps its own beside the new
// one; version 1 keyed them by source alone and is read as well.
const checkpointVersion = 2

type checkpointFile struct {
	Version int                   `json:"version"`
	Sources map[string]checkpoint `json:"sources"`
}

// readCheckpoints reads the checkpoint file. A missing file is empty; a
// corrupt one is reported and read as empty, so the sources start over
// (the loghost drops what it already has as replays).
func readCheckpoints(path string) (map[string]checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]checkpoint{}, nil
	}
	if err != nil {
		return map[string]checkpoint{}, fmt.Errorf("read checkpoints: %w", err)
	}
	return parseCheckpoints(b)
}

func parseCheckpoints(b []byte) (map[string]checkpoint, error) {
	var f checkpointFile
	if err := json.Unmarshal(b, &f); err != nil {
		return map[string]checkpoint{}, fmt.Errorf("corrupt checkpoint file: %w", err)
	}
	if f.Version != 1 && f.Version != checkpointVersion {
		return map[string]checkpoint{}, fmt.Errorf("checkpoint file version %d is not 1 or 2", f.Version)
	}
	out := map[string]checkpoint{}
	for k, c := range f.Sources {
		if c.Offset < 0 || c.FPLen < 0 || c.FPLen > fingerprintLen || c.Epoch < 0 || c.FPAt < 0 || c.FPAt > c.Offset || c.Seen < 0 {
			return map[string]checkpoint{}, fmt.Errorf("corrupt checkpoint for %s", k)
		}
		if p, ok := cutSource(k); ok && f.Version == 1 {
			// Version 1: one checkpoint per path, of the generation
			// then at it; it goes on as that generation of the source.
			c.Source, c.Path = k, p
		}
		if c.Source != "" {
			if _, ok := cutSource(c.Source); !ok || c.Gen == "" {
				return map[string]checkpoint{}, fmt.Errorf("corrupt checkpoint for %s", k)
			}
			if c.Path == "" {
				c.Path, _ = cutSource(c.Source)
			}
			k = c.Source + "|" + c.Gen
		}
		out[k] = c
	}
	return out, nil
}

// writeCheckpoints replaces the file atomically: temp file, fsync,
// rename, fsync of the folder.
func writeCheckpoints(path string, cps map[string]checkpoint) error {
	b, err := json.Marshal(checkpointFile{Version: checkpointVersion, Sources: cps})
	if err != nil {
		return fmt.Errorf("encode checkpoints: %w", err)
	}
	return writeCheckpointBytes(path, b)
}

func writeCheckpointBytes(path string, b []byte) error {
	return writeCheckpointFunc(path, func(w *bufio.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// writeCheckpointFunc replaces the file with what write writes.
func writeCheckpointFunc(path string, write func(*bufio.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".checkpoints-*")
	if err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 8<<10)
	if err := write(w); err == nil {
		err = w.Flush()
	}
	if err != nil {
		tmp.Close()
		return fmt.Errorf("write checkpoints: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write checkpoints: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	return nil
}

// appendCheckpointFile writes the checkpoint file as writeCheckpoints
// does (parseCheckpoints reads either), without reflection and one
// checkpoint at a time through b: the long-running collector writes it
// every second.
func appendCheckpointFile(w *bufio.Writer, b []byte, cps map[string]checkpoint) error {
	b = append(b[:0], `{"version":`...)
	b = strconv.AppendInt(b, checkpointVersion, 10)
	b = append(b, `,"sources":{`...)
	first := true
	for k, c := range cps {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonstr.Append(b, k)
		b = append(b, ':', '{')
		for _, f := range [...]struct{ k, v string }{{"source", c.Source}, {"path", c.Path}, {"fp", c.FP}, {"cursor", c.Cursor}} {
			if f.v != "" {
				b = append(b, '"')
				b = append(b, f.k...)
				b = append(b, '"', ':')
				b = jsonstr.Append(b, f.v)
				b = append(b, ',')
			}
		}
		b = append(b, `"gen":`...)
		b = jsonstr.Append(b, c.Gen)
		for _, f := range [...]struct {
			k string
			v int64
		}{{"offset", c.Offset}, {"fp_len", int64(c.FPLen)}, {"fp_at", c.FPAt}, {"seen", c.Seen}, {"epoch", int64(c.Epoch)}} {
			b = append(b, ',', '"')
			b = append(b, f.k...)
			b = append(b, '"', ':')
			b = strconv.AppendInt(b, f.v, 10)
		}
		b = append(b, `,"dev":`...)
		b = strconv.AppendUint(b, c.Dev, 10)
		b = append(b, `,"ino":`...)
		b = strconv.AppendUint(b, c.Ino, 10)
		b = append(b, '}')
		if _, err := w.Write(b); err != nil {
			return err
		}
		b = b[:0]
	}
	b = append(b, "}}\n"...)
	_, err := w.Write(b)
	return err
}
