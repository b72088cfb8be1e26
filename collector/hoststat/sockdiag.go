package hoststat

import (
	"encoding/binary"
	"fmt"
	"syscall"
)

// Counting TCP states from /proc/net/tcp makes the kernel walk every
// bucket of the established hash, locking each, for every read: about 10
// ms per file on a host with 24 GB (262144 buckets) even with two
// sockets open. The sock_diag netlink dump (what ss(8) and node_exporter's
// tcpstat use) skips empty buckets, so the text files are only the
// fallback where netlink is refused.

const (
	netlinkSockDiag   = 4  // NETLINK_SOCK_DIAG
	sockDiagByFamily  = 20 // SOCK_DIAG_BY_FAMILY
	nlmsgError        = 2
	nlmsgDone         = 3
	nlmHdrLen         = 16
	inetDiagReqV2Len  = 56
	nlmFRequest       = 0x1
	nlmFDump          = 0x300
	tcpAllStatesBits  = 0xfff // states 0..11
	diagRecvBufferLen = 32 << 10
)

// sockDiagTCP adds the TCP sockets of family (AF_INET or AF_INET6) per
// state to s. buf is the reused receive buffer.
func sockDiagTCP(family uint8, s *tcpStates, buf []byte) error {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, netlinkSockDiag)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer syscall.Close(fd)
	var req [nlmHdrLen + inetDiagReqV2Len]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], sockDiagByFamily)
	ne.PutUint16(req[6:], nlmFRequest|nlmFDump)
	ne.PutUint32(req[8:], 1) // sequence
	req[16] = family
	req[17] = syscall.IPPROTO_TCP
	ne.PutUint32(req[20:], tcpAllStatesBits)
	// An unconnected netlink socket sends to port 0, the kernel.
	if _, err := syscall.Write(fd, req[:]); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	for {
		n, err := syscall.Read(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		if n <= 0 {
			return fmt.Errorf("netlink receive: %w", errFormat)
		}
		done, err := parseDiagMsgs(buf[:n], s)
		if err != nil || done {
			return err
		}
	}
}

// parseDiagMsgs counts the inet_diag_msg records of one netlink datagram
// by their state (the second byte of the payload) and reports whether
// the dump ended.
func parseDiagMsgs(b []byte, s *tcpStates) (done bool, err error) {
	ne := binary.NativeEndian
	for len(b) >= nlmHdrLen {
		l := int(ne.Uint32(b[0:]))
		typ := ne.Uint16(b[4:])
		if l < nlmHdrLen || l > len(b) {
			return false, errFormat
		}
		switch typ {
		case nlmsgDone:
			return true, nil
		case nlmsgError:
			if l >= nlmHdrLen+4 {
				if e := int32(ne.Uint32(b[nlmHdrLen:])); e < 0 {
					return true, fmt.Errorf("sock_diag: %w", syscall.Errno(-e))
				}
			}
			return true, nil
		case sockDiagByFamily:
			if l >= nlmHdrLen+2 {
				if st := b[nlmHdrLen+1]; int(st) < len(s) {
					s[st]++
				}
			}
		}
		l = (l + 3) &^ 3 // NLMSG_ALIGN
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	return false, nil
}
