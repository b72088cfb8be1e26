package hoststat

import "github.com/watchpost/watchpost/munin"

// processState counts processes by the state letter of /proc/PID/stat, as
// munin's processes plugin counts `ps -eo s` (processes, not threads).
type processState struct {
	g      *munin.Graph
	counts [256]uint32
	total  uint32
}

// processFields follow munin's processes config order on Linux, with the
// colours it names.
var processFields = [...]struct {
	state byte
	f     munin.Field
}{
	{'X', munin.Field{Name: "dead", Label: "dead", Draw: "STACK", Colour: "ff0000", Info: "The number of dead processes."}},
	{'W', munin.Field{Name: "paging", Label: "paging", Draw: "STACK", Colour: "00aaaa", Info: "The number of paging processes (<2.6 kernels only)."}},
	{'I', munin.Field{Name: "idle", Label: "idle", Draw: "STACK", Colour: "4169e1", Info: "The number of idle kernel threads (>= 4.2 kernels only)."}},
	{'S', munin.Field{Name: "sleeping", Label: "sleeping", Draw: "AREA", Colour: "0022ff", Info: "The number of sleeping processes."}},
	{'D', munin.Field{Name: "uninterruptible", Label: "uninterruptible", Draw: "STACK", Colour: "ffa500", Info: "The number of uninterruptible processes (usually IO)."}},
	{'T', munin.Field{Name: "stopped", Label: "stopped", Draw: "STACK", Colour: "cc0000", Info: "The number of stopped or traced processes."}},
	{'R', munin.Field{Name: "runnable", Label: "runnable", Draw: "STACK", Colour: "22ff22", Info: "The number of runnable processes (on the run queue)."}},
	{'Z', munin.Field{Name: "zombie", Label: "zombie", Draw: "STACK", Colour: "990000", Info: "The number of defunct ('zombie') processes (process terminated and parent not waiting)."}},
	{0, munin.Field{Name: "processes", Label: "total", Draw: "LINE1", Colour: "c0c0c0", Info: "The total number of processes."}},
}

func processesGraph() *munin.Graph {
	g := &munin.Graph{
		Name: "processes", Title: "Processes", Info: "This graph shows the number of processes", Category: "processes",
		Args: "--base 1000 -l 0", VLabel: "Number of processes",
		Order: []string{"sleeping", "idle", "stopped", "zombie", "dead", "paging", "uninterruptible", "runnable", "processes"},
	}
	for _, p := range processFields {
		g.Fields = append(g.Fields, p.f)
	}
	return g
}

func (c *Collector) readProcesses() error {
	p := &c.procSt
	p.counts = [256]uint32{}
	p.total = 0
	c.fr.setPath(c.proc)
	err := c.fr.eachPid(func(pid []byte) {
		c.fr.setPath(c.proc, "/")
		c.fr.appendPath(pid)
		c.fr.appendPathString("/stat")
		b, err := c.fr.read()
		if err != nil {
			return // exited since the listing, or not ours to read
		}
		st, ok := parsePidState(b)
		if !ok {
			return
		}
		if st == 't' { // tracing stop: munin's info counts it as stopped
			st = 'T'
		}
		p.counts[st]++
		p.total++
	})
	if err != nil {
		return err
	}
	if p.g == nil {
		p.g = processesGraph()
	}
	c.begin(p.g)
	for _, f := range processFields {
		if f.state == 0 {
			c.val(f.f.Name, float64(p.total))
			continue
		}
		c.val(f.f.Name, float64(p.counts[f.state]))
	}
	return nil
}
