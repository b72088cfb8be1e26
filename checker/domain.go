package checker

import "errors"

// domainProbe is a domain check's registrable domain.
type domainProbe struct {
	name string
}

// errInconclusive marks a probe that could not tell: the check is
// unknown, not down.
var errInconclusive = errors.New("inconclusive")

type inconclusive struct{ err error }

func (e *inconclusive) Error() string { return e.err.Error() }
func (e *inconclusive) Unwrap() []error {
	return []error{e.err, errInconclusive}
}
