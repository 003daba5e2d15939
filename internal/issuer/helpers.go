package issuer

import (
	"time"

	"github.com/idtenant/idtenant/internal/lifetime"
)

// expiresIn is the token response's expires_in for a token issued at now:
// exp - iat in whole seconds, exactly as in the token.
func expiresIn(now, exp time.Time) uint64 {
	d := exp.Unix() - now.Unix()
	if d < 0 {
		return 0
	}
	return uint64(d)
}

func (s *Server) countToken(g *grant, kind string) {
	flow := "None"
	if kind == "access_token" {
		f, _ := lifetime.FlowFor(g.client.spec.Type, g.frontChannel)
		flow = string(f)
	}
	s.metrics.tokens.WithLabelValues(g.grantType, flow, kind).Inc()
}

// unix turns a JWT NumericDate back into a time.
func unix(sec int64) time.Time { return time.Unix(sec, 0) }
