package vlogs

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fastjson"
	"github.com/watchpost/watchpost/store"
)

// Confirmation: acknowledged lines are counted in VictoriaLogs after they
// settled, and the durable cursor moves past them only then.

// seqFilter selects the lines with seq in (from, to] and, when given,
// event times in [minT, maxT], which lets VictoriaLogs skip other days.
func seqFilter(from, to int64, minT, maxT time.Time) string {
	f := fmt.Sprintf(`%s:range(%d, %d]`, fieldSeq, from, to)
	if !minT.IsZero() {
		f = fmt.Sprintf("_time:[%s, %s] %s", logsqlTime(minT), logsqlTime(maxT), f)
	}
	return f
}

// presentSeqs asks VictoriaLogs which seqs in (from, to] it holds.
func (s *Shipper) presentSeqs(ctx context.Context, from, to int64, minT, maxT time.Time) (map[int64]bool, error) {
	out := map[int64]bool{}
	err := s.o.Client.Query(ctx, seqFilter(from, to, minT, maxT)+" | uniq by ("+fieldSeq+")", 0, func(v *fastjson.Value) error {
		n, err := strconv.ParseInt(string(v.GetStringBytes(fieldSeq)), 10, 64)
		if err == nil {
			out[n] = true
		}
		return nil
	})
	return out, err
}

// countSeqs counts the rows with seq in (from, to] and their distinct seqs.
func (s *Shipper) countSeqs(ctx context.Context, from, to int64, minT, maxT time.Time) (rows, distinct int64, err error) {
	err = s.o.Client.Query(ctx, seqFilter(from, to, minT, maxT)+" | stats count() rows, count_uniq("+fieldSeq+") distinct", 0, func(v *fastjson.Value) error {
		rows, _ = strconv.ParseInt(string(v.GetStringBytes("rows")), 10, 64)
		distinct, _ = strconv.ParseInt(string(v.GetStringBytes("distinct")), 10, 64)
		return nil
	})
	return rows, distinct, err
}

// maxCheck bounds the lines one reconcile counts in VictoriaLogs.
const maxCheck = 200_000

// reconcile checks the acknowledged spans that have settled (all of them
// with force, after waiting for the newest to settle): when VictoriaLogs
// holds every line of them the durable cursor moves past them; lines it
// lacks are sent again.
func (s *Shipper) reconcile(ctx context.Context, force bool) error {
	if len(s.pending) == 0 {
		return nil
	}
	now := s.o.Now()
	// At most maxCheck lines are counted at once: after a long outage
	// a count over millions of lines would outlast VictoriaLogs' query
	// deadline.
	k, lines := 0, int64(0)
	for k < len(s.pending) && (k == 0 || lines+s.pending[k].n <= maxCheck) {
		if s.pending[k].at.Add(s.o.Settle).After(now) {
			if !force {
				break
			}
			if err := sleep(ctx, s.pending[k].at.Add(s.o.Settle).Sub(now)); err != nil {
				return err
			}
			now = s.o.Now()
		}
		lines += s.pending[k].n
		k++
	}
	if k == 0 {
		return nil
	}
	due := s.pending[:k]
	from, to := due[0].from, due[k-1].to
	var want int64
	var minT, maxT time.Time
	for _, sp := range due {
		want += sp.n
		if sp.n == 0 {
			continue
		}
		if minT.IsZero() || sp.minT.Before(minT) {
			minT = sp.minT
		}
		if sp.maxT.After(maxT) {
			maxT = sp.maxT
		}
	}
	if want == 0 {
		s.pending = s.pending[k:]
		return s.commit(ctx, to)
	}
	rows, distinct, err := s.countSeqs(ctx, from, to, minT, maxT)
	if err != nil {
		// VictoriaLogs is down: check again later.
		s.o.Logger.Warn("victorialogs: cannot confirm shipped lines; will check again", "err", err)
		for i := range due {
			due[i].at = now
		}
		return nil
	}
	if rows > distinct {
		s.mDup.Add(int(rows - distinct))
		s.o.Logger.Warn("victorialogs holds some lines twice", "lines", rows-distinct, "from_seq", from+1, "to_seq", to)
	}
	if distinct >= want {
		s.pending = s.pending[k:]
		return s.commit(ctx, to)
	}
	// Some lines are missing: VictoriaLogs lost what it had acknowledged
	// (killed before it wrote them) or dropped them (outside its retention).
	present, err := s.presentSeqs(ctx, from, to, minT, maxT)
	if err != nil {
		for i := range due {
			due[i].at = now
		}
		return nil
	}
	var missing []store.Record
	var gaveUp int64
	for after := from; after < to; {
		recs, through, err := s.o.Store.ReadAfterKind(ctx, after, int(min(to-after, 65536)), store.KindLog)
		if err != nil {
			return err
		}
		for i := range recs {
			seq := recs[i].Seq
			if present[seq] {
				continue
			}
			if s.resends[seq]++; s.resends[seq] > s.o.MaxResends {
				delete(s.resends, seq)
				gaveUp++
				continue
			}
			missing = append(missing, recs[i])
		}
		after = through
	}
	s.o.Logger.Warn("victorialogs lacks lines it acknowledged; sending them again", "missing", len(missing), "given_up", gaveUp, "from_seq", from+1, "to_seq", to)
	if gaveUp > 0 {
		s.lost(ctx, gaveUp, fmt.Sprintf("VictoriaLogs did not keep %d line(s) after %d sends (outside its retention, or rejected)", gaveUp, s.o.MaxResends))
	}
	for len(missing) > 0 {
		n := min(len(missing), s.o.BatchLines)
		if err := s.send(ctx, missing[:n], true); err != nil {
			return err
		}
		missing = missing[n:]
	}
	merged := span{from: from, to: to, n: want - gaveUp, minT: minT, maxT: maxT, at: s.o.Now()}
	s.pending = append([]span{merged}, s.pending[k:]...)
	if merged.n == 0 {
		s.pending = s.pending[1:]
		return s.commit(ctx, to)
	}
	return nil
}

// commit moves the durable cursor.
func (s *Shipper) commit(ctx context.Context, seq int64) error {
	if seq <= s.cursor {
		return nil
	}
	tx, err := s.o.Store.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("victorialogs cursor: %w", err)
	}
	if err := store.SetCursorTx(ctx, tx, CursorName, seq, s.o.Now()); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("victorialogs cursor: %w", err)
	}
	s.cursor = seq
	s.confirmed.Store(seq)
	return nil
}
