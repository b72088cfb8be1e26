package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

type attack struct {
	name string
	run  func(ctx context.Context, m *monitor, p *phaseStats)
}

var attacks = []attack{
	{"slow-bodies", slowBodies},
	{"syslog-idle", syslogIdle},
	{"login-lockout", loginLockout},
	{"shared-token", sharedToken},
	{"gzip-bombs", gzipBombs},
	{"hanging-webhook", hangingWebhook},
	{"websockets", websockets},
	{"disk-full", diskFull},
}

// runAttack is the child process of one attack: it runs the attack for
// the phase and prints its notes, one a line.
func runAttack(ctx context.Context, o options) int {
	for _, a := range attacks {
		if a.name == o.attack {
			m := &monitor{o: o, cur: &phaseStats{}}
			p := &phaseStats{name: a.name}
			actx, cancel := context.WithTimeout(ctx, o.phase)
			defer cancel()
			a.run(actx, m, p)
			for _, n := range p.notes {
				fmt.Println(n)
			}
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "no attack", o.attack)
	return 2
}

// attackProcess runs one attack in a child process at the lowest CPU
// priority: on loopback the attacker shares the loghost's CPUs, and a
// real one would not; the measurements stay in this process.
func attackProcess(ctx context.Context, name string, p *phaseStats) {
	self, err := os.Executable()
	if err != nil {
		p.note("attack process: %v", err)
		return
	}
	args := append([]string{"-n", "19", self}, os.Args[1:]...)
	args = append(args, "-attack", name)
	cmd := exec.CommandContext(ctx, "nice", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			p.notes = append(p.notes, l)
		}
	}
	if err != nil && ctx.Err() == nil {
		p.note("attack process: %v", err)
	}
}

func run(ctx context.Context, o options) error {
	m := &monitor{o: o, cur: &phaseStats{name: "warm-up"}}
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){m.writer, m.healthz, m.status, m.rss, m.grepLoop} {
		wg.Add(1)
		go func() { defer wg.Done(); f(bg) }()
	}
	if o.hookAddr != "" {
		stopHook := hangingHook(o.hookAddr)
		defer stopHook()
	}
	idle := func(ctx context.Context, m *monitor, p *phaseStats) { <-ctx.Done() }
	all := append(append([]attack{{"baseline", idle}}, attacks...), attack{"recovery", idle})
	time.Sleep(5 * time.Second) // warm-up: the collector finds its file
	var phases []*phaseStats
	for _, a := range all {
		if o.only != "" && a.name != "baseline" && a.name != "recovery" && !strings.Contains(","+o.only+",", ","+a.name+",") {
			continue
		}
		if a.name == "disk-full" && o.filler == "" {
			continue
		}
		p := &phaseStats{name: a.name}
		before, err := m.stored()
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.cur = p
		m.mu.Unlock()
		fmt.Fprintf(os.Stderr, "== %s\n", a.name)
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, o.phase)
		if a.name == "baseline" || a.name == "recovery" {
			a.run(actx, m, p)
		} else {
			// The child gets a little longer than the phase, for what it
			// checks after its attack (the hanging webhook's emails, the
			// memory after the bombs, the disk's recovery).
			cctx, ccancel := context.WithTimeout(ctx, o.phase+time.Minute)
			attackProcess(cctx, a.name, p)
			ccancel()
		}
		<-actx.Done()
		cancel()
		after, err := m.stored()
		if err != nil {
			return err
		}
		p.seconds = time.Since(start).Seconds()
		p.ingestRate = float64(after-before) / p.seconds
		phases = append(phases, p)
		// Give the loghost a breath between attacks: what an attack left
		// behind (connections closing, memory) shows in the next phase.
		time.Sleep(3 * time.Second)
	}
	m.mu.Lock()
	m.cur = &phaseStats{name: "drain"}
	m.mu.Unlock()
	written := m.written.Load()
	stopWriter(m, &wg, stopBG)
	written = m.written.Load()
	// Everything the collector was given must be stored: it retries what
	// was refused (503 while the disk was full) from its spool.
	deadline := time.Now().Add(3 * time.Minute)
	var got int64
	for time.Now().Before(deadline) {
		if got, _ = m.stored(); got >= written {
			break
		}
		time.Sleep(time.Second)
	}
	missing, dup := verifyStored(o, written)
	report(o, phases, m, written, got, missing, dup)
	return nil
}

func stopWriter(m *monitor, wg *sync.WaitGroup, stop context.CancelFunc) {
	stop()
	wg.Wait()
}

// verifyStored reads every benchseq line back with grep -data and
// counts the sequence numbers that are missing or stored twice.
func verifyStored(o options, written int64) (missing, dup int64) {
	cmd := exec.Command(o.bin, "grep", "-data", o.data, "host=bench", "benchseq")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return written, 0
	}
	cmd.Start()
	seen := make([]uint8, written)
	re := regexp.MustCompile(`benchseq=(\d+)`)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if mm := re.FindSubmatch(sc.Bytes()); mm != nil {
			var n int64
			fmt.Sscan(string(mm[1]), &n)
			if n < written {
				if seen[n] > 0 {
					dup++
				}
				seen[n]++
			}
		}
	}
	cmd.Wait()
	for _, s := range seen {
		if s == 0 {
			missing++
		}
	}
	return missing, dup
}

func report(o options, phases []*phaseStats, m *monitor, written, stored, missing, dup int64) {
	base := 0.0
	for _, p := range phases {
		if p.name == "baseline" {
			base = p.ingestRate
		}
	}
	fmt.Printf("\n| phase | ingest lines/s | vs baseline | /healthz p50 / p99 / max ms | /healthz failed | status page ok / failed | loghost RSS max MB | what the attack met |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|\n")
	for _, p := range phases {
		fmt.Printf("| %s | %.0f | %+.0f %% | %s / %s / %s | %d of %d | %d / %d | %.0f | %s |\n", p.name, p.ingestRate, 100*(p.ingestRate-base)/max(base, 1),
			ms(pct(p.healthz, 0.5)), ms(pct(p.healthz, 0.99)), ms(pct(p.healthz, 1)), p.healthzFail, len(p.healthz),
			p.statusOK, p.statusBad, float64(p.rssMax)/1024, strings.Join(p.notes, "; "))
	}
	fmt.Printf("\nlines given to the collector: %d; stored (ingest counter): %d; read back by grep: missing %d, twice %d\n", written, stored, missing, dup)
	if e, ok := m.grepErr.Load().(string); ok {
		fmt.Printf("grep -data runs: %d, failed: %d (last: %s)\n", m.greps.Load(), m.grepFails.Load(), e)
	} else {
		fmt.Printf("grep -data runs: %d, failed: %d\n", m.greps.Load(), m.grepFails.Load())
	}
	fmt.Printf("loghost RSS at the end: %.0f MB\n", float64(rssKB(o.pid))/1024)
}

// hold keeps n connections from each of the addresses open with what
// send writes first, then drip every 5 s, reconnecting what the loghost
// closes, until ctx ends. It reports how many were open at best, and how
// many connections the loghost closed or refused.
func hold(ctx context.Context, addrs []string, n int, target string, send func(net.Conn) error, drip []byte) (open, peak, closed int64) {
	var cur, maxOpen, ends atomic.Int64
	var wg sync.WaitGroup
	for _, a := range addrs {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := from(a)
				for ctx.Err() == nil {
					c, err := d.DialContext(ctx, "tcp", target)
					if err != nil {
						ends.Add(1)
						sleepCtx(ctx, time.Second)
						continue
					}
					if send(c) == nil {
						now := cur.Add(1)
						for old := maxOpen.Load(); now > old && !maxOpen.CompareAndSwap(old, now); old = maxOpen.Load() {
						}
						done := make(chan struct{})
						go func() { io.Copy(io.Discard, c); close(done) }()
					loop:
						for {
							select {
							case <-ctx.Done():
								break loop
							case <-done:
								ends.Add(1)
								break loop
							case <-time.After(5 * time.Second):
								if drip != nil {
									c.Write(drip)
								}
							}
						}
						cur.Add(-1)
					}
					c.Close()
					// As a slowloris tool does: a closed connection is
					// opened again after a while.
					sleepCtx(ctx, 5*time.Second)
				}
			}()
		}
	}
	wg.Wait()
	return cur.Load(), maxOpen.Load(), ends.Load()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func addrs(prefix string, from, n int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf("%s.%d", prefix, i))
	}
	return out
}

// slowBodies: 2 × 10,000 login posts promising 100 kB and sending a
// byte every 5 s, from two addresses, and 4,000 more from 100 others (to
// pass the total bound too).
func slowBodies(ctx context.Context, m *monitor, p *phaseStats) {
	target := strings.TrimPrefix(m.o.base, "http://")
	send := func(c net.Conn) error {
		_, err := fmt.Fprintf(c, "POST /admin/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nu")
		return err
	}
	var wg sync.WaitGroup
	var peakA, closedA, peakB, closedB int64
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, peakA, closedA = hold(ctx, []string{"127.0.1.1", "127.0.1.2"}, 10000, target, send, []byte("x"))
	}()
	go func() {
		defer wg.Done()
		_, peakB, closedB = hold(ctx, addrs("127.0.2", 1, 100), 40, target, send, []byte("x"))
	}()
	wg.Wait()
	p.note("2 addresses × 10,000: at most %d open at once, %d closed by the loghost", peakA, closedA)
	p.note("100 addresses × 40: at most %d open, %d closed", peakB, closedB)
}

// syslogIdle: 1,100 idle TCP connections from one address and 1,100
// from 20 others, then raw TCP lines and logger -T from fresh senders.
func syslogIdle(ctx context.Context, m *monitor, p *phaseStats) {
	hctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	var peak1, peak2 int64
	nop := func(net.Conn) error { return nil }
	go func() { defer wg.Done(); _, peak1, _ = hold(hctx, []string{"127.0.3.1"}, 1100, m.o.syslog, nop, nil) }()
	go func() { defer wg.Done(); _, peak2, _ = hold(hctx, addrs("127.0.3", 10, 20), 55, m.o.syslog, nop, nil) }()
	time.Sleep(m.o.phase / 2)
	tag := fmt.Sprintf("benchsyslog%d", time.Now().UnixNano())
	sent := 0
	for i := range 20 {
		c, err := from(fmt.Sprintf("127.0.4.%d", i+1)).Dial("tcp", m.o.syslog)
		if err != nil {
			continue
		}
		fmt.Fprintf(c, "<13>Dec  7 10:00:00 syslogbench app: %s line %d\n", tag, i)
		c.Close()
		sent++
	}
	if path, err := exec.LookPath("logger"); err == nil {
		host, port, _ := net.SplitHostPort(m.o.syslog)
		if exec.Command(path, "--rfc5424", "--octet-count", "-T", "-n", host, "-P", port, "-t", "app", tag+" from logger").Run() == nil {
			sent++
		}
	}
	<-ctx.Done()
	cancel()
	wg.Wait()
	time.Sleep(2 * time.Second)
	out, _ := exec.Command(m.o.bin, "grep", "-data", m.o.data, tag).Output()
	got := strings.Count(string(out), tag)
	p.note("idle connections held at best: %d from one address, %d from 20; new senders' lines stored: %d of %d", peak1, peak2, got, sent)
	p.note("loghost incident: %s", incidentTitle(m, "syslog"))
}

func incidentTitle(m *monitor, word string) string {
	req, _ := http.NewRequest("GET", m.o.base+"/api/v1/incidents", nil)
	req.Header.Set("Authorization", "Bearer "+m.o.admin)
	resp, err := clientFrom("127.0.0.4", 10*time.Second).Do(req)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?i)"title":"([^"]*` + word + `[^"]*)"`)
	if mm := re.FindSubmatch(b); mm != nil {
		return string(mm[1])
	}
	return "none"
}

// loginLockout: five wrong passwords for alice from one address, then
// the right one from another; meanwhile a brute force from one address.
func loginLockout(ctx context.Context, m *monitor, p *phaseStats) {
	try := func(c *http.Client, user, pw string) int {
		resp, err := c.Get(m.o.base + "/admin/login")
		if err != nil {
			return 0
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
		if csrf == nil {
			return resp.StatusCode
		}
		form := url.Values{"user": {user}, "password": {pw}, "csrf": {string(csrf[1])}}
		req, _ := http.NewRequest("POST", m.o.base+"/admin/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, ck := range resp.Cookies() {
			req.AddCookie(ck)
		}
		r2, err := c.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, r2.Body)
		r2.Body.Close()
		return r2.StatusCode
	}
	attacker := clientFrom("127.0.5.1", 30*time.Second)
	for range 5 {
		try(attacker, "alice", "wrong")
	}
	got := try(clientFrom("127.0.5.2", 30*time.Second), "alice", "bench-alice-password")
	p.note("after 5 failures elsewhere, alice's right password: %d (303 = signed in)", got)
	codes := map[int]int{}
	for ctx.Err() == nil {
		codes[try(attacker, "alice", "guess")]++
	}
	p.note("brute force from one address: %v", codes)
}

// sharedToken: the shared collector token claiming a host with its own
// token, and the loghost's own name.
func sharedToken(ctx context.Context, m *monitor, p *phaseStats) {
	c := clientFrom("127.0.6.1", 10*time.Second)
	codes := map[string]map[int]int{}
	for ctx.Err() == nil {
		for _, host := range []string{"bench", m.o.loghostName, "intruder"} {
			req, _ := http.NewRequest("POST", m.o.base+"/api/v1/ingest", strings.NewReader(`{"line":"forged benchforged"}`+"\n"))
			req.Header.Set("Authorization", "Bearer "+m.o.shared)
			req.Header.Set("X-Watchpost-Host", host)
			resp, err := c.Do(req)
			code := 0
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			if codes[host] == nil {
				codes[host] = map[int]int{}
			}
			codes[host][code]++
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	p.note("as a host with its own token: %v; as the loghost: %v; a new name: %v", codes["bench"], codes[m.o.loghostName], codes["intruder"])
}

// gzipBombs: 16 senders at once, each a 4 MB gzip of zeros, again and
// again, with a valid token.
func gzipBombs(ctx context.Context, m *monitor, p *phaseStats) {
	// One gzip member of 64 MiB of zeros, repeated: gzip streams may be
	// concatenated, so 4 MB of it is 4 GiB of zeros.
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 64 {
		zw.Write(zeros)
	}
	zw.Close()
	member := z.Bytes()
	var bomb []byte
	for len(bomb) < 4<<20 {
		bomb = append(bomb, member...)
	}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientFrom(fmt.Sprintf("127.0.7.%d", i+1), 60*time.Second)
			for ctx.Err() == nil {
				req, _ := http.NewRequest("POST", m.o.base+"/api/v1/ingest", bytes.NewReader(bomb))
				req.Header.Set("Authorization", "Bearer "+m.o.hostToken)
				req.Header.Set("Content-Encoding", "gzip")
				resp, err := c.Do(req)
				code := 0
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	p.note("%d MB gzip of zeros × 16 senders: answers %v", len(bomb)>>20, codes)
	time.Sleep(10 * time.Second)
	p.note("RSS 10 s after the bombs: %.0f MB", float64(rssKB(m.o.pid))/1024)
}

// hangingHook serves the webhook that never answers until the run ends.
func hangingHook(addr string) func() {
	stop := make(chan struct{})
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	})}
	go srv.ListenAndServe()
	return func() { close(stop); srv.Close() }
}

// hangingWebhook: a heartbeat fails and recovers every 10 s; each change
// goes to the hanging webhook and by email to smtp-sink. What counts is
// how long each email takes.
func hangingWebhook(ctx context.Context, m *monitor, p *phaseStats) {
	if m.o.pingID == "" || m.o.smtpDir == "" {
		p.note("skipped: no heartbeat or smtp-sink")
		<-ctx.Done()
		return
	}
	c := clientFrom("127.0.8.1", 10*time.Second)
	count := func() int { es, _ := os.ReadDir(m.o.smtpDir); return len(es) }
	var delays []time.Duration
	for i := 0; ctx.Err() == nil; i++ {
		path := "/ping/" + m.o.pingID + "/fail"
		if i%2 == 1 {
			path = "/ping/" + m.o.pingID
		}
		before := count()
		t0 := time.Now()
		if resp, err := c.Post(m.o.base+path, "text/plain", strings.NewReader("bench")); err == nil {
			resp.Body.Close()
		}
		for count() == before && time.Since(t0) < 9*time.Second {
			time.Sleep(20 * time.Millisecond)
		}
		if count() > before {
			delays = append(delays, time.Since(t0))
		}
		sleepCtx(ctx, 10*time.Second-time.Since(t0))
	}
	p.note("emails while the webhook hangs: %d, each within max %s ms of its state change", len(delays), ms(pct(delays, 1)))
}

// websockets: 1,100 live status websockets from one address and 1,100
// from 110 others, none answering; then a new visitor's.
func websockets(ctx context.Context, m *monitor, p *phaseStats) {
	u := "ws" + strings.TrimPrefix(m.o.base, "http") + "/api/v1/status/live"
	var open, refused atomic.Int64
	var wg sync.WaitGroup
	dial := func(ip string) {
		defer wg.Done()
		d := websocket.Dialer{NetDialContext: from(ip).DialContext, HandshakeTimeout: 10 * time.Second}
		c, _, err := d.DialContext(ctx, u, nil)
		if err != nil {
			refused.Add(1)
			return
		}
		open.Add(1)
		<-ctx.Done()
		c.Close()
	}
	for _, ip := range append(addrs("127.0.9", 1, 1), addrs("127.0.10", 1, 110)...) {
		n := 10
		if ip == "127.0.9.1" {
			n = 1100
		}
		for range n {
			wg.Add(1)
			go dial(ip)
		}
	}
	time.Sleep(m.o.phase / 2)
	d := websocket.Dialer{NetDialContext: from("127.0.11.1").DialContext, HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial(u, nil)
	visitor := "refused"
	if err == nil {
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, _, err := c.ReadMessage(); err == nil {
			visitor = "connected and got the page"
		} else {
			visitor = "connected, no message: " + err.Error()
		}
		c.Close()
	} else if resp != nil {
		visitor = fmt.Sprintf("refused %d", resp.StatusCode)
	}
	<-ctx.Done()
	wg.Wait()
	p.note("2,200 silent websockets: %d connected, %d refused; the next visitor: %s", open.Load(), refused.Load(), visitor)
}

// diskFull fills the store's file system to its last few MB with a
// file, watches ingest and /healthz, then removes the file.
func diskFull(ctx context.Context, m *monitor, p *phaseStats) {
	var st syscall.Statfs_t
	dir := m.o.filler[:strings.LastIndex(m.o.filler, "/")]
	if err := syscall.Statfs(dir, &st); err != nil {
		p.note("statfs: %v", err)
		return
	}
	free := int64(st.Bavail) * st.Bsize
	f, err := os.Create(m.o.filler)
	if err == nil {
		err = syscall.Fallocate(int(f.Fd()), 0, 0, free-256<<10)
		f.Close()
	}
	if err != nil {
		p.note("fill: %v", err)
		return
	}
	c := clientFrom("127.0.12.1", 5*time.Second)
	var degradedAt, refusedAt time.Duration
	t0 := time.Now()
	for time.Since(t0) < m.o.phase*3/4 {
		if degradedAt == 0 {
			if resp, err := c.Get(m.o.base + "/healthz"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.HasPrefix(string(b), "degraded") {
					degradedAt = time.Since(t0)
				}
			}
		}
		if refusedAt == 0 {
			req, _ := http.NewRequest("POST", m.o.base+"/api/v1/ingest", strings.NewReader(`{"line":"probe benchprobe"}`+"\n"))
			req.Header.Set("Authorization", "Bearer "+m.o.hostToken)
			if resp, err := c.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "" {
					refusedAt = time.Since(t0)
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	seen := func(d time.Duration) string {
		if d == 0 {
			return "never"
		}
		return fmt.Sprintf("after %.1f s", d.Seconds())
	}
	p.note("disk filled: ingest 503 + Retry-After %s, /healthz degraded %s; incident: %s",
		seen(refusedAt), seen(degradedAt), incidentTitle(m, "disk"))
	os.Remove(m.o.filler)
	t1 := time.Now()
	for ctx.Err() == nil {
		if resp, err := c.Get(m.o.base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				p.note("space freed: /healthz ok again after %.1f s", time.Since(t1).Seconds())
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}
