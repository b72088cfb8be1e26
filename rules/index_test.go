package rules

import (
	"math/rand/v2"
	"testing"
)

// TestIndexFindsEveryMatch checks the gram index against trying every
// context: a context whose regex matches a line is always offered it.
func TestIndexFindsEveryMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alpha := "ab.1 "
	rnd := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return string(b)
	}
	x := newCtxIndex()
	var all []*lcontext
	for i := 0; i < 400; i++ {
		src := quoteERE(rnd(1 + rng.IntN(12)))
		if i%5 == 0 {
			src = src + "[ab]+" + quoteERE(rnd(rng.IntN(9)))
		}
		re, err := compileERE(src)
		if err != nil {
			t.Fatal(err)
		}
		c := &lcontext{re: re, name: src}
		x.add(c)
		all = append(all, c)
		if i%7 == 0 { // churn
			x.remove(all[len(all)/2])
			all = append(all[:len(all)/2], all[len(all)/2+1:]...)
		}
	}
	for n := 0; n < 3000; n++ {
		line := rnd(rng.IntN(40))
		offered := map[*lcontext]bool{}
		x.candidates(line, func(c *lcontext) { offered[c] = true })
		for _, c := range all {
			if c.re.matchString(line) && !offered[c] {
				t.Fatalf("context %q matches %q but was not offered", c.name, line)
			}
		}
	}
}
