package rules

import "time"

var timeZero time.Time
