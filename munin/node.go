package munin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Source is what a Node serves: the Runner, a Client to another node, or
// the lead's mix of built-in collectors (RenderConfig/RenderFetch turn
// Graph values into these bytes). Errors ErrTimedOut, *ExitError and
// ErrUnknownService become munin-node's "# Timed out", "# Bad exit" and
// "# Unknown service" lines.
type Source interface {
	List(ctx context.Context) ([]string, error)
	Config(ctx context.Context, name string) ([]byte, error)
	Fetch(ctx context.Context, name string) ([]byte, error)
}

// NodeOptions configures a Node.
type NodeOptions struct {
	Source         Source
	Hostname       string         // the banner's name; munin-node's host_name
	Version        string         // `version` answer; default "2.0.73", the munin-node we mimic
	Allow          []netip.Prefix // clients allowed; empty allows all (munin-node's allow/cidr_allow)
	MaxClients     int            // sessions at once; default 16, more are closed at once
	SessionTimeout time.Duration  // whole session; default 15 min (munin-node's global_timeout)
	IdleTimeout    time.Duration  // waiting for a command; default 2 min
	MaxLine        int            // longest command line; default 4096 bytes
	Refresh        time.Duration  // re-run every config to re-classify plugins; default 5 min
	Logger         *slog.Logger
}

// Node answers munin masters as munin-node 2.0.73 does
// (Munin::Node::Server): same banner, commands, answers and error lines.
type Node struct {
	o   NodeOptions
	log *slog.Logger

	mu    sync.Mutex
	state *nodeState
}

// nodeState is what munin-node learns by running every `config` at
// start: which services answer, which node (host_name) each belongs to,
// and which need the multigraph or dirtyconfig capability.
type nodeState struct {
	at                time.Time
	services          map[string]bool
	nodes             map[string][]string
	multigraph, dirty map[string]bool
}

// NewNode checks the options; Serve (or Prepare) runs the configs.
func NewNode(o NodeOptions) (*Node, error) {
	if o.Source == nil {
		return nil, errors.New("munin node: no source")
	}
	if o.Hostname == "" {
		return nil, errors.New("munin node: no hostname")
	}
	if o.Version == "" {
		o.Version = "2.0.73"
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 16
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 15 * time.Minute
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.MaxLine <= 0 {
		o.MaxLine = 4096
	}
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Node{o: o, log: o.Logger}, nil
}

var (
	multigraphLine = regexp.MustCompile(`^multigraph\s+`)
	dirtyLine      = regexp.MustCompile(`^[A-Za-z0-9_]+\.value `)
)

// Prepare runs every service's config, as munin-node does before it
// accepts connections (pre_loop_hook, _add_services_to_nodes).
func (n *Node) Prepare(ctx context.Context) error {
	names, err := n.o.Source.List(ctx)
	if err != nil {
		return fmt.Errorf("munin node: %w", err)
	}
	st := &nodeState{at: time.Now(), services: map[string]bool{}, nodes: map[string][]string{},
		multigraph: map[string]bool{}, dirty: map[string]bool{}}
	type res struct {
		lines []string
		err   error
	}
	out := make([]res, len(names))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b, err := n.o.Source.Config(ctx, name)
			out[i] = res{splitLines(b), err}
		}()
	}
	wg.Wait()
	for i, name := range names {
		lines, err := out[i].lines, out[i].err
		if errors.Is(err, ErrTimedOut) || errors.Is(err, ErrUnknownService) || len(lines) == 0 {
			n.log.Debug("munin node: dropping service", "service", name, "err", err)
			continue
		}
		st.services[name] = true
		node := n.o.Hostname
		for _, l := range lines {
			if strings.HasPrefix(l, "host_name ") {
				if f := strings.Fields(l); len(f) > 1 {
					node = f[1]
				}
				break
			}
		}
		node = strings.ToLower(node)
		st.nodes[node] = append(st.nodes[node], name)
		for _, l := range lines {
			if multigraphLine.MatchString(l) {
				st.multigraph[name] = true
			}
			if dirtyLine.MatchString(l) {
				st.dirty[name] = true
			}
		}
	}
	n.mu.Lock()
	n.state = st
	n.mu.Unlock()
	return nil
}

func (n *Node) current() *nodeState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state
}

// splitLines splits plugin output as munin-node does (split /[\r\n]+/):
// runs of line ends are one break, trailing empty fields are dropped, a
// leading one is kept.
func splitLines(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i]))
		b = b[i:]
		for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
			b = b[1:]
		}
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// Serve accepts munin masters on ln until ctx ends.
func (n *Node) Serve(ctx context.Context, ln net.Listener) error {
	if n.current() == nil {
		if err := n.Prepare(ctx); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go func() {
		t := time.NewTicker(n.o.Refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := n.Prepare(ctx); err != nil {
					n.log.Warn("munin node: refresh", "err", err)
				}
			}
		}
	}()
	slots := make(chan struct{}, n.o.MaxClients)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("munin node accept: %w", err)
		}
		if !n.allowed(c.RemoteAddr()) {
			n.log.Info("munin node: denying connection", "peer", c.RemoteAddr().String())
			c.Close()
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			n.log.Warn("munin node: too many clients", "peer", c.RemoteAddr().String())
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			n.ServeConn(ctx, c)
		}()
	}
}

func (n *Node) allowed(a net.Addr) bool {
	if len(n.o.Allow) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	for _, p := range n.o.Allow {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}

// The command patterns of Munin::Node::Server::_process_command_line,
// case-insensitive and anchored at the start only, as there.
var (
	listCmd    = regexp.MustCompile(`(?i)^list\s*([0-9a-zA-Z.\-]+)?`)
	capCmd     = regexp.MustCompile(`(?i)^cap\s?(.*)`)
	quitCmd    = regexp.MustCompile(`(?i)^quit`)
	versionCmd = regexp.MustCompile(`(?i)^version`)
	nodesCmd   = regexp.MustCompile(`(?i)^nodes`)
	fetchCmd   = regexp.MustCompile(`(?i)^fetch\s?(\S*)`)
	configCmd  = regexp.MustCompile(`(?i)^config\s?(\S*)`)
)

// ServeConn runs one master's session on c and closes it.
func (n *Node) ServeConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	st := n.current()
	if st == nil {
		if err := n.Prepare(ctx); err != nil {
			n.log.Warn("munin node", "err", err)
			return
		}
		st = n.current()
	}
	ctx, cancel := context.WithTimeout(ctx, n.o.SessionTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	peer := ""
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		peer = ap.Addr().Unmap().String()
	}
	ctx = WithMasterIP(ctx, peer)
	r := bufio.NewReaderSize(c, n.o.MaxLine)
	w := bufio.NewWriter(c)
	write := func(s string) bool {
		c.SetWriteDeadline(time.Now().Add(n.o.IdleTimeout))
		w.WriteString(s)
		return w.Flush() == nil
	}
	if !write("# munin node at " + n.o.Hostname + "\n") {
		return
	}
	caps := map[string]bool{}
	for {
		c.SetReadDeadline(time.Now().Add(n.o.IdleTimeout))
		line, err := r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				n.log.Warn("munin node: line too long", "peer", peer)
			} else if ctx.Err() != nil {
				n.log.Info("munin node: session timeout", "peer", peer)
			}
			return
		}
		cmd := strings.TrimSuffix(string(line), "\n") // chomp: a CR stays, as in Perl
		var resp string
		switch {
		case listCmd.MatchString(cmd):
			resp = n.list(st, caps, listCmd.FindStringSubmatch(cmd)[1])
		case capCmd.MatchString(cmd):
			arg := strings.TrimSuffix(capCmd.FindStringSubmatch(cmd)[1], "\r")
			for _, cp := range strings.Split(arg, " ") {
				caps[cp] = true
			}
			if caps["dirtyconfig"] {
				ctx = WithDirtyConfig(ctx)
			}
			resp = "cap multigraph dirtyconfig\n"
		case quitCmd.MatchString(cmd), strings.HasPrefix(cmd, "."):
			return
		case versionCmd.MatchString(cmd):
			resp = "munins node on " + n.o.Hostname + " version: " + n.o.Version + "\n"
		case nodesCmd.MatchString(cmd):
			var b strings.Builder
			for _, nd := range sortedNodes(st) {
				b.WriteString(nd + "\n")
			}
			resp = b.String() + ".\n"
		case fetchCmd.MatchString(cmd):
			resp = n.service(ctx, st, fetchCmd.FindStringSubmatch(cmd)[1], false)
		case configCmd.MatchString(cmd):
			resp = n.service(ctx, st, configCmd.FindStringSubmatch(cmd)[1], true)
		default:
			resp = "# Unknown command. Try cap, list, nodes, config, fetch, version or quit\n"
		}
		if !write(resp) {
			return
		}
	}
}

func sortedNodes(st *nodeState) []string {
	out := make([]string, 0, len(st.nodes))
	for k := range st.nodes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// list answers `list [node]`. munin-node hides multigraph (dirtyconfig)
// plugins from masters that did not send that capability; it sorts the
// list then, and prints its hash order otherwise: we always sort.
func (n *Node) list(st *nodeState, caps map[string]bool, node string) string {
	if node == "" {
		node = n.o.Hostname
	} else {
		node = strings.ToLower(node)
	}
	svcs, ok := st.nodes[node]
	if !ok {
		return "\n"
	}
	var keep []string
	for _, s := range svcs {
		if (st.multigraph[s] && !caps["multigraph"]) || (st.dirty[s] && !caps["dirtyconfig"]) {
			continue
		}
		keep = append(keep, s)
	}
	sort.Strings(keep)
	return strings.Join(keep, " ") + "\n"
}

// service answers `config NAME` and `fetch NAME` as _run_service and
// _print_service do.
func (n *Node) service(ctx context.Context, st *nodeState, name string, config bool) string {
	if !st.services[name] {
		return "# Unknown service\n.\n"
	}
	var out []byte
	var err error
	if config {
		out, err = n.o.Source.Config(ctx, name)
	} else {
		out, err = n.o.Source.Fetch(ctx, name)
	}
	var exit *ExitError
	switch {
	case errors.Is(err, ErrTimedOut):
		n.log.Warn("munin node: service timed out", "service", name)
		return "# Timed out\n.\n"
	case errors.Is(err, ErrUnknownService):
		return "# Unknown service\n.\n"
	case errors.As(err, &exit):
		n.log.Warn("munin node: service failed", "service", name, "err", err)
		return "# Bad exit\n.\n"
	case err != nil:
		n.log.Warn("munin node: service failed", "service", name, "err", err)
		return "# Bad exit\n.\n"
	}
	var b strings.Builder
	for _, l := range splitLines(out) {
		b.WriteString(l + "\n")
	}
	return b.String() + ".\n"
}
