package rules

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// sshdLines makes n sshd-shaped syslog lines over the given number of
// client addresses: 30% failed passwords, 10% accepted logins, the rest
// connection noise, as an sshd under a steady brute force logs them.
func sshdLines(n, addrs int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	users := []string{"root", "admin", "alice", "bob", "oracle", "test", "ubuntu", "git"}
	out := make([]string, n)
	for i := range out {
		ip := fmt.Sprintf("10.%d.%d.%d", (i%addrs)>>16&255, (i%addrs)>>8&255, (i%addrs)&255)
		if addrs > 1000 {
			k := rng.IntN(addrs)
			ip = fmt.Sprintf("10.%d.%d.%d", k>>16&255, k>>8&255, k&255)
		}
		ts := fmt.Sprintf("Nov 22 %02d:%02d:%02d", i/3600%24, i/60%60, i%60)
		pid := 1000 + rng.IntN(30000)
		user := users[rng.IntN(len(users))]
		port := 1024 + rng.IntN(60000)
		switch r := rng.IntN(10); {
		case r < 3:
			inv := ""
			if r == 0 {
				inv = "invalid user "
			}
			out[i] = fmt.Sprintf("%s web1 sshd[%d]: Failed password for %s%s from %s port %d ssh2", ts, pid, inv, user, ip, port)
		case r == 3:
			out[i] = fmt.Sprintf("%s web1 sshd[%d]: Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:Zk3", ts, pid, user, ip, port)
		case r < 7:
			out[i] = fmt.Sprintf("%s web1 sshd[%d]: Connection closed by %s port %d [preauth]", ts, pid, ip, port)
		default:
			out[i] = fmt.Sprintf("%s web1 sshd[%d]: pam_unix(sshd:session): session closed for user %s", ts, pid, user)
		}
	}
	return out
}

const benchTwoRules = `'sshd\[[0-9]+\]: Failed password for (invalid user )?[^ ]+ from [0-9.]+ port' - - - 0 echo "failed password"
'sshd\[[0-9]+\]: Accepted (password|publickey) for ([^ ]+) from ([0-9.]+)' - - - 0 echo "login $3 from $4"
`

// BenchmarkTwoRules is 2 rules over sshd lines; ns/op is per line.
func BenchmarkTwoRules(b *testing.B) {
	lines := sshdLines(1<<16, 5000)
	e, err := New(Config{Files: []File{{Name: "bench.conf", Data: []byte(benchTwoRules)}}, Stdout: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Feed(ctx, lines[i&(len(lines)-1)], time.Time{})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkTwoRules1M is the same over 1,000,000 lines per op.
func BenchmarkTwoRules1M(b *testing.B) {
	lines := sshdLines(1_000_000, 50000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, err := New(Config{Files: []File{{Name: "bench.conf", Data: []byte(benchTwoRules)}}, Stdout: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		// As the loghost feeds it: batches off the event stream, the wall
		// clock read once a batch.
		var wall time.Time
		for j, l := range lines {
			if j%1024 == 0 {
				wall = time.Now()
			}
			e.FeedAt(ctx, l, time.Time{}, wall)
		}
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

const benchContexts = `'sshd\[[0-9]+\]: Failed password for .* from ([0-9.]+) port' - - - 0
	open "from $2 port" - 5 0 3600 echo "$lines failures from $2"
'.*' - - - 0 ignore
`

// BenchmarkContextPerAddress opens one context per failing client address
// (60,000 addresses) over 200,000 lines; one op is the whole run.
func BenchmarkContextPerAddress(b *testing.B) {
	lines := sshdLines(200_000, 60_000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, err := New(Config{Files: []File{{Name: "ctx.conf", Data: []byte(benchContexts)}}, Stdout: io.Discard})
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range lines {
			e.Feed(ctx, l, time.Time{})
		}
		if i == 0 {
			b.ReportMetric(float64(len(e.surfers[0].byName)), "open-contexts")
		}
	}
}

// BenchmarkSubmatch is the second rule's submatch on one Accepted line:
// regexp over the whole line (every group) against the span DFAs and the
// capture walker (only $3 and $4's groups).
func BenchmarkSubmatch(b *testing.B) {
	line := "Nov 22 03:04:05 web1 sshd[12345]: Accepted publickey for alice from 10.0.12.34 port 41234 ssh2: ED25519 SHA256:Zk3"
	pattern := `sshd\[[0-9]+\]: Accepted (password|publickey) for ([^ ]+) from ([0-9.]+)`
	keep := groupsUsed(`echo "login $3 from $4"`)
	b.Run("regexp", func(b *testing.B) {
		re, _ := compileERE(pattern)
		for i := 0; i < b.N; i++ {
			re.submatch(line)
		}
	})
	b.Run("span-walker", func(b *testing.B) {
		re, _ := compileERE(pattern)
		re.forSub = true
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			re.submatchFor(line, keep)
		}
	})
}
