package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// IsCollectorFile tells a collector's file from a loghost's: in a
// collector's, `server` is the loghost's URL; in a loghost's it is a
// section.
func IsCollectorFile(data []byte) bool {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return false
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "server" {
			return m.Content[i+1].Kind == yaml.ScalarNode
		}
	}
	return false
}

// CheckMain is `watchpost config check FILE...`: it validates loghost and
// collector files and exits 0 when all are good, 1 when one is not.
//
// validate runs further checks on a loghost file that need packages config
// cannot import (probe conditions, rule files); their errors should name
// the place with Config.Pos.
func CheckMain(args []string, stdout, stderr io.Writer, validate ...func(*Config) error) int {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: watchpost config check FILE...\n\nValidates loghost and collector configuration files; errors name file:line:column and the key.")
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	rc := 0
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
			rc = 1
			continue
		}
		if IsCollectorFile(data) {
			c, err := ParseCollector(path, data)
			if err != nil {
				fmt.Fprintln(stderr, err)
				rc = 1
				continue
			}
			fmt.Fprintf(stdout, "%s: ok (collector for %s: %d files, journal %v)\n", path, c.Server, len(c.Files), c.Journal)
			continue
		}
		// Every error of the file in one run: the file's own, then each
		// validator's (conditions, rule files), even after others failed.
		c, err := ParseAll(path, data)
		errs := []error{err}
		if c != nil {
			for _, v := range validate {
				errs = append(errs, v(c))
			}
		}
		if err := errors.Join(errs...); err != nil {
			fmt.Fprintln(stderr, err)
			rc = 1
			continue
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s: ok (loghost on %s: %d hosts, %d checks, %d heartbeats, %d rule files)", path,
			c.Server.Listen, len(c.Hosts), len(c.Checks), len(c.Heartbeats), len(c.Rules))
		fmt.Fprintln(stdout, b.String())
	}
	return rc
}
