package checker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// soaSerial is the serial of the SOA record for zone in a reply's answer.
func soaSerial(in *dns.Msg, zone string) (uint32, bool) {
	for _, rr := range in.Answer {
		if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, zone) {
			return soa.Serial, true
		}
	}
	return 0, false
}

// compareSerials asks every other nameserver for the zone's SOA and fails
// unless all serve the target's serial: a secondary that stopped
// transferring keeps answering, with last month's data. It reports
// soa_serial (the target's), soa_serials ("server serial" for each) and
// serials_agree.
func (p *Probe) compareSerials(ctx context.Context, first *dns.Msg, v map[string]any) error {
	want, ok := soaSerial(first, p.qname)
	if !ok {
		v["serials_agree"] = false
		return fmt.Errorf("no SOA for %s at %s (rcode %v)", p.qname, p.addr, v["rcode"])
	}
	v["soa_serial"] = int64(want)
	type answer struct {
		serial uint32
		err    error
	}
	answers := make([]answer, len(p.nameservers))
	var wg sync.WaitGroup
	for i, ns := range p.nameservers {
		wg.Go(func() {
			m := new(dns.Msg)
			m.SetQuestion(p.qname, dns.TypeSOA)
			m.SetEdns0(ednsSize, false)
			// The transport and certificate values are the target's.
			in, err := p.exchange(ctx, ns, m, map[string]any{})
			if err != nil {
				answers[i].err = err
				return
			}
			s, ok := soaSerial(in, p.qname)
			if !ok {
				rc := dns.RcodeToString[in.Rcode]
				if rc == "" {
					rc = "RCODE" + strconv.Itoa(in.Rcode)
				}
				answers[i].err = fmt.Errorf("no SOA (rcode %s)", rc)
				return
			}
			answers[i].serial = s
		})
	}
	wg.Wait()
	list := []string{p.addr + " " + strconv.FormatUint(uint64(want), 10)}
	var bad []string
	for i, a := range answers {
		ns := p.nameservers[i].addr
		if a.err != nil {
			list = append(list, ns+" error")
			bad = append(bad, fmt.Sprintf("%s: %v", ns, a.err))
			continue
		}
		list = append(list, ns+" "+strconv.FormatUint(uint64(a.serial), 10))
		if a.serial != want {
			bad = append(bad, fmt.Sprintf("%s serves %d", ns, a.serial))
		}
	}
	v["soa_serials"] = list
	v["serials_agree"] = len(bad) == 0
	if len(bad) > 0 {
		return fmt.Errorf("SOA serials of %s disagree with %s's %d: %s", p.qname, p.addr, want, strings.Join(bad, "; "))
	}
	return nil
}
