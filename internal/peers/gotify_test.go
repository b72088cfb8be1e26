package peers

import "testing"

func TestStartGotify(t *testing.T) {
	g := StartGotify(t)
	if g.AppToken == "" || len(g.Messages()) != 0 {
		t.Fatalf("gotify %+v", g)
	}
}
