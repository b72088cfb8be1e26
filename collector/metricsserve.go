package collector

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// serveMetrics answers scrapes of the collector's own metrics on ln until
// ctx ends: any GET gets them as Prometheus text. It is HTTP/1.0 with one
// request per connection, enough for Prometheus, VictoriaMetrics and
// curl; net/http's server (and its HTTP/2) would be half a megabyte of
// the agent's resident binary for this one page.
func serveMetrics(ctx context.Context, ln net.Listener, write func(io.Writer)) {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(100 * time.Millisecond) // out of descriptors: let some go
			continue
		}
		go answerScrape(c, write)
	}
}

// answerScrape reads one request head (5 s, 8 KiB at most) and answers it.
func answerScrape(c net.Conn, write func(io.Writer)) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReaderSize(io.LimitReader(c, 8<<10), 1024)
	first, err := r.ReadString('\n')
	if err != nil {
		return
	}
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if strings.TrimRight(l, "\r\n") == "" {
			break
		}
	}
	method, _, _ := strings.Cut(first, " ")
	var body bytes.Buffer
	status := "200 OK"
	switch method {
	case "GET", "HEAD":
		write(&body)
	default:
		status = "405 Method Not Allowed"
		body.WriteString("only GET\n")
	}
	fmt.Fprintf(c, "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", status, body.Len())
	if method != "HEAD" {
		c.Write(body.Bytes())
	}
}
