package rrd

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/watchpost/watchpost/munin"
)

type recObserver struct {
	rates   []float64
	inTx    int
	flushed int
	fail    error
}

func (o *recObserver) Observe(host string, g *munin.Graph, field string, t int64, rate float64) {
	o.rates = append(o.rates, rate)
}

func (o *recObserver) FlushTx(ctx context.Context, tx *sql.Tx) error {
	o.inTx++
	if o.fail != nil {
		return o.fail
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO component_state(name, data) VALUES('obs', x'01') ON CONFLICT(name) DO UPDATE SET data = data || x'01'`)
	return err
}

func (o *recObserver) Flushed() { o.flushed++ }

func (o *recObserver) Urgent() bool { return false }

// TestObserver: the observer sees rates (not counter values), writes in
// the flush transaction, and hears Flushed only after a commit.
func TestObserver(t *testing.T) {
	st := openStore(t)
	obs := &recObserver{}
	d, err := Open(context.Background(), st, Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	g := munin.Graph{Name: "forks", Fields: []munin.Field{{Name: "forks", Type: munin.Derive, Min: "0"}}}
	for i, v := range []float64{1000, 1600, 2200} {
		d.Apply("web1", munin.Item{Type: "metric", Time: 1_800_000_000 + int64(i)*60, Graph: g, Values: []munin.Value{{Field: "forks", Value: v}}})
	}
	if len(obs.rates) != 3 || obs.rates[1] != 10 || obs.rates[2] != 10 {
		t.Fatalf("rates %v, want [NaN 10 10]", obs.rates)
	}
	obs.fail = errors.New("disk full")
	if err := d.Flush(context.Background()); err == nil || obs.flushed != 0 {
		t.Fatalf("a failing observer must fail the flush: %v, flushed %d", err, obs.flushed)
	}
	obs.fail = nil
	if err := d.Flush(context.Background()); err != nil || obs.flushed != 1 || obs.inTx != 2 {
		t.Fatalf("flush: %v, flushed %d, in tx %d", err, obs.flushed, obs.inTx)
	}
	var n int
	st.ReadDB().QueryRow(`SELECT length(data) FROM component_state WHERE name = 'obs'`).Scan(&n)
	if n != 1 {
		t.Fatalf("observer wrote %d times in committed transactions, want 1", n)
	}
}
