// Command hostile is the driver of bench/hostile.sh: while a collector
// ships 5,000 lines/s into a loghost and the status page is polled, it
// runs each attack of the hostile-client report against the loghost in
// turn, on loopback only, and measures what the loghost's users see:
// the ingest rate, /healthz latency, the status page, the loghost's
// memory, and that every line the collector was given is stored.
//
// Attackers connect from their own loopback addresses (127.0.1.0/24 and
// up, all this host's), so the loghost's per-address bounds see them as
// the strangers they are; the collector comes from 127.0.0.1.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	base, syslog, admin, hostToken, shared, loghostName string
	data, bin, lines, smtpDir, filler, hookAddr, pingID string
	pid                                                 int
	phase                                               time.Duration
	rate                                                int
	only, attack                                        string
}

func main() {
	var o options
	fs := flag.NewFlagSet("hostile", flag.ExitOnError)
	fs.StringVar(&o.base, "base", "", "the loghost's base URL")
	fs.StringVar(&o.syslog, "syslog", "", "the loghost's syslog TCP address")
	fs.StringVar(&o.admin, "admin", "", "admin token")
	fs.StringVar(&o.hostToken, "host-token", "", "an ingest token of the host the attacker owns")
	fs.StringVar(&o.shared, "shared", "", "the shared collector token")
	fs.StringVar(&o.loghostName, "loghost-name", "", "the loghost's own host name")
	fs.StringVar(&o.data, "data", "", "the loghost's data folder (grep -data)")
	fs.StringVar(&o.bin, "bin", "", "the watchpost binary")
	fs.StringVar(&o.lines, "lines", "", "the file the collector follows")
	fs.StringVar(&o.smtpDir, "smtp-dir", "", "where smtp-sink writes the loghost's emails")
	fs.StringVar(&o.filler, "filler", "", "a file on the store's file system to fill it with (disk-full phase)")
	fs.StringVar(&o.hookAddr, "hook", "", "address to serve the hanging webhook on")
	fs.StringVar(&o.pingID, "ping", "", "a heartbeat id whose alerts go to the webhook and email")
	fs.IntVar(&o.pid, "pid", 0, "the loghost's process id")
	fs.DurationVar(&o.phase, "phase", 20*time.Second, "how long each attack runs")
	fs.IntVar(&o.rate, "rate", 5000, "lines a second the collector is given")
	fs.StringVar(&o.only, "only", "", "run only these attacks (comma-separated)")
	fs.StringVar(&o.attack, "attack", "", "run this one attack for -phase and print what it met (the driver runs each so, niced)")
	fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	raiseFiles()
	if o.attack != "" {
		os.Exit(runAttack(ctx, o))
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
}

// raiseFiles lets this process hold the attacks' connections.
func raiseFiles() {
	var rl syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	rl.Cur, rl.Max = max(rl.Max, 200000), max(rl.Max, 200000)
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// from is a dialer whose connections come from a loopback address.
func from(ip string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
}

func clientFrom(ip string, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: from(ip).DialContext, MaxIdleConnsPerHost: 4},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// phaseStats is what one phase measured.
type phaseStats struct {
	name                string
	seconds             float64
	ingestRate          float64 // lines stored a second
	healthz             []time.Duration
	healthzFail         int
	statusOK, statusBad int
	rssMax              int64 // kB
	notes               []string
}

func (p *phaseStats) note(format string, args ...any) {
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

// monitor runs the background measurements for the whole run.
type monitor struct {
	o                options
	mu               sync.Mutex
	cur              *phaseStats
	written          atomic.Int64
	greps, grepFails atomic.Int64
	grepErr          atomic.Value
}

func (m *monitor) phase() *phaseStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// writer appends rate lines a second to the collector's file, each with
// its sequence number.
func (m *monitor) writer(ctx context.Context) {
	f, err := os.OpenFile(m.o.lines, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<16)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			w.Flush()
			return
		case <-tick.C:
		}
		due := int64(time.Since(start).Seconds() * float64(m.o.rate))
		for n := m.written.Load(); n < due; n++ {
			fmt.Fprintf(w, "Dec  7 10:00:00 app1 benchapp[42]: request benchseq=%d handled in 12ms status=200\n", n)
			m.written.Store(n + 1)
		}
		w.Flush()
	}
}

// healthz polls /healthz from its own address every 20 ms.
func (m *monitor) healthz(ctx context.Context) {
	c := clientFrom("127.0.0.2", 5*time.Second)
	for ctx.Err() == nil {
		t0 := time.Now()
		resp, err := c.Get(m.o.base + "/healthz")
		d := time.Since(t0)
		p := m.phase()
		m.mu.Lock()
		if err != nil {
			p.healthzFail++
			p.healthz = append(p.healthz, 5*time.Second)
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			p.healthz = append(p.healthz, d)
			if resp.StatusCode != 200 {
				p.healthzFail++
			}
		}
		m.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

// status polls the public page and its JSON, as visitors do.
func (m *monitor) status(ctx context.Context) {
	c := clientFrom("127.0.0.3", 10*time.Second)
	for ctx.Err() == nil {
		for _, path := range []string{"/", "/api/v1/status"} {
			resp, err := c.Get(m.o.base + path)
			ok := err == nil && resp.StatusCode == 200
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			p := m.phase()
			m.mu.Lock()
			if ok {
				p.statusOK++
			} else {
				p.statusBad++
			}
			m.mu.Unlock()
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// rss samples the loghost's resident memory.
func (m *monitor) rss(ctx context.Context) {
	for ctx.Err() == nil {
		if kb := rssKB(m.o.pid); kb > 0 {
			p := m.phase()
			m.mu.Lock()
			p.rssMax = max(p.rssMax, kb)
			m.mu.Unlock()
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// grepLoop searches the store read-only, as an on-call engineer would,
// while compaction and retention run (the search-during-compaction case).
func (m *monitor) grepLoop(ctx context.Context) {
	for ctx.Err() == nil {
		out, err := exec.CommandContext(ctx, m.o.bin, "grep", "-data", m.o.data, "-n", "20", "benchseq").CombinedOutput()
		if ctx.Err() != nil {
			return
		}
		m.greps.Add(1)
		if err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				m.grepFails.Add(1)
				m.grepErr.Store(strings.TrimSpace(string(out)))
			}
		}
		time.Sleep(time.Second)
	}
}

// stored reads the loghost's count of stored ingest lines.
func (m *monitor) stored() (int64, error) {
	req, _ := http.NewRequest("GET", m.o.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+m.o.admin)
	resp, err := clientFrom("127.0.0.4", 10*time.Second).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "watchpost_ingest_lines_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int64(f), err
		}
	}
	return 0, fmt.Errorf("no watchpost_ingest_lines_total in /metrics")
}

func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
