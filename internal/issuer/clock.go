package issuer

import "time"

// Clock tells the time. Every deadline the issuer checks and every iat/exp it
// writes comes from one Clock, so tests drive hours of session life with a
// fake one and no sleeping.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
