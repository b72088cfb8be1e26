//go:build testclock

package clock

import (
	"fmt"
	"os"
	"time"
)

// Env names the variable a testclock build reads: an RFC 3339 instant.
const Env = "WATCHPOST_TEST_CLOCK"

func wall(real func() time.Time) (func() time.Time, error) {
	v := os.Getenv(Env)
	if v == "" {
		return real, nil
	}
	start, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Env, err)
	}
	return offset(start, real), nil
}
