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

// countToken counts a token of kind just minted for g.
func (s *Server) countToken(g *grant, kind string) {
	flow, alg := "None", "none" // refresh tokens are opaque, not signed
	switch kind {
	case "access_token":
		f, _ := lifetime.FlowFor(g.client.spec.Type, g.frontChannel)
		flow, alg = string(f), g.accessAlg
	case "id_token":
		alg = g.idAlg
	}
	s.metrics.tokens.WithLabelValues(g.grantType, flow, kind, alg).Inc()
}

// unix turns a JWT NumericDate back into a time.
func unix(sec int64) time.Time { return time.Unix(sec, 0) }
