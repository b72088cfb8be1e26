package collector

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultStateDir is where the collector keeps its checkpoints and spool
// when nothing says otherwise: the StateDirectory of the shipped systemd
// unit (deploy/watchpost-collect.service).
const DefaultStateDir = "/var/lib/watchpost-collect"

// StateDir picks the state folder: the -state flag, the state_dir key,
// systemd's $STATE_DIRECTORY (the unit's StateDirectory=), the folder
// holding the configured spool, or DefaultStateDir.
func StateDir(flag, key, spool, env string) string {
	if env, _, _ = strings.Cut(env, ":"); !filepath.IsAbs(env) {
		env = "" // systemd gives absolute paths; anything else is not its
	}
	switch {
	case flag != "":
		return flag
	case key != "":
		return key
	case env != "":
		return env
	case spool != "":
		return filepath.Dir(filepath.Clean(spool))
	}
	return DefaultStateDir
}

// probeWritable creates dir if needed and writes, syncs and removes a
// file in it: a collector that cannot save its checkpoints would read
// every file from its start after each restart, so it refuses to start.
func probeWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString("watchpost")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return nil
}
