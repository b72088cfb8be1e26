package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/watchpost/watchpost/alerting"
	"github.com/watchpost/watchpost/collector"
	"github.com/watchpost/watchpost/logparse"
	"github.com/watchpost/watchpost/store"
	"github.com/watchpost/watchpost/syslogd"
)

func (l *loghost) startSyslog(ctx context.Context, st settings, tlsCfg *tls.Config, set *metrics.Set, addrs *Addrs) error {
	if st.syslogListen == "" && st.syslogTLS == "" {
		return nil
	}
	parseErrors := set.NewCounter("watchpost_syslog_parse_errors_total")
	clamped := set.NewCounter("watchpost_syslog_clamped_times_total")
	handler := func(ctx context.Context, msgs []syslogd.Message) {
		byHost := map[string][]store.Record{}
		for _, m := range msgs {
			m.Raw = st.redactor.Redact(m.Raw)
			ev, err := logparse.ParseSyslog(m.Raw, m.Received, time.Local)
			if err != nil {
				// Keep the line as it came: a loghost never drops what it
				// cannot parse.
				parseErrors.Inc()
				ev = logparse.NewEvent()
				ev.Message = string(m.Raw)
			}
			host := syslogd.HostOf(ev, m.Remote)
			// A zone-less time (RFC 3164) is the sender's clock: read it
			// in the zone configured for the sender, by name or network,
			// else in the loghost's own zone (never the display zone).
			if err == nil {
				if loc := l.currentConfig().SenderZone(host, remoteIP(m.Remote)); loc != time.Local {
					if ev2, err := logparse.ParseSyslog(m.Raw, m.Received, loc); err == nil {
						ev = ev2
					}
				}
			}
			rec := store.Record{Kind: store.KindLog, Received: m.Received, Event: ev, Raw: string(m.Raw), Offset: -1, Format: "syslog"}
			rec.Host = host
			if rec.ClampTime() {
				clamped.Inc()
			}
			byHost[host] = append(byHost[host], rec)
		}
		// One Append per sending host, all queued at once so the writer
		// commits them together.
		var wg sync.WaitGroup
		for host, recs := range byHost {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := l.store.Append(ctx, host, recs); err != nil {
					l.o.Logger.Error("syslog: store", "host", host, "lines", len(recs), "err", err)
				}
			}()
		}
		wg.Wait()
	}
	pressure := make(chan syslogd.Pressure, 1)
	srv := syslogd.New(syslogd.Config{MaxConnections: st.syslogMaxConns, MaxPerPeer: st.syslogPerAddr, Pressure: func(p syslogd.Pressure) {
		select {
		case pressure <- p:
		default: // the alarm below is already busy with one
		}
	}}, handler, set, l.o.Logger.With("component", "syslog"), l.o.Now)
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.syslogPressure(ctx, pressure) }()
	if st.syslogListen != "" {
		if err := srv.ListenUDP(st.syslogListen); err != nil {
			return err
		}
		if err := srv.ListenTCP(st.syslogListen, nil); err != nil {
			return err
		}
		addrs.SyslogUDP, addrs.SyslogTCP = srv.UDPAddr().String(), srv.TCPAddr().String()
	}
	if st.syslogTLS != "" {
		if tlsCfg == nil {
			return errNoTLS
		}
		if err := srv.ListenTCP(st.syslogTLS, tlsCfg); err != nil {
			return err
		}
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		if err := srv.Serve(ctx); err != nil && ctx.Err() == nil {
			l.errc <- err
		}
	}()
	return nil
}

// selfSink stores the loghost's own lines straight into the store.
type selfSink struct {
	s      *store.Store
	host   string
	loc    *time.Location
	redact *logparse.Redactor
}

func (k *selfSink) Ship(ctx context.Context, lines []collector.Line) error {
	recs := make([]store.Record, len(lines))
	for i, ln := range lines {
		ln.Text = k.redact.Redact(ln.Text)
		recs[i] = LineRecord(ln, k.loc)
		recs[i].ClampTime()
	}
	_, err := k.s.Append(ctx, k.host, recs)
	return err
}

// LineRecord turns a collected line into a store record, parsing it.
// The caller has redacted it.
func LineRecord(ln collector.Line, loc *time.Location) store.Record {
	now := time.Now()
	ev := logparse.Parse(ln.Format, ln.Text, now, loc)
	if !ln.Time.IsZero() {
		ev.Time = ln.Time
	}
	if ln.Program != "" {
		ev.Program = ln.Program
	}
	if ln.PID != "" {
		ev.PID = ln.PID
	}
	if ln.Priority >= 0 && ln.Priority <= 7 {
		ev.Severity = ln.Priority
	}
	if ln.Facility >= 0 && ln.Facility <= 23 {
		ev.Facility = ln.Facility
	}
	return store.Record{Kind: store.KindLog, Event: ev, Raw: string(ln.Text), Received: now,
		Source: ln.Source, Gen: ln.Gen, Offset: ln.Offset, File: ln.File, Format: ln.Format, Site: ln.Site}
}

func (l *loghost) startSelf(ctx context.Context, st settings, set *metrics.Set) error {
	var files []collector.FileConfig
	for _, g := range st.selfFiles {
		files = append(files, collector.FileConfig{Path: g})
	}
	r, err := collector.NewRunner(collector.Config{
		Files:    files,
		Journal:  st.selfJournal,
		StateDir: filepath.Join(st.dataDir, "self"),
	}, &selfSink{s: l.store, host: st.hostname, loc: time.Local, redact: st.redactor}, l.o.Now, set, l.o.Logger.With("component", "self"))
	if err != nil {
		return err
	}
	l.wg.Add(1)
	go func() { defer l.wg.Done(); r.Run(ctx) }()
	return nil
}

func remoteIP(a net.Addr) net.IP {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.IP
	case *net.TCPAddr:
		return a.IP
	}
	return nil
}

// syslogPressure says, at most once a minute, that the syslog listener
// closed idle connections to make room: a warning in the log and a
// source=loghost incident that resolves after 15 quiet minutes. Senders
// lost nothing, but someone holds many connections open (or needs a
// higher limit).
func (l *loghost) syslogPressure(ctx context.Context, ch <-chan syslogd.Pressure) {
	log := l.o.Logger.With("component", "syslog")
	var last time.Time
	for {
		var p syslogd.Pressure
		select {
		case <-ctx.Done():
			return
		case p = <-ch:
		}
		now := l.o.Now()
		if !last.IsZero() && now.Sub(last) < time.Minute && !now.Before(last) {
			continue
		}
		last = now
		limit := "the connection limit"
		if p.Reason == "peer" {
			limit = "the per-sender connection limit"
		}
		log.Warn("syslog listener full: closed the longest-idle connection for a new one", "limit", p.Reason,
			"new", p.New.String(), "closed", p.Closed.String(), "idle", p.Idle.Round(time.Second), "open", p.Open)
		text := fmt.Sprintf("The syslog listener reached %s (%d open) and closed the longest-idle connection, from %s (idle %s), "+
			"for a new one from %s. Senders lose nothing; check who holds so many connections open.",
			limit, p.Open, p.Closed, p.Idle.Round(time.Second), p.New)
		if err := alerting.RaiseLoghost(ctx, l.store.DB(), "syslog:connections", "warning",
			"loghost syslog listener is full", text, now, 15*time.Minute); err != nil && ctx.Err() == nil {
			log.Error("syslog listener full: incident not stored", "err", err)
		}
	}
}
