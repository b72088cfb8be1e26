package console

import (
	"net/http"
	"time"

	"github.com/watchpost/watchpost/vantage"
)

// Vantages is what the console shows of probing from several places
// (package vantage's engine).
type Vantages interface {
	Check(name string) vantage.CheckView
	Vantages() []vantage.Info
}

type vantagesData struct {
	page
	Vantages []vantage.Info
	Now      time.Time
}

// vantagesPage lists the loghost and every collector that probes: when
// each was last heard from, its version and clock, its canaries, what it
// still has to send and what it had to drop.
func (c *Console) vantagesPage(w http.ResponseWriter, r *http.Request) {
	d := vantagesData{page: c.page(r, "Vantages"), Now: c.d.Now()}
	if c.d.Vantages != nil {
		d.Vantages = c.d.Vantages.Vantages()
	}
	c.render(w, http.StatusOK, "vantages", d)
}

// absDuration is |d|, for clock skews.
func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
