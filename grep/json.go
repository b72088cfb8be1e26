package grep

import (
	"encoding/json"

	"github.com/watchpost/watchpost/logapi"
)

func jsonLine(e logapi.Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
