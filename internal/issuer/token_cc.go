package issuer

import (
	"context"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// ClientCredentialsExchange issues a MachineToMachine application an access
// token for one of its APIs: standard flow, no session, so exactly the
// API's effective tokenLifetime. The grant touches no storage.
func (s *Server) ClientCredentialsExchange(_ context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	c := s.cfg.Load()
	cl := c.clients[r.Client.GetID()]
	if cl == nil || cl.spec.Type != v1alpha1.MachineToMachine {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("client_credentials is for MachineToMachine applications")
	}
	api, err := resolveTarget(cl, r.Form)
	if err != nil {
		return nil, err
	}
	if api == nil {
		if len(cl.apis) != 1 {
			return nil, oidc.ErrInvalidTarget().WithDescription("audience is required: this application may call several APIs")
		}
		api = &cl.apis[0]
	}
	scopes, err := resolveScopes(r.Data.Scope, api, false)
	if err != nil {
		return nil, err
	}
	if len(r.Data.Scope) == 0 {
		scopes = api.scopes
	}
	g := &grant{grantType: "client_credentials", client: cl, api: api, scopes: scopes, subject: cl.id}
	now := s.clock.Now()
	tok, exp, err := c.mintAccess(g, now)
	if err != nil {
		return nil, err
	}
	s.countToken(g, "access_token")
	return tokenResponse(&oidc.AccessTokenResponse{
		AccessToken: tok,
		TokenType:   oidc.BearerToken,
		ExpiresIn:   expiresIn(now, exp),
		Scope:       scopes,
	}), nil
}
