// Command checkload is the probe target of bench/checks-vs-gatus.sh and
// bench/statuspage-wrk.sh: a loopback HTTP server (keep-alive) that answers
// 200 "ok" to every path and counts what it served, so a run can show that
// both monitors really made the probes they were measured for.
//
//	checkload -listen 127.0.0.1:0 -addr-file F   # writes host:port to F once listening
//	GET /__count                                 # requests served so far (not counted)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("checkload", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	addrFile := fs.String("addr-file", "", "write the bound host:port to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		slog.Error("listen", "err", err)
		return 1
	}
	var served atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/__count", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strconv.FormatInt(served.Load(), 10)+"\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	if *addrFile != "" {
		// Written after Listen, so a reader never sees a port nobody holds.
		tmp := *addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err != nil {
			slog.Error("write addr", "err", err)
			return 1
		}
		if err := os.Rename(tmp, *addrFile); err != nil {
			slog.Error("write addr", "err", err)
			return 1
		}
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("serve", "err", fmt.Errorf("serve: %w", err))
		return 1
	}
	return 0
}
