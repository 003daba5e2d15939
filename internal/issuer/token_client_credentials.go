package issuer

import (
	"context"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// ClientCredentialsExchange issues a MachineToMachine application an access
// token for one of its APIs: standard flow, no session, so exactly the
// API's effective tokenLifetime. The grant touches no storage.
func (s *Server) ClientCredentialsExchange(_ context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	cl := s.cfg.Load().clients[r.Client.GetID()]
	if cl == nil {
		return nil, oidc.ErrInvalidClient()
	}
	resp, err := s.clientCredentials(cl, r.Form, r.Data.Scope)
	if err != nil {
		return nil, err
	}
	return tokenResponse(resp), nil
}

// clientCredentials is the grant itself, shared with the fast path.
func (s *Server) clientCredentials(cl *client, form url.Values, requested []string) (*oidc.AccessTokenResponse, error) {
	c := s.cfg.Load()
	if cl.spec.Type != v1alpha1.MachineToMachine {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("client_credentials is for MachineToMachine applications")
	}
	api, err := resolveTarget(cl, form)
	if err != nil {
		return nil, err
	}
	if api == nil {
		if len(cl.apis) != 1 {
			return nil, oidc.ErrInvalidTarget().WithDescription("audience is required: this application may call several APIs")
		}
		api = &cl.apis[0]
	}
	scopes, err := resolveScopes(requested, api, false)
	if err != nil {
		return nil, err
	}
	if len(requested) == 0 {
		scopes = api.scopes
	}
	g := &grant{grantType: "client_credentials", client: cl, api: api, scopes: scopes, subject: cl.id}
	now := s.clock.Now()
	tok, exp, err := c.mintAccess(g, now)
	if err != nil {
		return nil, err
	}
	s.countToken(g, "access_token")
	return &oidc.AccessTokenResponse{
		AccessToken: tok,
		TokenType:   oidc.BearerToken,
		ExpiresIn:   expiresIn(now, exp),
		Scope:       scopes,
	}, nil
}
